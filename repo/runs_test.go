package repo

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// checkRunInvariants checks every object of s against the layer
// invariants (objtree.go): no tombstone in the base; runs non-empty, their
// counts right, at most maxRuns; no run entry the same record as the
// effective value below the run, nor a tombstone over no record; the
// record count equal to the effective records.
func checkRunInvariants(t *testing.T, r *Repository, s *Snapshot) {
	t.Helper()
	objs, err := r.Objects(ctx, s)
	must(t, err)
	st := nodeStore{r: r}
	for _, o := range objs {
		or := o.root
		tab, err := r.loadTable(ctx, or.Table)
		must(t, err)
		if len(or.Runs) > maxRuns {
			t.Fatalf("%s: %d runs", o.Name, len(or.Runs))
		}
		it := tree.Iter(ctx, st, or.Base, nil)
		for it.Next() {
			if isTombstone(it.Value()) {
				t.Fatalf("%s: tombstone for %s in the base", o.Name, it.Key())
			}
		}
		must(t, it.Err())
		if n, err := countTree(ctx, st, or.Base); err != nil || n != or.BaseN {
			t.Fatalf("%s: base has %d entries, root says %d (%v)", o.Name, n, or.BaseN, err)
		}
		for i, run := range or.Runs {
			n, err := countTree(ctx, st, run.Root)
			must(t, err)
			if n == 0 || n != run.N {
				t.Fatalf("%s run %d: %d entries, root says %d", o.Name, i, n, run.N)
			}
			below := objectRoot{Base: or.Base, Runs: or.Runs[i+1:]}
			it := tree.Iter(ctx, st, run.Root, nil)
			for it.Next() {
				v, err := r.recordValue(ctx, below, it.Key())
				must(t, err)
				switch {
				case isTombstone(it.Value()) && v == nil:
					t.Fatalf("%s run %d (level %d): tombstone for %s over no record", o.Name, i, run.Level, it.Key())
				case !isTombstone(it.Value()) && v != nil:
					same, err := r.sameRecord(ctx, tab, it.Value(), v)
					must(t, err)
					if same {
						t.Fatalf("%s run %d (level %d): %s is the record below it", o.Name, i, run.Level, it.Key())
					}
				}
			}
			must(t, it.Err())
		}
		var n uint64
		must(t, r.eachRecord(ctx, or, nil, func(k, v []byte) error { n++; return nil }))
		if n != or.Records {
			t.Fatalf("%s: %d effective records, root says %d", o.Name, n, or.Records)
		}
	}
}

// eqModel is object → Id → record compared with record.Equivalent (a field
// a record lacks is null in it): a writer keeps the stored record when the
// new one only adds or drops a null field.
type eqModel map[string]record.Record

func (m eqModel) clone() eqModel {
	out := eqModel{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func eqDiff(a, b eqModel) []string {
	var out []string
	for id, av := range a {
		bv, ok := b[id]
		switch {
		case !ok:
			out = append(out, "deleted "+id)
		case !av.Equivalent(bv):
			out = append(out, "changed "+id)
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			out = append(out, "added "+id)
		}
	}
	sort.Strings(out)
	return out
}

// withNullField is rec with a null field it lacks added: the same record.
func withNullField(rec record.Record) record.Record {
	out := append(record.Record{}, rec...)
	for _, f := range out {
		if f.Name == "Extra__c" {
			return out
		}
	}
	out = append(out, record.Field{Name: "Extra__c", Kind: record.Null})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TestRunsModel: many synthetic snapshots with random churn (new records,
// changes, deletions, changes back to a value of several snapshots ago, the
// same record with a null field added, re-creations), so that runs are
// added, merged over two levels, cancelled out by merges and folded. Every
// snapshot reads back as a plain-map model and keeps the invariants; the
// diff between any two snapshots, and the history of records across all of
// them, equal the model's.
func TestRunsModel(t *testing.T) {
	for seed := int64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			r, err := Init(ctx, t.TempDir(), Options{Password: []byte("pw"), KDF: crypto.TestKDF, Now: testClock(), Tune: func(c *Config) {
				tiny(c)
				c.RebaseRatio, c.RunMerge = 2, 3
			}})
			must(t, err)
			defer r.Close()
			const object = "Account"
			ids := make([]string, 300)
			for i := range ids {
				ids[i] = randID(rng, "001")
			}
			var snaps []*Snapshot
			var models []eqModel
			cur := eqModel{}
			var parent *Snapshot
			maxLevel, merges, folds := uint64(0), 0, 0
			prevRuns := 0
			for step := 0; step < 70; step++ {
				w, err := r.NewWriter(ctx, WriterOptions{Parent: parent})
				must(t, err)
				next := cur.clone()
				n := 3 + rng.Intn(8)
				if step == 0 {
					n = 200
				}
				for i := 0; i < n; i++ {
					id := ids[rng.Intn(len(ids))]
					if step == 0 {
						id = ids[i]
					}
					var rec record.Record
					switch op := rng.Intn(10); {
					case op < 5 || step == 0:
						rec = randRecord(rng, id)
					case op < 7 && len(models) > 2: // back to an older value
						rec = models[len(models)-1-rng.Intn(min(len(models), 6))][id]
					case op < 8:
						if old, ok := next[id]; ok {
							rec = withNullField(old)
						} else {
							rec = randRecord(rng, id)
						}
					}
					if rec == nil {
						delete(next, id)
						must(t, w.DeleteRecord(ctx, object, id))
					} else {
						next[id] = rec
						must(t, w.PutRecord(ctx, object, id, rec))
					}
				}
				s, err := w.Commit(ctx)
				must(t, err)
				checkRunInvariants(t, r, s)
				o, err := r.Object(ctx, s, object)
				must(t, err)
				if o.Records != uint64(len(next)) {
					t.Fatalf("step %d: %d records, model %d", step, o.Records, len(next))
				}
				for _, run := range o.root.Runs {
					maxLevel = max(maxLevel, run.Level)
				}
				if len(o.root.Runs) > 0 && o.root.Runs[0].Level > 0 {
					merges++
				}
				if len(o.root.Runs) == 0 && prevRuns > 0 {
					folds++
				}
				prevRuns = len(o.root.Runs)
				var a, c, d uint64
				for _, ch := range eqDiff(cur, next) {
					switch ch[0] {
					case 'a':
						a++
					case 'c':
						c++
					case 'd':
						d++
					}
				}
				if st := s.Objects[object]; st.Added != a || st.Changed != c || st.Deleted != d {
					t.Fatalf("step %d: stats +%d ~%d -%d, model +%d ~%d -%d", step, st.Added, st.Changed, st.Deleted, a, c, d)
				}
				snaps, models = append(snaps, s), append(models, next)
				parent, cur = s, next
			}
			if maxLevel < 2 || merges == 0 || folds == 0 {
				t.Fatalf("the sequence did not exercise the transitions: max level %d, %d merges, %d folds", maxLevel, merges, folds)
			}
			t.Logf("max level %d, %d snapshots starting with a merged run, %d folds", maxLevel, merges, folds)
			// Every snapshot reads back as its model.
			for i, s := range snaps {
				got := eqModel{}
				must(t, r.EachRecord(ctx, s, object, "", func(id string, rec record.Record) error {
					got[id] = rec
					return nil
				}))
				if d := eqDiff(models[i], got); len(d) > 0 {
					t.Fatalf("snapshot %d: %v", i, d[:min(len(d), 5)])
				}
				for _, id := range ids[:20] {
					rec, ok, err := r.Record(ctx, s, object, id)
					must(t, err)
					if want, in := models[i][id]; ok != in || (ok && !rec.Equivalent(want)) {
						t.Fatalf("snapshot %d record %s: %v %v, model %v %v", i, id, render(rec), ok, render(want), in)
					}
				}
			}
			// Diff between any two (consecutive ones, and random pairs).
			pairs := [][2]int{}
			for i := 1; i < len(snaps); i++ {
				pairs = append(pairs, [2]int{i - 1, i}, [2]int{i, i - 1})
			}
			for i := 0; i < 60; i++ {
				pairs = append(pairs, [2]int{rng.Intn(len(snaps)), rng.Intn(len(snaps))})
			}
			for _, p := range pairs {
				var got []string
				must(t, r.Diff(ctx, snaps[p[0]], snaps[p[1]], func(c Change) error {
					if c.What == "record" {
						got = append(got, c.Kind.String()+" "+c.ID)
						if c.Kind == Changed && c.Old.Equivalent(c.New) {
							t.Errorf("diff %d→%d: %s reported changed, but is the same record", p[0], p[1], c.ID)
						}
					}
					return nil
				}))
				sort.Strings(got)
				if want := eqDiff(models[p[0]], models[p[1]]); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("diff %d→%d:\n got %v\nwant %v", p[0], p[1], got, want)
				}
			}
			// History of records across every snapshot.
			tip := snaps[len(snaps)-1]
			for _, id := range ids[:40] {
				states, err := r.RecordStates(ctx, tip, object, id)
				must(t, err)
				if len(states) != len(snaps) {
					t.Fatalf("%s: %d states for %d snapshots", id, len(states), len(snaps))
				}
				for i, st := range states {
					j := len(snaps) - 1 - i
					if st.Snapshot.ID != snaps[j].ID {
						t.Fatalf("%s state %d: snapshot %s, want %s", id, i, st.Snapshot.ID.Short(), snaps[j].ID.Short())
					}
					want, in := models[j][id]
					if (st.Record != nil) != in || (in && !st.Record.Equivalent(want)) {
						t.Fatalf("%s in snapshot %d: %s, model %s", id, j, render(st.Record), render(want))
					}
				}
			}
		})
	}
}

// TestRunsEraseAndPrune: erasing records from a history of layered
// snapshots rewrites the base and every run (the invariants still hold,
// every other record is kept), and forgetting snapshots in the middle of
// a stack of runs lets prune drop the versions no remaining snapshot shows
// while every remaining snapshot reads the same.
func TestRunsEraseAndPrune(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	r := newTestRepo(t, t.TempDir())
	defer func() { r.Close() }()
	ids := make([]string, 150)
	for i := range ids {
		ids[i] = randID(rng, "003")
	}
	var snaps []*Snapshot
	var models []model
	cur := model{"Contact": {}}
	var parent *Snapshot
	for step := 0; step < 12; step++ {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent})
		must(t, err)
		next := cur.clone()
		for i := 0; i < 6 || (step == 0 && i < len(ids)); i++ {
			id := ids[rng.Intn(len(ids))]
			if step == 0 {
				id = ids[i]
			}
			if step > 0 && rng.Intn(4) == 0 {
				delete(next["Contact"], id)
				must(t, w.DeleteRecord(ctx, "Contact", id))
				continue
			}
			rec := randRecord(rng, id)
			next["Contact"][id] = rec
			must(t, w.PutRecord(ctx, "Contact", id, rec))
		}
		s, err := w.Commit(ctx)
		must(t, err)
		snaps, models = append(snaps, s), append(models, next)
		parent, cur = s, next
	}
	// Erase three records (some in runs, all in the base).
	victims := ids[:3]
	res, err := r.EraseRecords(ctx, EraseSelection{"Contact": victims}, "ids", nil)
	must(t, err)
	for i := range snaps {
		snaps[i] = current(t, r, snaps[i])
		for _, id := range victims {
			delete(models[i]["Contact"], id)
		}
		checkRunInvariants(t, r, snaps[i])
		checkSnapshot(t, r, snaps[i], models[i])
	}
	if len(res.Detail.Replaced) == 0 {
		t.Fatal("erase rewrote nothing")
	}
	// Forget the middle snapshots; prune drops what no remaining one shows.
	for _, s := range snaps[3:9] {
		must(t, r.RemoveSnapshot(ctx, s.ID))
	}
	proof, err := r.Prune(ctx, PruneOptions{})
	must(t, err)
	if !proof.Verified {
		t.Fatalf("proof: %+v", proof)
	}
	t.Logf("%d shadowed versions dropped, %d snapshots rewritten", proof.ShadowedVersions, proof.SnapshotsRewritten)
	for _, i := range []int{0, 1, 2, 9, 10, 11} {
		s := current(t, r, snaps[i])
		checkRunInvariants(t, r, s)
		checkSnapshot(t, r, s, models[i])
	}
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %+v", err, rep)
	}
}

// TestObjectRootV2 reads an object entry of the previous version: its
// delta is a single run.
func TestObjectRootV2(t *testing.T) {
	var base, delta, files crypto.ID
	base[0], delta[0], files[0] = 1, 2, 3
	b := []byte{2}
	for _, id := range []crypto.ID{base, delta, files, {}, {}} {
		b = append(b, id[:]...)
	}
	b = append(b, 10, 9, 4, 1)
	o, err := decodeObjectRoot(b)
	must(t, err)
	if o.Base != base || o.Files != files || o.Records != 10 || o.BaseN != 9 || o.NFiles != 1 ||
		len(o.Runs) != 1 || o.Runs[0] != (deltaRun{Root: delta, N: 4}) {
		t.Fatalf("decoded %+v", o)
	}
	// Written again, it is version 3 and reads back the same.
	o2, err := decodeObjectRoot(o.encode())
	must(t, err)
	if !o2.equal(&o) {
		t.Fatalf("round trip: %+v vs %+v", o2, o)
	}
	for _, bad := range [][]byte{append(o.encode(), 0), o.encode()[:len(o.encode())-1]} {
		if _, err := decodeObjectRoot(bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}
