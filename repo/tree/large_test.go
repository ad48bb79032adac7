package tree

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// bigTree builds a tree of n Salesforce-like Ids with 32-byte random
// values, put in random order. It returns the store, the root and the keys
// in order.
func bigTree(tb testing.TB, n int, cfg Config) (*MemStore, ID, [][]byte) {
	tb.Helper()
	r := rand.New(rand.NewPCG(42, uint64(n)))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = sfID(uint64(i) * 3) // gaps leave room for inserts
	}
	s := NewMemStore()
	e := NewEditor(s, ID{}, cfg)
	for _, i := range r.Perm(n) {
		e.Put(keys[i], randVal(r, 32))
	}
	root, err := e.Commit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s, root, keys
}

// editRandom changes the values of k random existing keys.
func editRandom(tb testing.TB, s NodeStore, root ID, cfg Config, keys [][]byte, k int, seed uint64) ID {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	e := NewEditor(s, root, cfg)
	for range k {
		e.Put(keys[r.IntN(len(keys))], randVal(r, 32))
	}
	root, err := e.Commit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// TestWriteAmplification builds 1M entries and measures the bytes of new
// nodes written by edits, against the bytes of the whole tree.
//
// For K random changes over L leaves, a fraction 1-exp(-K/L) of the leaves
// contains a change, and every node containing a changed entry must be
// rewritten in any content-addressed tree. With ~4 KiB leaves (~70 entries),
// 1% random changes touch about half the leaves, so the new bytes are
// bounded below by about half the tree: the ≤3% target of the brief cannot
// hold for random edits at this node size (it would need leaves of ~3
// entries). The test therefore asserts that random edits write no more than
// the unavoidable leaves plus their ancestors, and that the realistic
// Salesforce growth case (1% new records, whose Ids sort after the existing
// ones, plus 0.01% scattered updates) stays under 3%.
func TestWriteAmplification(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	cfg := Config{TempDir: t.TempDir()}
	s, root, keys := bigTree(t, n, cfg)
	total := s.Stats().Bytes
	leaves, leafBytes, internal, internalBytes := checkShape(t, s, cfg, root)
	t.Logf("%d entries: %d leaves (%d B, mean %d B), %d internal nodes (%d B), %d B total",
		n, leaves, leafBytes, leafBytes/leaves, internal, internalBytes, total)

	ctx := context.Background()
	// One change: one node per level.
	before := s.Stats()
	r1 := editRandom(t, s, root, cfg, keys, 1, 1)
	d := s.Stats()
	if nodes, gets := d.NewNodes-before.NewNodes, d.Gets-before.Gets; nodes > 6 || gets > 6 {
		t.Errorf("one change: %d new nodes, %d reads", nodes, gets)
	}
	if got, _ := Count(ctx, s, r1); got != uint64(n) {
		t.Fatalf("count %d", got)
	}

	// 1% random changes.
	k := n / 100
	before = s.Stats()
	r2 := editRandom(t, s, root, cfg, keys, k, 2)
	d = s.Stats()
	newBytes := d.NewBytes - before.NewBytes
	frac := 1 - math.Exp(-float64(k)/float64(leaves))
	bound := frac*float64(leafBytes) + float64(internalBytes)
	t.Logf("1%% random changes: %d new nodes, %d B = %.1f%% of the tree (unavoidable ≈ %.1f%%), %d node reads",
		d.NewNodes-before.NewNodes, newBytes, 100*float64(newBytes)/float64(total), 100*bound/float64(total), d.Gets-before.Gets)
	if float64(newBytes) > 1.15*bound {
		t.Errorf("random edits wrote %d B, more than 1.15 × the %.0f B unavoidable", newBytes, bound)
	}
	var changes int
	if err := Diff(ctx, s, root, r2, func(Change) error { changes++; return nil }); err != nil || changes < k*99/100 || changes > k {
		t.Fatalf("diff: %d changes, %v", changes, err)
	}

	// 1% appended records (the usual daily growth) plus 0.01% updates.
	before = s.Stats()
	r := rand.New(rand.NewPCG(3, 3))
	e := NewEditor(s, root, cfg)
	for i := range k {
		e.Put(sfID(uint64(3*n+i)), randVal(r, 32))
	}
	for range k / 100 {
		e.Put(keys[r.IntN(n)], randVal(r, 32))
	}
	if _, err := e.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	d = s.Stats()
	newBytes = d.NewBytes - before.NewBytes
	t.Logf("1%% appends + 0.01%% random changes: %d B = %.2f%% of the tree", newBytes, 100*float64(newBytes)/float64(total))
	if float64(newBytes) > 0.03*float64(total) {
		t.Errorf("appends wrote %d B, more than 3%% of %d", newBytes, total)
	}
}
