package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/sfapi"
)

// A REST query travels in the URI (GET …/query?q=SOQL), which Salesforce
// refuses past sfapi.MaxURIBytes. An object with hundreds of fields (wide
// custom objects) has a longer SELECT than that, and Bulk (which takes the
// SOQL in a POST body) is not always available. So a REST read whose SOQL
// does not fit is split into several queries over the same rows, each
// selecting Id, the modstamp and a share of the other fields, ordered by
// Id, and the rows are merged by Id.
//
// The parts run one after the other, so a record can change between them.
// Every part carries the modstamp: a record whose parts disagree on it, or
// that is missing from some part (deleted, or created, or moved out of the
// filter meanwhile), is read again by Id, all parts, until its parts agree;
// a record absent from every part of that re-read is gone and is dropped
// (its deletion reaches the snapshot through the deletion paths). So every
// merged row is one version of one record, never a mix of two.

// restURIBudget is what the URL-encoded SOQL of one part may take: the
// limit less room for the path, the other query parameters and the
// headers, which count towards the same 16,384 bytes (431).
const restURIBudget = sfapi.MaxURIBytes - 2500

// rereadAttempts bounds how often records whose parts disagree are read
// again before the read fails (each attempt is one query per part).
const rereadAttempts = 5

// restRows is one REST read's rows: a JSON object each, in any order.
type restRows interface {
	Next() bool
	Raw() []byte
	Err() error
	// TotalSize is the server's row count (the first part's, when split),
	// known after the first Next.
	TotalSize() int
}

// iterRows adapts a single sfapi query.
type iterRows struct{ *sfapi.QueryIter }

func (r iterRows) Raw() []byte { return r.Record().Raw }

// soql is the plan's SELECT over fields with a WHERE clause (" WHERE …").
func (p *objectPlan) soql(fields []string, where string) string {
	return "SELECT " + strings.Join(fields, ", ") + " FROM " + p.name + where
}

// encodedLen is the length of s in a URL query string.
func encodedLen(s string) int { return len(url.QueryEscape(s)) }

// queryREST starts a REST read of the plan's fields over where.
func (e *engine) queryREST(ctx context.Context, p *objectPlan, where string, all bool) restRows {
	if encodedLen(p.soql(p.fields, where)) <= restURIBudget {
		return iterRows{e.src.Query(ctx, p.soql(p.fields, where), &sfapi.QueryOptions{All: all})}
	}
	parts, err := p.splitFields(where)
	if err != nil {
		return &errRows{err}
	}
	return &wideRows{e: e, ctx: ctx, p: p, where: where, all: all, parts: parts}
}

// keyFields are selected by every part: the merge key and the version.
func (p *objectPlan) keyFields() []string {
	if p.modstamp == "" || p.modstamp == "Id" {
		return []string{"Id"}
	}
	return []string{"Id", p.modstamp}
}

// splitFields partitions the plan's fields into parts whose SOQL (with
// where and the ORDER BY the merge needs) fits restURIBudget. Greedy in
// field order: parts are few (a 1,000-field object with 40-character
// names needs four).
func (p *objectPlan) splitFields(where string) ([][]string, error) {
	key := p.keyFields()
	base := encodedLen(p.soql(key, where+" ORDER BY Id"))
	if base >= restURIBudget {
		return nil, fmt.Errorf("query of %s: even a query of its Id alone is too long for a REST URI (%d bytes of filter)", p.name, encodedLen(where))
	}
	var parts [][]string
	cur, size := append([]string(nil), key...), base
	for _, f := range p.fields {
		if f == "Id" || f == p.modstamp {
			continue
		}
		cost := encodedLen(", " + f)
		if size+cost > restURIBudget && len(cur) > len(key) {
			parts = append(parts, cur)
			cur, size = append([]string(nil), key...), base
		}
		cur, size = append(cur, f), size+cost
	}
	if len(cur) > len(key) || len(parts) == 0 {
		parts = append(parts, cur)
	}
	return parts, nil
}

type errRows struct{ err error }

func (r *errRows) Next() bool     { return false }
func (r *errRows) Raw() []byte    { return nil }
func (r *errRows) Err() error     { return r.err }
func (r *errRows) TotalSize() int { return 0 }

// wideRows merges the parts of a split read. The parts are read in
// lockstep by Id (each is ordered by Id); rows whose parts agree are merged
// on the fly, the others are set aside and read again by Id at the end.
type wideRows struct {
	e     *engine
	ctx   context.Context
	p     *objectPlan
	where string
	all   bool
	parts [][]string

	its     []*sfapi.QueryIter
	heads   []partRow // the current row of each part (id "" when done)
	started bool
	retry   []string // Ids whose parts disagreed
	rereads int      // re-read rounds so far
	queue   [][]byte // merged rows of the re-reads, waiting to be returned
	row     []byte
	total   int
	err     error
}

type partRow struct {
	id, stamp string
	raw       []byte
}

func (w *wideRows) TotalSize() int { return w.total }
func (w *wideRows) Raw() []byte    { return w.row }
func (w *wideRows) Err() error     { return w.err }

func (w *wideRows) Next() bool {
	if w.err != nil {
		return false
	}
	if !w.started {
		w.started = true
		w.its, w.heads = w.open(w.where)
		if w.err != nil {
			return false
		}
		w.total = w.its[0].TotalSize()
	}
	for {
		if len(w.queue) > 0 {
			w.row, w.queue = w.queue[0], w.queue[1:]
			return true
		}
		if w.its != nil {
			if row, ok := w.step(); ok {
				w.row = row
				return true
			}
			if w.err != nil {
				return false
			}
			if w.its != nil {
				continue
			}
		}
		if len(w.retry) == 0 {
			return false
		}
		if err := w.reread(); err != nil {
			w.err = err
			return false
		}
	}
}

// open starts every part's query over where and reads each one's first row.
func (w *wideRows) open(where string) ([]*sfapi.QueryIter, []partRow) {
	its := make([]*sfapi.QueryIter, len(w.parts))
	heads := make([]partRow, len(w.parts))
	for i, fields := range w.parts {
		its[i] = w.e.src.Query(w.ctx, w.p.soql(fields, where+" ORDER BY Id"), &sfapi.QueryOptions{All: w.all})
		if heads[i], w.err = w.advance(its[i]); w.err != nil {
			return nil, nil
		}
	}
	return its, heads
}

// advance reads a part's next row ("" Id at the end).
func (w *wideRows) advance(it *sfapi.QueryIter) (partRow, error) {
	if !it.Next() {
		if err := it.Err(); err != nil {
			return partRow{}, fmt.Errorf("query of %s (part of a split read): %w", w.p.name, err)
		}
		return partRow{}, nil
	}
	raw := it.Record().Raw
	var r partRow
	err := eachMember(raw, func(k string, v []byte) error {
		switch k {
		case "Id":
			return json.Unmarshal(v, &r.id)
		case w.p.modstamp:
			r.stamp = string(v)
		}
		return nil
	})
	if err != nil || r.id == "" {
		return partRow{}, fmt.Errorf("query of %s (part of a split read): a row without an Id (%v)", w.p.name, err)
	}
	r.raw = raw
	return r, nil
}

// step consumes the smallest Id among the parts' current rows: merged if
// every part has it at the same version, else set aside. It returns false
// when the parts are exhausted (then w.its is nil) or on error.
func (w *wideRows) step() ([]byte, bool) {
	for {
		low := ""
		for _, h := range w.heads {
			if h.id != "" && (low == "" || h.id < low) {
				low = h.id
			}
		}
		if low == "" {
			w.its, w.heads = nil, nil
			return nil, false
		}
		var rows [][]byte
		stamp, agree := "", true
		for i := range w.heads {
			h := w.heads[i]
			if h.id != low {
				agree = false
				continue
			}
			if len(rows) == 0 {
				stamp = h.stamp
			} else if h.stamp != stamp {
				agree = false
			}
			rows = append(rows, h.raw)
			var err error
			if w.heads[i], err = w.advance(w.its[i]); err != nil {
				w.err = err
				return nil, false
			}
		}
		if !agree {
			w.retry = append(w.retry, low)
			continue
		}
		merged, err := w.merge(rows)
		if err != nil {
			w.err = err
			return nil, false
		}
		return merged, true
	}
}

// reread reads the set-aside records again by Id, all parts, until every
// one is merged or gone.
func (w *wideRows) reread() error {
	for len(w.retry) > 0 {
		if w.rereads++; w.rereads > rereadAttempts {
			return fmt.Errorf("query of %s: %d records kept changing while their fields were read in %d parts; run the snapshot again", w.p.name, len(w.retry), len(w.parts))
		}
		sort.Strings(w.retry)
		ids := w.retry
		w.retry = nil
		for len(ids) > 0 {
			n := min(100, len(ids)) // 100 quoted Ids: about 2 KB of filter
			quoted := make([]string, n)
			for j, id := range ids[:n] {
				quoted[j] = soqlQuote(id)
			}
			ids = ids[n:]
			where := " WHERE Id IN (" + strings.Join(quoted, ",") + ")"
			its, heads := w.open(where)
			if w.err != nil {
				return w.err
			}
			w.its, w.heads = its, heads
			for {
				row, ok := w.step()
				if !ok {
					break
				}
				w.queue = append(w.queue, row)
			}
			if w.err != nil {
				return w.err
			}
		}
		// Records that agree now were queued; those that still disagree are
		// in w.retry again. A record absent from every part is gone.
		if len(w.queue) > 0 {
			return nil // hand these out first; Next comes back for the rest
		}
	}
	return nil
}

// merge joins the parts of one record into one JSON object: every member
// of the first part, then the members of the others but their key fields.
func (w *wideRows) merge(rows [][]byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i, raw := range rows {
		err := eachMember(raw, func(k string, v []byte) error {
			if i > 0 && (k == "attributes" || k == "Id" || k == w.p.modstamp) {
				return nil
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			b.Write(v)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("query of %s (part of a split read): %w", w.p.name, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
