package restore

import (
	"fmt"
	"strings"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// orgRow is a record's state in the target org.
type orgRow struct {
	id      string // its Id in the org
	deleted bool   // in the Recycle Bin
	rec     record.Record
}

// fetchState reads the org's current values of the records with these
// org Ids: live ones through sObject Collections retrieve (2,000 a call),
// the rest from the Recycle Bin through queryAll. Ids absent from the
// result are gone (hard-deleted, or never in this org).
func (e *engine) fetchState(os *objSet, ids []string) (map[string]orgRow, error) {
	out := make(map[string]orgRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := os.canon.Fields()
	for start := 0; start < len(ids); start += 2000 {
		chunk := ids[start:min(start+2000, len(ids))]
		if err := e.brake(); err != nil {
			return nil, err
		}
		recs, err := e.org.RetrieveRecords(e.ctx, os.name, chunk, fields)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the org: %w", os.name, err)
		}
		for i, r := range recs {
			if r == nil {
				continue
			}
			id, rec, err := os.canon.FromJSON(r.Raw, nil)
			if err != nil {
				return nil, err
			}
			out[chunk[i]] = orgRow{id: id, rec: rec}
		}
	}
	var missing []string
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 || os.desc.Field("IsDeleted") == nil {
		return out, nil
	}
	want := map[string]bool{}
	for _, id := range missing {
		want[id] = true
	}
	sel := "SELECT " + strings.Join(fields, ", ") + " FROM " + os.name + " WHERE IsDeleted = true"
	var queries []string
	if len(missing) <= 600 {
		for start := 0; start < len(missing); start += 300 {
			chunk := missing[start:min(start+300, len(missing))]
			queries = append(queries, sel+" AND Id IN ('"+strings.Join(chunk, "','")+"')")
		}
	} else {
		// Many gone: one pass over the object's Recycle Bin costs fewer
		// calls than thousands of Ids in IN lists.
		queries = append(queries, sel)
	}
	for _, q := range queries {
		if err := e.brake(); err != nil {
			return nil, err
		}
		it := e.org.Query(e.ctx, q, &sfapi.QueryOptions{All: true})
		for it.Next() {
			id, rec, err := os.canon.FromJSON(it.Record().Raw, nil)
			if err != nil {
				return nil, err
			}
			if want[id] {
				out[id] = orgRow{id: id, deleted: true, rec: rec}
			}
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("reading %s's Recycle Bin: %w", os.name, err)
		}
	}
	return out, nil
}
