package repo

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
)

// TestPruneDropsShadowedVersions: a lineage of monthly snapshots with
// random changes, deletions and undeletions over one base; the oldest
// half is forgotten. Prune rewrites the kept snapshots so that no base
// holds a version none of them shows — and every kept snapshot's records
// are exactly what they were, its rewrite naming it in Original, parents
// and refs following; a second prune finds nothing more.
func TestPruneDropsShadowedVersions(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer func() { r.Close() }()
	rng := rand.New(rand.NewSource(3))
	const n = 400
	var snaps []*Snapshot
	var parent *Snapshot
	for m := 0; m < 6; m++ {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Org: "00D000000000001", Time: time.Date(2025, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)})
		must(t, err)
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("003000000000%06d", i)
			switch {
			case m == 0:
				must(t, w.PutRecord(ctx, "Contact", id, record.Record{{Name: "Email", Kind: record.String, Value: fmt.Sprintf("v0-%d@example.com", i)}}))
			case rng.Intn(100) < 2:
				must(t, w.DeleteRecord(ctx, "Contact", id))
			case rng.Intn(100) < 3:
				must(t, w.PutRecord(ctx, "Contact", id, record.Record{{Name: "Email", Kind: record.String, Value: fmt.Sprintf("v%d-%d@example.com", m, i)}}))
			}
		}
		s, err := w.Commit(ctx)
		must(t, err)
		snaps = append(snaps, s)
		parent = s
	}
	must(t, r.SetRef(ctx, "main", parent.ID, ""))
	contents := func(s *Snapshot) map[string]string {
		out := map[string]string{}
		must(t, r.EachRecord(ctx, s, "Contact", "", func(id string, rec record.Record) error {
			out[id] = fmt.Sprint(rec)
			return nil
		}))
		return out
	}
	want := map[string]map[string]string{} // original id → records
	for _, s := range snaps[:3] {
		must(t, r.RemoveSnapshot(ctx, s.ID))
	}
	for _, s := range snaps[3:] {
		want[s.ID.String()] = contents(s)
	}
	proof, err := r.Prune(ctx, PruneOptions{Cause: "test"})
	must(t, err)
	if proof.ShadowedVersions == 0 || proof.SnapshotsRewritten != 3 || !proof.Verified {
		t.Fatalf("proof: %+v", proof)
	}
	kept, err := r.Snapshots(ctx, nil)
	must(t, err)
	if len(kept) != 3 {
		t.Fatalf("%d snapshots after prune, want 3", len(kept))
	}
	for i, s := range kept {
		if s.Original == nil || want[s.Original.String()] == nil {
			t.Fatalf("snapshot %s does not name the snapshot it replaces", s.ID.Short())
		}
		if got := contents(s); !reflect.DeepEqual(got, want[s.Original.String()]) {
			t.Fatalf("snapshot %s: records changed by the rewrite", s.ID.Short())
		}
		if i > 0 && (s.Parent == nil || *s.Parent != kept[i-1].ID) {
			t.Fatalf("snapshot %s: parent %v, want the rewrite %s", s.ID.Short(), s.Parent, kept[i-1].ID.Short())
		}
	}
	if id, _, err := r.Ref(ctx, "main"); err != nil || id != kept[2].ID {
		t.Fatalf("main = %v (%v), want %s", id, err, kept[2].ID.Short())
	}
	// No base still holds a key that all its snapshots' deltas shadow.
	again, err := r.Prune(ctx, PruneOptions{Cause: "test"})
	must(t, err)
	if again.ShadowedVersions != 0 || again.SnapshotsRewritten != 0 || again.BlobsErased != 0 {
		t.Fatalf("second prune: %+v", again)
	}
	rep, err := r.Check(ctx, true, nil)
	must(t, err)
	if !rep.OK() {
		t.Fatalf("check: %+v", rep.Problems)
	}
	// Diffs between the rewrites equal the diffs between the originals.
	var changes int
	must(t, r.Diff(ctx, kept[0], kept[2], func(Change) error { changes++; return nil }))
	orig := 0
	a, b := want[kept[0].Original.String()], want[kept[2].Original.String()]
	for id, v := range b {
		if a[id] != v {
			orig++
		}
	}
	for id := range a {
		if _, ok := b[id]; !ok {
			orig++
		}
	}
	if changes != orig {
		t.Fatalf("diff of the rewrites: %d changes, the originals differ by %d", changes, orig)
	}
}
