package repo

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
)

// TestResumeEqualsUninterrupted: a run cut into checkpoints and resumed
// commits the very snapshot (same root, same counts) that one uninterrupted
// run commits, whatever the cut points and however often edits repeat.
func TestResumeEqualsUninterrupted(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(5))
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%012d", prefix, i*7)
		}
		return out
	}
	accounts, contacts := ids("001", 600), ids("003", 400)

	// The parent: both objects, files on some accounts.
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for _, id := range accounts {
		must(t, w.PutRecord(ctx, "Account", id, randRecord(rng, id)))
	}
	for _, id := range contacts {
		must(t, w.PutRecord(ctx, "Contact", id, randRecord(rng, id)))
	}
	for _, id := range accounts[:40] {
		_, err := w.PutFile(ctx, "Account", id, strings.NewReader("body of "+id), "")
		must(t, err)
	}
	parent, err := w.Commit(ctx)
	must(t, err)

	// The run: Account is re-read in full (a tenth gone, new ones, a third
	// changed), Contact gets synthetic edits.
	type op struct {
		object, id string
		rec        record.Record // nil: delete
	}
	var fullRead []op
	for i, id := range accounts {
		switch {
		case i%10 == 3: // gone
		case i%3 == 0:
			fullRead = append(fullRead, op{"Account", id, randRecord(rng, id)})
		default:
			rec, _, err := r.Record(ctx, parent, "Account", id)
			must(t, err)
			fullRead = append(fullRead, op{"Account", id, rec})
		}
	}
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("001%012d", 5000+i)
		fullRead = append(fullRead, op{"Account", id, randRecord(rng, id)})
	}
	sort.Slice(fullRead, func(i, j int) bool { return fullRead[i].id < fullRead[j].id })
	var edits []op
	for i, id := range contacts {
		switch i % 9 {
		case 1:
			edits = append(edits, op{"Contact", id, nil})
		case 2, 5:
			edits = append(edits, op{"Contact", id, randRecord(rng, id)})
		}
	}
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("003%012d", 9000+i)
		edits = append(edits, op{"Contact", id, randRecord(rng, id)})
	}
	at := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	apply := func(w *Writer, ops []op) {
		t.Helper()
		for _, o := range ops {
			if o.rec == nil {
				must(t, w.DeleteRecord(ctx, o.object, o.id))
			} else {
				must(t, w.PutRecord(ctx, o.object, o.id, o.rec))
			}
		}
	}

	w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at})
	must(t, err)
	must(t, w.ReplaceObject(ctx, "Account"))
	apply(w, fullRead)
	apply(w, edits)
	want, err := w.Commit(ctx)
	must(t, err)
	// FinishRecords early changes nothing but memory.
	finishing := func() *Writer {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at})
		must(t, err)
		must(t, w.ReplaceObject(ctx, "Account"))
		apply(w, fullRead)
		must(t, w.FinishRecords(ctx, "Account"))
		apply(w, edits)
		must(t, w.FinishRecords(ctx, "Contact"))
		return w
	}
	w = finishing()
	if err := w.PutRecord(ctx, "Contact", contacts[0], randRecord(rng, contacts[0])); err == nil {
		t.Fatal("a record edit after FinishRecords was accepted")
	}
	w.Abort()
	early, err := finishing().Commit(ctx)
	must(t, err)
	if early.Root != want.Root || !reflect.DeepEqual(early.Objects, want.Objects) {
		t.Fatalf("FinishRecords changed the snapshot")
	}
	if want.Objects["Account"].Files != 36 {
		t.Fatalf("files of gone accounts not dropped: %d files, want 36", want.Objects["Account"].Files)
	}

	for _, cut := range []struct{ accounts, contacts int }{{0, 0}, {200, 0}, {len(fullRead), 40}, {300, 100}} {
		t.Run(fmt.Sprintf("cut-%d-%d", cut.accounts, cut.contacts), func(t *testing.T) {
			// First run: part of the full read and of the edits, then a
			// checkpoint. A second checkpoint resumes the first.
			w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindCheckpoint, State: []byte(`{"step":1}`)})
			must(t, err)
			must(t, w.ReplaceObject(ctx, "Account"))
			apply(w, fullRead[:cut.accounts/2])
			apply(w, edits[:cut.contacts/2])
			c1, err := w.Commit(ctx)
			must(t, err)
			if !bytes.Equal(c1.State, []byte(`{"step":1}`)) {
				t.Fatalf("checkpoint state %q", c1.State)
			}
			w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindCheckpoint, Resume: c1})
			must(t, err)
			must(t, w.ContinueReplace(ctx, "Account"))
			apply(w, fullRead[cut.accounts/2:cut.accounts])
			apply(w, edits[:cut.contacts]) // repeats the first half
			c2, err := w.Commit(ctx)
			must(t, err)
			if *c2.Parent != parent.ID {
				t.Fatalf("checkpoint names %s as parent, want %s", c2.Parent.Short(), parent.ID.Short())
			}
			// The resumed run finishes.
			w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindSynthetic, Resume: c2})
			must(t, err)
			must(t, w.ContinueReplace(ctx, "Account"))
			apply(w, fullRead[cut.accounts:])
			apply(w, edits[cut.contacts/2:])
			got, err := w.Commit(ctx)
			must(t, err)
			if got.Root != want.Root {
				t.Errorf("resumed root %s, uninterrupted %s", got.Root.Short(), want.Root.Short())
			}
			if !reflect.DeepEqual(got.Objects, want.Objects) {
				t.Errorf("resumed counts %+v\nuninterrupted %+v", got.Objects, want.Objects)
			}
			if got.ID != want.ID {
				t.Errorf("resumed snapshot %s differs from the uninterrupted %s", got.ID.Short(), want.ID.Short())
			}
		})
	}

	// A checkpoint of another lineage is refused.
	other, err := r.NewWriter(ctx, WriterOptions{Kind: KindCheckpoint})
	must(t, err)
	must(t, other.PutRecord(ctx, "Account", accounts[0], randRecord(rng, accounts[0])))
	oc, err := other.Commit(ctx)
	must(t, err)
	if _, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Resume: oc}); err == nil {
		t.Fatal("resuming a checkpoint of another parent was accepted")
	}
	if _, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Resume: want}); err == nil {
		t.Fatal("resuming a finished snapshot was accepted")
	}
}

// TestResumeContinuesRun: a synthetic run cut into checkpoints continues
// the run its checkpoint began (settled against the parent's layers), so
// that it commits the snapshot an uninterrupted run commits, with the
// parent's runs kept below (no fold hides a difference: the edits are
// few), whether or not the commit then merges runs.
func TestResumeContinuesRun(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(9))
	ids := make([]string, 600)
	for i := range ids {
		ids[i] = fmt.Sprintf("003%015d", i*3)
	}
	type op struct {
		id  string
		rec record.Record
	}
	day := func(n int) []op {
		var ops []op
		for i := 0; i < n; i++ {
			id := ids[rng.Intn(len(ids))]
			if rng.Intn(4) == 0 {
				ops = append(ops, op{id, nil})
			} else {
				ops = append(ops, op{id, randRecord(rng, id)})
			}
		}
		return ops
	}
	apply := func(w *Writer, ops []op) {
		t.Helper()
		for _, o := range ops {
			if o.rec == nil {
				must(t, w.DeleteRecord(ctx, "Contact", o.id))
			} else {
				must(t, w.PutRecord(ctx, "Contact", o.id, o.rec))
			}
		}
	}
	var parent *Snapshot
	at := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)
	commit := func(ops []op) *Snapshot {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at})
		must(t, err)
		if parent == nil {
			for _, id := range ids {
				must(t, w.PutRecord(ctx, "Contact", id, randRecord(rng, id)))
			}
		}
		apply(w, ops)
		s, err := w.Commit(ctx)
		must(t, err)
		at = at.Add(24 * time.Hour)
		return s
	}
	parent = commit(nil)
	for depth := 1; depth <= 2; depth++ {
		parent = commit(day(10)) // the parent's stack: depth runs
		edits := day(24)
		edits = append(edits, edits[3], edits[5]) // repeated edits
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at})
		must(t, err)
		apply(w, edits)
		want, err := w.Commit(ctx)
		must(t, err)
		o, err := r.Object(ctx, want, "Contact")
		must(t, err)
		if len(o.root.Runs) == 0 {
			t.Fatalf("depth %d: test premise: the runs were folded", depth)
		}
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindCheckpoint})
		must(t, err)
		apply(w, edits[:8])
		c1, err := w.Commit(ctx)
		must(t, err)
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindCheckpoint, Resume: c1})
		must(t, err)
		apply(w, edits[4:16])
		c2, err := w.Commit(ctx)
		must(t, err)
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindSynthetic, Resume: c2})
		must(t, err)
		apply(w, edits[16:])
		got, err := w.Commit(ctx)
		must(t, err)
		if got.Root != want.Root || !reflect.DeepEqual(got.Objects, want.Objects) {
			t.Fatalf("depth %d: resumed %s %+v, uninterrupted %s %+v", depth, got.Root.Short(), got.Objects, want.Root.Short(), want.Objects)
		}
		// Every edit before the checkpoint: the resumed run does not touch
		// the object, which must still be merged (or folded) as it would.
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindCheckpoint})
		must(t, err)
		apply(w, edits)
		c3, err := w.Commit(ctx)
		must(t, err)
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: KindSynthetic, Resume: c3})
		must(t, err)
		got, err = w.Commit(ctx)
		must(t, err)
		if got.Root != want.Root || !reflect.DeepEqual(got.Objects, want.Objects) {
			t.Fatalf("depth %d, object untouched after the checkpoint: resumed %s %+v, uninterrupted %s %+v", depth, got.Root.Short(), got.Objects, want.Root.Short(), want.Objects)
		}
	}
}

// TestResumeCountsWithCheckpointTable: a resumed run that puts no record of
// an object (its checkpoint holds all its edits) still counts a record that
// only gained a null field as unchanged (the table comes from the
// checkpoint).
func TestResumeCountsWithCheckpointTable(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(4))
	recs := map[string]record.Record{}
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("003%015d", i)
		recs[id] = record.Record{{Name: "Name", Kind: record.String, Value: fmt.Sprint("n", rng.Int())}}
		must(t, w.PutRecord(ctx, "Contact", id, recs[id]))
	}
	parent, err := w.Commit(ctx)
	must(t, err)
	for _, full := range []bool{false, true} {
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Kind: KindCheckpoint})
		must(t, err)
		if full {
			must(t, w.ReplaceObject(ctx, "Contact"))
		}
		changed := 0
		for id, rec := range recs {
			rec = withNullField(rec)
			if changed < 3 {
				rec = withNullField(record.Record{{Name: "Name", Kind: record.String, Value: "changed"}})
				changed++
			}
			must(t, w.PutRecord(ctx, "Contact", id, rec))
		}
		c, err := w.Commit(ctx)
		must(t, err)
		w, err = r.NewWriter(ctx, WriterOptions{Parent: parent, Resume: c})
		must(t, err)
		must(t, w.SetHighWater(ctx, "Contact", "2026-11-02T00:00:00Z"))
		s, err := w.Commit(ctx)
		must(t, err)
		if st := s.Objects["Contact"]; st.Changed != 3 || st.Added != 0 || st.Deleted != 0 || st.Records != 50 {
			t.Fatalf("full=%v: counts %+v, want 3 changed of 50", full, st)
		}
	}
}
