package sfapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Replication look-back windows: how far back getUpdated and getDeleted
// can see.
const (
	UpdatedLookback = 30 * 24 * time.Hour
	DeletedLookback = 15 * 24 * time.Hour
)

// ErrWindowTooOld: a replication window starts before Salesforce's
// look-back; changes before it can no longer be listed, so the caller must
// fall back to a full read of the object.
var ErrWindowTooOld = errors.New("sfapi: replication window starts before what Salesforce keeps")

// UpdatedResult is the answer of getUpdated.
type UpdatedResult struct {
	IDs []string
	// LatestDateCovered is where the next window must start: changes of
	// transactions still running at end are not covered.
	LatestDateCovered time.Time
}

// DeletedRecord is one entry of getDeleted.
type DeletedRecord struct {
	ID          string
	DeletedDate time.Time
}

// DeletedResult is the answer of getDeleted.
type DeletedResult struct {
	Records []DeletedRecord
	// EarliestDateAvailable is the oldest delete still logged; if the last
	// sync is older, deletes were lost and a full read is needed.
	EarliestDateAvailable time.Time
	LatestDateCovered     time.Time
}

// parseSFTime parses the datetime forms Salesforce emits.
func parseSFTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z07:00", time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised datetime %q", s)
}

// replWindow validates and normalises [start, end): minute precision (the
// server ignores seconds), end no later than now, start within lookback.
func (c *Client) replWindow(object string, start, end time.Time, lookback time.Duration, what string) (time.Time, time.Time, error) {
	if err := checkName(object); err != nil {
		return start, end, err
	}
	now := c.clock.Now().UTC().Truncate(time.Minute)
	start, end = start.UTC().Truncate(time.Minute), end.UTC().Truncate(time.Minute)
	if end.After(now) {
		end = now
	}
	if start.Before(now.Add(-lookback)) {
		return start, end, fmt.Errorf("%w: %s of %s from %s, but Salesforce keeps only %d days; read the whole object instead",
			ErrWindowTooOld, what, object, start.Format(time.RFC3339), int(lookback.Hours()/24))
	}
	return start, end, nil
}

// GetUpdated lists the ids of object's records changed in [start, end)
// (by SystemModstamp). Windows whose answer would exceed 600,000 ids are
// split in halves until each fits. A window shorter than a minute returns
// no ids and LatestDateCovered = start.
func (c *Client) GetUpdated(ctx context.Context, object string, start, end time.Time) (*UpdatedResult, error) {
	start, end, err := c.replWindow(object, start, end, UpdatedLookback, "changes")
	if err != nil {
		return nil, err
	}
	res, err := c.getUpdated(ctx, object, start, end)
	if err != nil {
		return nil, fmt.Errorf("getUpdated %s: %w", object, err)
	}
	// Halves may both list a record changed twice.
	seen := make(map[string]struct{}, len(res.IDs))
	ids := res.IDs[:0]
	for _, id := range res.IDs {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	res.IDs = ids
	return res, nil
}

func (c *Client) getUpdated(ctx context.Context, object string, start, end time.Time) (*UpdatedResult, error) {
	if end.Sub(start) < time.Minute {
		return &UpdatedResult{LatestDateCovered: start}, nil
	}
	var raw struct {
		IDs    []string `json:"ids"`
		Latest string   `json:"latestDateCovered"`
	}
	err := c.getJSON(ctx, FamilyREST, c.dataPath("sobjects", object, "updated"), replQuery(start, end), &raw)
	if ErrorCode(err) == "EXCEEDED_ID_LIMIT" {
		mid, ok := splitWindow(start, end)
		if !ok {
			return nil, err
		}
		a, err := c.getUpdated(ctx, object, start, mid)
		if err != nil {
			return nil, err
		}
		b, err := c.getUpdated(ctx, object, mid, end)
		if err != nil {
			return nil, err
		}
		res := &UpdatedResult{IDs: append(a.IDs, b.IDs...), LatestDateCovered: mergeLatest(a.LatestDateCovered, mid, b.LatestDateCovered)}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res := &UpdatedResult{IDs: raw.IDs}
	if res.LatestDateCovered, err = parseSFTime(raw.Latest); err != nil {
		return nil, fmt.Errorf("latestDateCovered: %w", err)
	}
	return res, nil
}

// GetDeleted lists object's records deleted in [start, end), splitting the
// window on EXCEEDED_ID_LIMIT like GetUpdated.
func (c *Client) GetDeleted(ctx context.Context, object string, start, end time.Time) (*DeletedResult, error) {
	start, end, err := c.replWindow(object, start, end, DeletedLookback, "deletions")
	if err != nil {
		return nil, err
	}
	res, err := c.getDeleted(ctx, object, start, end)
	if err != nil {
		return nil, fmt.Errorf("getDeleted %s: %w", object, err)
	}
	return res, nil
}

func (c *Client) getDeleted(ctx context.Context, object string, start, end time.Time) (*DeletedResult, error) {
	if end.Sub(start) < time.Minute {
		return &DeletedResult{LatestDateCovered: start}, nil
	}
	var raw struct {
		Deleted []struct {
			ID   string `json:"id"`
			Date string `json:"deletedDate"`
		} `json:"deletedRecords"`
		Earliest string `json:"earliestDateAvailable"`
		Latest   string `json:"latestDateCovered"`
	}
	err := c.getJSON(ctx, FamilyREST, c.dataPath("sobjects", object, "deleted"), replQuery(start, end), &raw)
	if ErrorCode(err) == "EXCEEDED_ID_LIMIT" {
		mid, ok := splitWindow(start, end)
		if !ok {
			return nil, err
		}
		a, err := c.getDeleted(ctx, object, start, mid)
		if err != nil {
			return nil, err
		}
		b, err := c.getDeleted(ctx, object, mid, end)
		if err != nil {
			return nil, err
		}
		earliest := a.EarliestDateAvailable
		if earliest.IsZero() {
			earliest = b.EarliestDateAvailable
		}
		return &DeletedResult{Records: append(a.Records, b.Records...), EarliestDateAvailable: earliest,
			LatestDateCovered: mergeLatest(a.LatestDateCovered, mid, b.LatestDateCovered)}, nil
	}
	if err != nil {
		return nil, err
	}
	res := &DeletedResult{Records: make([]DeletedRecord, 0, len(raw.Deleted))}
	for _, d := range raw.Deleted {
		t, err := parseSFTime(d.Date)
		if err != nil {
			return nil, fmt.Errorf("deletedDate of %s: %w", d.ID, err)
		}
		res.Records = append(res.Records, DeletedRecord{ID: d.ID, DeletedDate: t})
	}
	if raw.Earliest != "" {
		if res.EarliestDateAvailable, err = parseSFTime(raw.Earliest); err != nil {
			return nil, fmt.Errorf("earliestDateAvailable: %w", err)
		}
	}
	if res.LatestDateCovered, err = parseSFTime(raw.Latest); err != nil {
		return nil, fmt.Errorf("latestDateCovered: %w", err)
	}
	return res, nil
}

func replQuery(start, end time.Time) url.Values {
	const layout = "2006-01-02T15:04:05Z"
	return url.Values{"start": {start.Format(layout)}, "end": {end.Format(layout)}}
}

// splitWindow halves [start, end) on a minute boundary; false when the
// window cannot be split into two windows of at least a minute.
func splitWindow(start, end time.Time) (time.Time, bool) {
	mid := start.Add(end.Sub(start) / 2).Truncate(time.Minute)
	if mid.Sub(start) < time.Minute || end.Sub(mid) < time.Minute {
		return mid, false
	}
	return mid, true
}

// mergeLatest combines the watermarks of two adjacent windows: if the
// first did not reach its end (a transaction was still open), the next
// sync must start there, whatever the second covered.
func mergeLatest(first, mid, second time.Time) time.Time {
	if first.Before(mid) {
		return first
	}
	return second
}
