package tree

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"
)

const benchN = 1_000_000

// readOnlyStore reads from a MemStore and hashes but drops puts, so that
// benchmarks of repeated edits do not grow the store.
type readOnlyStore struct{ *MemStore }

func (s readOnlyStore) PutNode(ctx context.Context, data []byte) (ID, error) {
	return blake3.Sum256(data), nil
}

// BenchmarkBuild puts 1M entries in random order and commits (the first
// full snapshot of a 1M-record object), with the default buffer of 100K
// edits, so 9 sorted runs are spilled and merged.
func BenchmarkBuild(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, benchN)
	vals := make([][]byte, benchN)
	for i, p := range r.Perm(benchN) {
		keys[i], vals[i] = sfID(uint64(p)), randVal(r, 32)
	}
	cfg := Config{TempDir: b.TempDir()}
	b.ReportAllocs()
	for b.Loop() {
		e := NewEditor(readOnlyStore{NewMemStore()}, ID{}, cfg)
		for i := range keys {
			e.Put(keys[i], vals[i])
		}
		if _, err := e.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/entry")
}

// BenchmarkEdit changes 1% of a 1M-entry tree at random and commits.
func BenchmarkEdit(b *testing.B) {
	cfg := Config{TempDir: b.TempDir()}
	s, root, keys := bigTree(b, benchN, cfg)
	r := rand.New(rand.NewPCG(3, 4))
	ro := readOnlyStore{s}
	b.ReportAllocs()
	for b.Loop() {
		e := NewEditor(ro, root, cfg)
		for range benchN / 100 {
			e.Put(keys[r.IntN(len(keys))], randVal(r, 32))
		}
		if _, err := e.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiff diffs two 1M-entry trees that differ in 1% of the values.
func BenchmarkDiff(b *testing.B) {
	cfg := Config{TempDir: b.TempDir()}
	s, root, keys := bigTree(b, benchN, cfg)
	root2 := editRandom(b, s, root, cfg, keys, benchN/100, 5)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := Diff(ctx, s, root, root2, func(Change) error { n++; return nil }); err != nil || n < benchN/100*99/100 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkGet looks up random keys of a 1M-entry tree (present and absent).
func BenchmarkGet(b *testing.B) {
	s, root, keys := bigTree(b, benchN, Config{TempDir: b.TempDir()})
	r := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		i := r.IntN(len(keys))
		if _, ok, err := Get(ctx, s, root, keys[i]); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkIter streams all entries of a 1M-entry tree.
func BenchmarkIter(b *testing.B) {
	s, root, _ := bigTree(b, benchN, Config{TempDir: b.TempDir()})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		it := Iter(ctx, s, root, nil)
		for it.Next() {
			n++
		}
		if it.Err() != nil || n != benchN {
			b.Fatal(n, it.Err())
		}
	}
}
