package repo

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
)

var ctx = context.Background()

// tiny makes trees and packs small so that a few hundred records exercise
// multi-level trees, several packs, spilling, out-of-line records and
// rebasing.
func tiny(c *Config) {
	c.Tree.MinNode, c.Tree.TargetNode, c.Tree.MaxNode, c.Tree.LeafValueWeight = 128, 512, 2048, 40
	c.InlineLimit = 120
	c.RebaseRatio = 4
	c.RunMerge = 3
	c.FrameSize = 4096
	c.PackSize = 1 << 16
}

func testClock() func() time.Time {
	t := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Hour); return t }
}

func newTestRepo(t testing.TB, dir string) *Repository {
	t.Helper()
	r, err := Init(ctx, dir, Options{Password: []byte("pw"), KDF: crypto.TestKDF, Now: testClock(), Tune: tiny})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reopen(t testing.TB, r *Repository) *Repository {
	t.Helper()
	dir := r.Dir()
	r.Close()
	r2, err := Open(ctx, dir, Options{Password: []byte("pw"), Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	return r2
}

// model is the plain-map truth: object → Id → record.
type model map[string]map[string]record.Record

func (m model) clone() model {
	out := model{}
	for o, recs := range m {
		out[o] = map[string]record.Record{}
		for k, v := range recs {
			out[o][k] = v
		}
	}
	return out
}

func randID(rng *rand.Rand, prefix string) string {
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := []byte(prefix + "5g000")
	for len(b) < 18 {
		b = append(b, b62[rng.Intn(62)])
	}
	return string(b)
}

// randRecord makes a record whose field set varies (optional fields come
// and go, so objects use several field lists) and whose size sometimes
// exceeds the inline limit.
func randRecord(rng *rand.Rand, id string) record.Record {
	n := 20 + rng.Intn(100)
	if rng.Intn(10) == 0 {
		n = 150 + rng.Intn(400) // out of line
	}
	var rec record.Record
	if rng.Intn(5) == 0 {
		rec = append(rec, record.Field{Name: "Active", Kind: record.Bool, Value: fmt.Sprint(rng.Intn(2) == 0)})
	}
	if rng.Intn(4) == 0 {
		rec = append(rec, record.Field{Name: "Amount", Kind: record.Number, Value: fmt.Sprintf("%d.%02d", rng.Intn(100000)-500, rng.Intn(100))})
	}
	if rng.Intn(6) == 0 {
		rec = append(rec, record.Field{Name: "Closed", Kind: record.Null})
	}
	rec = append(rec,
		record.Field{Name: "Id", Kind: record.String, Value: id},
		record.Field{Name: "Name", Kind: record.String, Value: fmt.Sprintf("%x", rng.Int63())},
		record.Field{Name: "Pad", Kind: record.String, Value: strings.Repeat(string(rune('a'+rng.Intn(26))), n)})
	if rng.Intn(8) == 0 {
		rec = append(rec, record.Field{Name: "Zeta__c", Kind: record.String, Value: "\"quoted\" é\n"})
	}
	return rec
}

// render is a record's JSON rendering ("" when absent): injective for
// valid records, so comparing renderings compares records exactly.
func render(rec record.Record) string {
	if rec == nil {
		return ""
	}
	b, err := rec.MarshalJSON()
	if err != nil {
		return "invalid: " + err.Error()
	}
	return string(b)
}

func checkSnapshot(t *testing.T, r *Repository, s *Snapshot, m model) {
	t.Helper()
	objs, err := r.Objects(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.Records == 0 && m[o.Name] == nil {
			continue // an object holding only files
		}
		names = append(names, o.Name)
		if o.Records != uint64(len(m[o.Name])) {
			t.Fatalf("snapshot %s object %s: count %d, model %d", s.ID.Short(), o.Name, o.Records, len(m[o.Name]))
		}
		if s.Objects[o.Name].Records != o.Records {
			t.Fatalf("snapshot stats count %d vs tree %d", s.Objects[o.Name].Records, o.Records)
		}
		// EachRecord's records are the caller's: kept, rendered at the end.
		// ScanRecords reuses its record: rendered during the call.
		kept := map[string]record.Record{}
		scanned := map[string]string{}
		for _, scan := range []bool{false, true} {
			each := r.EachRecord
			if scan {
				each = r.ScanRecords
			}
			prev := ""
			err := each(ctx, s, o.Name, "", func(id string, rec record.Record) error {
				if id <= prev {
					return fmt.Errorf("ids out of order: %q after %q", id, prev)
				}
				prev = id
				if scan {
					scanned[id] = render(rec)
				} else {
					kept[id] = rec
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(kept) != len(m[o.Name]) || len(scanned) != len(m[o.Name]) {
			t.Fatalf("object %s: iterated %d and scanned %d records, model %d", o.Name, len(kept), len(scanned), len(m[o.Name]))
		}
		for id, v := range m[o.Name] {
			if got := render(kept[id]); got != render(v) {
				t.Fatalf("object %s record %s: iterated %q, model %q", o.Name, id, got, render(v))
			}
			if scanned[id] != render(v) {
				t.Fatalf("object %s record %s: scanned %q, model %q", o.Name, id, scanned[id], render(v))
			}
		}
	}
	var want []string
	for o := range m {
		want = append(want, o)
	}
	sort.Strings(want)
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("objects %v, model %v", names, want)
	}
	// Point lookups, present and absent.
	for o, recs := range m {
		n := 0
		for id, v := range recs {
			got, ok, err := r.Record(ctx, s, o, id)
			if err != nil || !ok || !got.Equal(v) {
				t.Fatalf("Record(%s,%s) = %#v,%v,%v; want %#v", o, id, got, ok, err, v)
			}
			if n++; n > 20 {
				break
			}
		}
		if _, ok, err := r.Record(ctx, s, o, "zzzzzzzzzzzzzzzzzz"); ok || err != nil {
			t.Fatalf("absent record found: %v %v", ok, err)
		}
	}
}

type modelChange struct {
	obj, id  string
	kind     ChangeKind
	old, new string
}

func modelDiff(a, b model) []modelChange {
	var out []modelChange
	objs := map[string]bool{}
	for o := range a {
		objs[o] = true
	}
	for o := range b {
		objs[o] = true
	}
	for o := range objs {
		ids := map[string]bool{}
		for id := range a[o] {
			ids[id] = true
		}
		for id := range b[o] {
			ids[id] = true
		}
		for id := range ids {
			av, aok := a[o][id]
			bv, bok := b[o][id]
			switch {
			case aok && !bok:
				out = append(out, modelChange{o, id, Deleted, render(av), ""})
			case !aok && bok:
				out = append(out, modelChange{o, id, Added, "", render(bv)})
			case render(av) != render(bv):
				out = append(out, modelChange{o, id, Changed, render(av), render(bv)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].obj != out[j].obj {
			return out[i].obj < out[j].obj
		}
		return out[i].id < out[j].id
	})
	return out
}

func repoDiff(t *testing.T, r *Repository, a, b *Snapshot) []modelChange {
	var out []modelChange
	err := r.Diff(ctx, a, b, func(c Change) error {
		if c.What != "record" {
			return nil
		}
		out = append(out, modelChange{c.Object, c.ID, c.Kind, render(c.Old), render(c.New)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPropertyModel: random sequences of puts, deletes, object replacement
// and commits; every snapshot reads back exactly as the model, and the diff
// between any two snapshots is exactly the model's diff.
func TestPropertyModel(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			r := newTestRepo(t, t.TempDir())
			defer func() { r.Close() }()
			objects := []string{"Account", "Contact", "Custom__c"}
			prefixes := map[string]string{"Account": "001", "Contact": "003", "Custom__c": "a01"}
			cur := model{}
			var snaps []*Snapshot
			var models []model
			var parent *Snapshot
			sawDelta, sawBaseOnly := 0, 0
			defer func() {
				if sawDelta == 0 || sawBaseOnly == 0 {
					t.Errorf("the sequence never exercised deltas (%d) or rebased/replaced bases (%d)", sawDelta, sawBaseOnly)
				}
			}()
			for step := 0; step < 12; step++ {
				w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Org: "00D000000000001"})
				if err != nil {
					t.Fatal(err)
				}
				next := cur.clone()
				stats := map[string]*ObjectStats{}
				for _, o := range objects {
					if next[o] == nil {
						next[o] = map[string]record.Record{}
					}
					stats[o] = &ObjectStats{}
					if rng.Intn(6) == 0 && len(cur[o]) > 0 {
						// A full re-read: keep most records, change some.
						if err := w.ReplaceObject(ctx, o); err != nil {
							t.Fatal(err)
						}
						rebuilt := map[string]record.Record{}
						for id, v := range cur[o] {
							if rng.Intn(10) == 0 {
								continue
							}
							if rng.Intn(8) == 0 {
								v = randRecord(rng, id)
							}
							rebuilt[id] = v
						}
						for i := rng.Intn(20); i > 0; i-- {
							id := randID(rng, prefixes[o])
							rebuilt[id] = randRecord(rng, id)
						}
						for id, v := range rebuilt {
							if err := w.PutRecord(ctx, o, id, v); err != nil {
								t.Fatal(err)
							}
						}
						next[o] = rebuilt
						continue
					}
					ids := keys(next[o])
					for i := rng.Intn(80); i > 0; i-- {
						switch op := rng.Intn(10); {
						case op < 4 || len(ids) == 0: // insert
							id := randID(rng, prefixes[o])
							v := randRecord(rng, id)
							next[o][id] = v
							ids = append(ids, id)
							must(t, w.PutRecord(ctx, o, id, v))
						case op < 7: // update (sometimes to the same value, sometimes back to the base's)
							id := ids[rng.Intn(len(ids))]
							v := randRecord(rng, id)
							if rng.Intn(5) == 0 {
								if old, ok := cur[o][id]; ok {
									v = old
								}
							}
							next[o][id] = v
							must(t, w.PutRecord(ctx, o, id, v))
						case op < 9: // delete
							id := ids[rng.Intn(len(ids))]
							delete(next[o], id)
							must(t, w.DeleteRecord(ctx, o, id))
						default: // delete something absent
							must(t, w.DeleteRecord(ctx, o, randID(rng, prefixes[o])))
						}
					}
				}
				s, err := w.Commit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// Counts in the snapshot agree with the model diff.
				md := modelDiff(cur, next)
				for _, o := range objects {
					var a, c, d uint64
					for _, ch := range md {
						if ch.obj != o {
							continue
						}
						switch ch.kind {
						case Added:
							a++
						case Changed:
							c++
						case Deleted:
							d++
						}
					}
					st := s.Objects[o]
					if st.Added != a || st.Changed != c || st.Deleted != d {
						t.Fatalf("step %d %s: stats +%d ~%d -%d, model +%d ~%d -%d", step, o, st.Added, st.Changed, st.Deleted, a, c, d)
					}
				}
				if rng.Intn(3) == 0 {
					r = reopen(t, r)
				}
				checkSnapshot(t, r, s, next)
				objs, _ := r.Objects(ctx, s)
				for _, o := range objs {
					if len(o.root.Runs) > 0 {
						sawDelta++
					} else if !o.root.Base.IsZero() && step > 0 {
						sawBaseOnly++
					}
				}
				snaps, models = append(snaps, s), append(models, next)
				parent, cur = s, next
			}
			// Diff between random pairs (and with nothing) equals the model.
			for i := 0; i < 15; i++ {
				a, b := rng.Intn(len(snaps)), rng.Intn(len(snaps))
				got := repoDiff(t, r, snaps[a], snaps[b])
				want := modelDiff(models[a], models[b])
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("diff %d→%d: got %d changes, want %d\n got %v\nwant %v", a, b, len(got), len(want), trunc(got), trunc(want))
				}
			}
			if got, want := repoDiff(t, r, nil, snaps[0]), modelDiff(model{}, models[0]); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("diff from empty: %d vs %d", len(got), len(want))
			}
		})
	}
}

func trunc(c []modelChange) []modelChange {
	if len(c) > 5 {
		return c[:5]
	}
	return c
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
