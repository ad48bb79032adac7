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
