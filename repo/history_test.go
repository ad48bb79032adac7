package repo

import (
	"math/rand"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

// TestRecordStates checks RecordStates against a lookup in every snapshot,
// on multi-level trees (tiny nodes) with deltas, rebases, deletions,
// re-creations and files, so that the shortcuts (object entry unchanged,
// same leaves) never hide a version.
func TestRecordStates(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(5))
	ids := make([]string, 400)
	for i := range ids {
		ids[i] = randID(rng, "001")
	}
	var s *Snapshot
	var snaps []*Snapshot
	at := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	for day := 0; day < 40; day++ {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: s, Time: at.Add(time.Duration(day) * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		n := 6
		if s == nil {
			n = len(ids)
		}
		for k := 0; k < n; k++ {
			id := ids[rng.Intn(len(ids))]
			if s == nil {
				id = ids[k]
			}
			switch {
			case day%7 == 3: // a day that touches only another object
				err = w.PutRecord(ctx, "Other", id, randRecord(rng, id))
			case s != nil && rng.Intn(4) == 0:
				err = w.DeleteRecord(ctx, "Account", id)
			default:
				err = w.PutRecord(ctx, "Account", id, randRecord(rng, id))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if s, err = w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	for _, id := range ids[:60] {
		states, err := r.RecordStates(ctx, s, "Account", id)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != len(snaps) {
			t.Fatalf("%d states for %d snapshots", len(states), len(snaps))
		}
		for i, st := range states {
			want := snaps[len(snaps)-1-i]
			if st.Snapshot.ID != want.ID {
				t.Fatalf("state %d is of snapshot %s, want %s", i, st.Snapshot.ID.Short(), want.ID.Short())
			}
			rec, _, err := r.Record(ctx, want, "Account", id)
			if err != nil {
				t.Fatal(err)
			}
			if render(rec) != render(st.Record) {
				t.Fatalf("%s in snapshot %d: got %s, want %s", id, i, render(st.Record), render(rec))
			}
			if st.File != (crypto.ID{}) {
				t.Fatalf("%s has a file", id)
			}
		}
	}
}
