package repo

import (
	"fmt"
	"testing"

	"github.com/orgsnap/orgsnap/repo/record"
)

// TestFieldAddedIsNoRecordChange: a field added to an object is null on
// its records until set. Records written again with the new field null are
// not changed records — in the counts, in Diff, and whether the object was
// re-read in full or edited — while one record that got a value is.
func TestFieldAddedIsNoRecordChange(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	const n = 300
	rec := func(i int, c *string) record.Record {
		fs := record.Record{{Name: "A", Kind: record.String, Value: fmt.Sprintf("a%d", i)}}
		if c != nil {
			f := record.Field{Name: "C", Kind: record.Null}
			if *c != "" {
				f = record.Field{Name: "C", Kind: record.String, Value: *c}
			}
			fs = append(fs, f)
		}
		return fs
	}
	id := func(i int) string { return fmt.Sprintf("003%015d", i) }
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for i := range n {
		must(t, w.PutRecord(ctx, "Contact", id(i), rec(i, nil)))
	}
	s0, err := w.Commit(ctx)
	must(t, err)

	null, set := "", "x"
	for _, replace := range []bool{true, false} {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: s0})
		must(t, err)
		if replace {
			must(t, w.ReplaceObject(ctx, "Contact"))
		}
		for i := range n {
			c := &null
			if i == 7 {
				c = &set
			}
			if replace || i%3 == 0 || i == 7 { // a synthetic run re-reads some
				must(t, w.PutRecord(ctx, "Contact", id(i), rec(i, c)))
			}
		}
		s1, err := w.Commit(ctx)
		must(t, err)
		st := s1.Objects["Contact"]
		if st.Added != 0 || st.Changed != 1 || st.Deleted != 0 || st.Records != n {
			t.Errorf("replace=%v: counts %+v, want exactly one changed record of %d", replace, st, n)
		}
		var changes []string
		must(t, r.Diff(ctx, s0, s1, func(c Change) error {
			changes = append(changes, c.What+" "+c.ID)
			return nil
		}))
		if len(changes) != 1 || changes[0] != "record "+id(7) {
			t.Errorf("replace=%v: diff %v, want only record %s", replace, changes, id(7))
		}
		// Every record reads back with the new field's value or without it
		// (null either way), never a different one.
		must(t, r.EachRecord(ctx, s1, "Contact", "", func(k string, got record.Record) error {
			var i int
			fmt.Sscanf(k, "003%d", &i)
			want := rec(i, &null)
			if i == 7 {
				want = rec(i, &set)
			}
			if !got.Equivalent(want) {
				t.Errorf("replace=%v: %s = %v, want %v", replace, k, got, want)
			}
			return nil
		}))
	}
}
