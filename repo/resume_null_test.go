package repo

import (
	"fmt"
	"testing"

	"github.com/orgsnap/orgsnap/repo/record"
)

// TestResumeCountsFieldAddedNull: a run re-reads an object whose schema
// gained a field (every record now carries it, null; three have a value)
// and checkpoints; the resumed run only stores the object's schema, which
// still makes it count the object's records against the parent. Its
// counts must be the uninterrupted run's: three changed, and no record
// counted as changed for the null field.
func TestResumeCountsFieldAddedNull(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	id := func(i int) string { return fmt.Sprintf("003%015d", i) }
	rec := func(i int, c string) record.Record {
		out := record.Record{{Name: "A", Kind: record.String, Value: fmt.Sprintf("a%d", i)}}
		if c == "-" {
			return out
		}
		f := record.Field{Name: "C", Kind: record.Null}
		if c != "" {
			f = record.Field{Name: "C", Kind: record.String, Value: c}
		}
		return append(out, f)
	}
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for i := range 200 {
		must(t, w.PutRecord(ctx, "Contact", id(i), rec(i, "-")))
	}
	parent, err := w.Commit(ctx)
	must(t, err)

	reread := func(w *Writer) {
		must(t, w.ReplaceObject(ctx, "Contact"))
		for i := range 200 {
			c := ""
			if i%70 == 1 {
				c = "set"
			}
			must(t, w.PutRecord(ctx, "Contact", id(i), rec(i, c)))
		}
	}
	schema := func(w *Writer) { must(t, w.PutSchema(ctx, "Contact", []byte(`{"fields":["A","C"]}`))) }

	w, err = r.NewWriter(ctx, WriterOptions{Parent: parent})
	must(t, err)
	reread(w)
	schema(w)
	whole, err := w.Commit(ctx)
	must(t, err)

	w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Kind: KindCheckpoint})
	must(t, err)
	reread(w)
	ckpt, err := w.Commit(ctx)
	must(t, err)
	w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Resume: ckpt})
	must(t, err)
	schema(w)
	resumed, err := w.Commit(ctx)
	must(t, err)

	want := ObjectStats{Records: 200, Changed: 3}
	for name, s := range map[string]*Snapshot{"uninterrupted": whole, "resumed": resumed} {
		got := s.Objects["Contact"]
		got.HighWater = ""
		if got != want {
			t.Errorf("%s run counts %+v, want %+v", name, got, want)
		}
	}
	if whole.Root != resumed.Root {
		t.Errorf("resumed root %s, uninterrupted %s", resumed.Root.Short(), whole.Root.Short())
	}
}
