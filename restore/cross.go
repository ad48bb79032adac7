package restore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

func asAPIError(err error, ae **sfapi.APIError) bool { return errors.As(err, ae) }

// crossOrgMaps prepares references into a target that is not the
// snapshot's org: the fallback owner, users by Username, record types by
// object and DeveloperName, and records of the set matched by
// MatchFields or an external-Id field. In the same org only the fallback
// owner is resolved.
func (e *engine) crossOrgMaps() error {
	if e.opts.FallbackOwner != "" && e.owner == "" {
		o := e.opts.FallbackOwner
		if id, err := sfapi.To18(o); err == nil && strings.HasPrefix(id, "005") {
			e.owner = id
		} else {
			ids, err := e.queryIDs("SELECT Id FROM User WHERE Username = " + soqlQuote(o))
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("%w: --fallback-owner %q: no such user in the target org", ErrBadSelection, o)
			}
			e.owner = ids[0][0]
		}
	}
	if !e.opts.CrossOrg {
		return nil
	}
	if e.matched == nil {
		e.matched = map[string]bool{}
		if err := e.mapByKey("User", "User", []string{"Username"}, ""); err != nil {
			return err
		}
		if err := e.mapByKey("RecordType", "RecordType", []string{"SobjectType", "DeveloperName"}, ""); err != nil {
			return err
		}
	}
	for _, name := range e.setNames() {
		if e.matched[name] {
			continue
		}
		e.matched[name] = true
		os := e.sets[name]
		keys := e.opts.MatchFields[name]
		if len(keys) == 0 {
			for _, f := range os.fields {
				if f.ExternalID && f.Unique {
					keys = []string{f.Name}
					break
				}
			}
		}
		if len(keys) == 0 {
			continue
		}
		if err := e.mapByKey(name, name, keys, ""); err != nil {
			return err
		}
	}
	return nil
}

// mapByKey maps records of object in the snapshot to records of the
// target with equal values of keys.
func (e *engine) mapByKey(snapObj, object string, keys []string, _ string) error {
	name, err := e.snapshotObject(snapObj)
	if err != nil {
		return nil // not in the snapshot: nothing to map
	}
	old := map[string][]string{} // key tuple → old ids
	add := func(id string, rec record.Record) {
		var parts []string
		for _, k := range keys {
			f, ok := rec.Get(k)
			if !ok || f.Kind == record.Null {
				return
			}
			parts = append(parts, f.Value)
		}
		t := strings.Join(parts, "\x00")
		old[t] = append(old[t], id)
	}
	if os := e.sets[name]; os != nil && object != "User" && object != "RecordType" {
		for _, it := range os.items {
			add(it.old, it.rec)
		}
	} else if err := e.r.EachRecord(e.ctx, e.opts.Snapshot, name, "", func(id string, rec record.Record) error {
		add(id, rec)
		return nil
	}); err != nil {
		return err
	}
	if len(old) == 0 {
		return nil
	}
	var vals []string
	seen := map[string]bool{}
	for t := range old {
		v, _, _ := strings.Cut(t, "\x00")
		if !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	for start := 0; start < len(vals); start += 200 {
		chunk := vals[start:min(start+200, len(vals))]
		quoted := make([]string, len(chunk))
		for i, v := range chunk {
			quoted[i] = soqlQuote(v)
		}
		q := "SELECT Id, " + strings.Join(keys, ", ") + " FROM " + object + " WHERE " + keys[0] + " IN (" + strings.Join(quoted, ", ") + ")"
		rows, err := e.queryIDs(q)
		if err != nil {
			return fmt.Errorf("matching %s on %s: %w", object, strings.Join(keys, "+"), err)
		}
		for _, row := range rows {
			for _, o := range old[strings.Join(row[1:], "\x00")] {
				e.idmap[o] = row[0]
			}
		}
	}
	return nil
}

// queryIDs runs a query and returns each row's selected values as text
// (Id first), in select order.
func (e *engine) queryIDs(q string) ([][]string, error) {
	sel := strings.TrimSpace(q[len("SELECT "):strings.Index(q, " FROM ")])
	cols := strings.Split(sel, ",")
	var out [][]string
	it := e.org.Query(e.ctx, q, nil)
	for it.Next() {
		m, err := it.Record().Fields()
		if err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, c := range cols {
			if v, ok := m[strings.TrimSpace(c)]; ok && v != nil {
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	return out, it.Err()
}

func soqlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
