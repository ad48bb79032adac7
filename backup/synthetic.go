package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
)

// syntheticObject applies to the parent's tree what changed in the org
// since the parent's high-water mark:
//
//  1. when due, an Id reconciliation first (hard deletes no API reported,
//     records the tree lacks), so that what follows only adds newer facts;
//  2. queryAll of the records whose modstamp is at or past the mark minus
//     the overlap window: updates, creations, undeletes, and soft deletes
//     (IsDeleted = true); REST for a few, Bulk for many;
//  3. getDeleted over the same window: hard deletes and purges.
//
// Re-reading the overlap is harmless: an unchanged record writes nothing.
func (e *engine) syntheticObject(ctx context.Context, p *objectPlan, ost *objectState) error {
	hw := e.parent.Objects[p.name].HighWater
	mark, err := time.Parse(time.RFC3339Nano, hw)
	if err != nil {
		return fmt.Errorf("object %s: high-water mark %q: %w", p.name, hw, err)
	}
	since := mark.Add(-e.opts.Overlap).UTC().Truncate(time.Second)
	now := e.opts.Now().UTC()

	var deleted *sfapi.DeletedResult
	if p.replicateable {
		deleted, err = e.src.GetDeleted(ctx, p.name, since, now)
		if err != nil && !replicationUnavailable(err) {
			return fmt.Errorf("deleted records of %s: %w", p.name, err)
		}
	}
	prevSt := e.parentSt.Objects[p.name]
	if prevSt != nil && ost.Reconciled.IsZero() {
		ost.Reconciled = prevSt.Reconciled
	}
	reason := ""
	switch {
	case e.opts.Reconcile:
		reason = "asked for"
	case p.isDeleted && !p.replicateable:
		reason = "" // soft deletes only: queryAll sees them; hard deletes wait for the schedule
	case p.replicateable && deleted == nil:
		reason = "the deleted-records log does not reach back to the last snapshot"
	case deleted != nil && !deleted.EarliestDateAvailable.IsZero() && deleted.EarliestDateAvailable.After(since):
		reason = "the deleted-records log was purged since the last snapshot"
	}
	if reason == "" && e.opts.ReconcileEvery > 0 && now.Sub(ost.Reconciled) >= e.opts.ReconcileEvery {
		reason = "scheduled"
	}
	if !p.replicateable && !p.isDeleted && reason == "" {
		reason = "the object reports no deletes"
	}
	if reason != "" {
		e.opts.Logger.Info("reconciling Ids", "object", p.name, "why", reason)
		if err := e.reconcile(ctx, p); err != nil {
			return err
		}
		ost.Reconciled = now
	}

	cond := where(p.modstamp + " >= " + since.Format("2006-01-02T15:04:05Z"))
	all := p.isDeleted
	if err := e.readChanges(ctx, p, cond, all); err != nil {
		return err
	}
	if deleted != nil && len(deleted.Records) > 0 {
		s := e.newSink(p, false)
		for _, d := range deleted.Records {
			id, err := sfapi.To18(d.ID)
			if err != nil {
				return fmt.Errorf("deleted records of %s: %w", p.name, err)
			}
			if err := s.delete(ctx, id); err != nil {
				return err
			}
		}
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// replicationUnavailable reports getDeleted refusing the window (too old,
// or replication not enabled back then): a reconciliation replaces it.
func replicationUnavailable(err error) bool {
	return errors.Is(err, sfapi.ErrWindowTooOld) || sfapi.ErrorCode(err) == "INVALID_REPLICATION_DATE"
}

// readChanges reads changed rows through REST, switching to Bulk when
// the first page says there are many (one query either way: no COUNT).
func (e *engine) readChanges(ctx context.Context, p *objectPlan, cond string, all bool) error {
	it := e.queryREST(ctx, p, cond, all)
	first := it.Next()
	if err := it.Err(); err != nil {
		return fmt.Errorf("query of %s: %w", p.name, err)
	}
	if first && it.TotalSize() > e.opts.BulkThreshold && p.bulk.Load() {
		return e.read(ctx, p, cond, all, true)
	}
	return e.drainREST(ctx, p, it, first, true)
}

// reconcile makes the tree's Ids those of the org: an Id-only scan (cheap:
// a few bytes per record), then the parent's Ids the org lacks are
// deleted and the org's Ids the parent lacks are fetched.
func (e *engine) reconcile(ctx context.Context, p *objectPlan) error {
	org, err := e.orgIDs(ctx, p)
	if err != nil {
		return fmt.Errorf("reconciling %s: %w", p.name, err)
	}
	s := e.newSink(p, false)
	var missing []string
	i := 0
	err = e.r.EachID(ctx, e.parent, p.name, func(id string) error {
		for i < len(org) && bytes.Compare(org[i][:], []byte(id)) < 0 {
			missing = append(missing, string(org[i][:]))
			i++
		}
		if i < len(org) && string(org[i][:]) == id {
			i++
			return nil
		}
		return s.delete(ctx, id)
	})
	if err != nil {
		return fmt.Errorf("reconciling %s: %w", p.name, err)
	}
	for ; i < len(org); i++ {
		missing = append(missing, string(org[i][:]))
	}
	if err := s.flush(ctx); err != nil {
		return err
	}
	// Records the tree lacks: fetched by Id, 200 per query (a few KB of
	// SOQL, well under the URI limit).
	for len(missing) > 0 {
		n := min(200, len(missing))
		quoted := make([]string, n)
		for j, id := range missing[:n] {
			quoted[j] = soqlQuote(id)
		}
		missing = missing[n:]
		if err := e.readREST(ctx, p, " WHERE Id IN ("+strings.Join(quoted, ",")+")", false, false); err != nil {
			return err
		}
	}
	return nil
}

// orgIDs lists the object's live record Ids, sorted (18 characters each:
// 1M Ids hold 18 MB).
func (e *engine) orgIDs(ctx context.Context, p *objectPlan) ([][18]byte, error) {
	var ids [][18]byte
	add := func(raw string) error {
		id, err := sfapi.To18(raw)
		if err != nil {
			return err
		}
		var k [18]byte
		copy(k[:], id)
		ids = append(ids, k)
		return nil
	}
	soql := "SELECT Id FROM " + p.name
	useBulk := p.bulk.Load() && e.parent.Objects[p.name].Records > uint64(e.opts.BulkThreshold)
	if useBulk {
		st, err := e.src.BulkQuery(ctx, soql, &sfapi.BulkQueryOptions{DeleteJob: true, MaxRecords: bulkPageRecords, Poll: e.opts.Poll})
		switch {
		case err == nil:
			defer st.Close()
			for st.Next() {
				if err := add(st.Record()[0]); err != nil {
					return nil, err
				}
			}
			if err := st.Err(); err != nil {
				return nil, err
			}
			useBulk = true
		case isBulkUnsupported(err):
			p.bulk.Store(false)
			useBulk = false
		default:
			return nil, err
		}
	}
	if !useBulk {
		it := e.src.Query(ctx, soql, nil)
		for it.Next() {
			if err := add(it.Record().ID); err != nil {
				return nil, err
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(ids, func(a, b [18]byte) int { return bytes.Compare(a[:], b[:]) })
	return slices.CompactFunc(ids, func(a, b [18]byte) bool { return a == b }), nil
}
