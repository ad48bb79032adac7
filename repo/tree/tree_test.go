package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/zeebo/blake3"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sfID returns an 18-character Id shaped like Salesforce's: key prefix
// "001", pod "5g", a reserved "0", a 9-character base62 sequence, and a
// 3-character suffix (here a hash, standing in for the case-safety suffix).
// Ids sort in sequence order.
func sfID(seq uint64) []byte {
	id := []byte("0015g0000000000AAA")
	for i := 14; i >= 6; i-- {
		id[i] = base62[seq%62]
		seq /= 62
	}
	h := blake3.Sum256(id[:15])
	for i := 0; i < 3; i++ {
		id[15+i] = base62[h[i]%62]
	}
	return id
}

// smallCfg makes deep trees out of few entries.
func smallCfg() Config {
	return Config{Key: [32]byte{7}, MinNode: 64, TargetNode: 256, MaxNode: 1024}
}

func randVal(r *rand.Rand, n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// modelEntries returns the model's entries in key order.
func modelKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// checkTree asserts that the tree rooted at root holds exactly m, through
// Iter (from the start and from random keys), Get, Count and the node
// invariants.
func checkTree(t *testing.T, s NodeStore, cfg Config, root ID, m map[string]string, r *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	keys := modelKeys(m)
	it := Iter(ctx, s, root, nil)
	i := 0
	for it.Next() {
		if i >= len(keys) || string(it.Key()) != keys[i] || string(it.Value()) != m[keys[i]] {
			t.Fatalf("iter entry %d: %q=%x, want %q", i, it.Key(), it.Value(), keys[min(i, len(keys)-1)])
		}
		i++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(keys) {
		t.Fatalf("iterated %d entries, want %d", i, len(keys))
	}
	if n, err := Count(ctx, s, root); err != nil || n != uint64(len(keys)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(keys))
	}
	for range 20 {
		var k string
		if len(keys) > 0 && r.IntN(2) == 0 {
			k = keys[r.IntN(len(keys))]
		} else {
			k = string(sfID(r.Uint64N(5000)))
		}
		v, ok, err := Get(ctx, s, root, []byte(k))
		want, wantOK := m[k]
		if err != nil || ok != wantOK || string(v) != want {
			t.Fatalf("Get(%q) = %x, %v, %v; want %x, %v", k, v, ok, err, want, wantOK)
		}
		// Iter from k.
		j, _ := slices.BinarySearch(keys, k)
		it := Iter(ctx, s, root, []byte(k))
		if it.Next() != (j < len(keys)) || (j < len(keys) && string(it.Key()) != keys[j]) {
			t.Fatalf("Iter from %q: wrong first key", k)
		}
	}
	checkShape(t, s, cfg, root)
}

// checkShape asserts node weights are within [MinNode, MaxNode + one entry)
// for every node but the last of its level.
func checkShape(t *testing.T, s NodeStore, cfg Config, root ID) (leaves, leafBytes, internal, internalBytes int) {
	t.Helper()
	cfg, _ = cfg.withDefaults()
	sp := newSplitter(cfg)
	var maxKey []byte
	err := WalkNodes(context.Background(), s, root, nil, func(id ID, n *Node) error {
		last := n.Key(n.Len() - 1)
		if maxKey == nil {
			maxKey = bytes.Clone(last)
		}
		data, _ := s.GetNode(context.Background(), id)
		if n.Leaf() {
			leaves++
			leafBytes += len(data)
		} else {
			internal++
			internalBytes += len(data)
		}
		var w, maxW uint64
		for i := range n.Len() {
			ew := sp.weight(n.Level(), n.Key(i))
			w += ew
			maxW = max(maxW, ew)
		}
		if w >= uint64(cfg.MaxNode)+maxW {
			return fmt.Errorf("node %x level %d weight %d above max", id[:4], n.Level(), w)
		}
		if !bytes.Equal(last, maxKey) && w < uint64(cfg.MinNode) {
			return fmt.Errorf("node %x level %d weight %d below min", id[:4], n.Level(), w)
		}
		if !n.Leaf() && n.Len() == 1 && id == root {
			return fmt.Errorf("root %x has a single child", id[:4])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

// build returns the canonical tree of m built from scratch.
func build(t testing.TB, s NodeStore, cfg Config, m map[string]string) ID {
	t.Helper()
	e := NewEditor(s, ID{}, cfg)
	for k, v := range m { // map order: random
		e.Put([]byte(k), []byte(v))
	}
	root, err := e.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func modelDiff(a, b map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if v, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("-%s=%x", k, a[k]))
		} else if v != a[k] {
			out = append(out, fmt.Sprintf("~%s=%x>%x", k, a[k], v))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("+%s=%x", k, v))
		}
	}
	slices.SortFunc(out, func(x, y string) int { return bytes.Compare([]byte(x[1:19]), []byte(y[1:19])) })
	return out
}

func treeDiff(t *testing.T, s NodeStore, a, b ID) []string {
	t.Helper()
	var out []string
	err := Diff(context.Background(), s, a, b, func(c Change) error {
		switch {
		case c.Old == nil:
			out = append(out, fmt.Sprintf("+%s=%x", c.Key, c.New))
		case c.New == nil:
			out = append(out, fmt.Sprintf("-%s=%x", c.Key, c.Old))
		default:
			out = append(out, fmt.Sprintf("~%s=%x>%x", c.Key, c.Old, c.New))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type version struct {
	root ID
	m    map[string]string
}

// TestModel applies random batches of puts and deletes, in random key
// order, and checks every committed tree against a map: contents, Get,
// Count, Iter, node shape, history independence (a fresh build of the same
// contents has the same root) and Diff against every earlier version.
func TestModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		keys   uint64
		steps  int

		delim bool // values mostly self-delimiting, in a store that delimits them
	}{
		{"memory", 0, 3000, 40, false},
		{"spill", 7, 600, 25, false},
		{"spill-compact", 2, 400, 6, false},
		{"delimited", 0, 3000, 30, true},
		{"delimited-spill", 7, 600, 15, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			cfg := smallCfg()
			cfg.BufferEdits = tc.buffer
			cfg.TempDir = t.TempDir()
			mem := NewMemStore()
			var s NodeStore = mem
			randValue := func() []byte { return randVal(r, r.IntN(70)) }
			if tc.delim {
				s = lenByteStore{MemStore: mem}
				randValue = func() []byte {
					if r.IntN(40) == 0 { // a value that (almost surely) does not delimit itself
						return randVal(r, r.IntN(70))
					}
					n := r.IntN(60)
					return append([]byte{byte(n)}, randVal(r, n)...)
				}
			}
			ed := NewEditor(s, ID{}, cfg)
			m := map[string]string{}
			versions := []version{{ID{}, map[string]string{}}}
			for step := range tc.steps {
				nops := r.IntN(300)
				if step == 0 || r.IntN(8) == 0 {
					nops = r.IntN(3000) // big batch
				}
				for range nops {
					k := sfID(r.Uint64N(tc.keys))
					switch r.IntN(10) {
					case 0, 1, 2:
						ed.Delete(k)
						delete(m, string(k))
					default:
						v := randValue()
						ed.Put(k, v)
						m[string(k)] = string(v)
					}
				}
				if r.IntN(10) == 0 { // a range deletion
					lo := r.Uint64N(tc.keys)
					for i := lo; i < lo+tc.keys/5; i++ {
						ed.Delete(sfID(i))
						delete(m, string(sfID(i)))
					}
				}
				root, err := ed.Commit(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				checkTree(t, s, cfg, root, m, r)
				if tc.delim {
					checkCompact(t, s, mem, root)
				}
				if fresh := build(t, s, cfg, m); fresh != root {
					t.Fatalf("step %d: history dependence: edited root %x, fresh root %x", step, root[:4], fresh[:4])
				}
				v := version{root, maps.Clone(m)}
				for _, old := range []version{versions[r.IntN(len(versions))], versions[len(versions)-1]} {
					if got, want := treeDiff(t, s, old.root, v.root), modelDiff(old.m, v.m); !slices.Equal(got, want) {
						t.Fatalf("step %d: diff has %d changes, model %d\n got %.5q\nwant %.5q", step, len(got), len(want), got, want)
					}
					if got, want := treeDiff(t, s, v.root, old.root), modelDiff(v.m, old.m); !slices.Equal(got, want) {
						t.Fatalf("step %d: reverse diff has %d changes, model %d", step, len(got), len(want))
					}
				}
				versions = append(versions, v)
			}
			if ents, _ := os.ReadDir(cfg.TempDir); len(ents) != 0 {
				t.Fatalf("temp dir not cleaned: %v", ents)
			}
		})
	}
}

// checkCompact asserts that in a store with a ValueDelimiter (s, over
// mem), exactly the leaves whose values all delimit themselves are
// compact, and that a compact leaf cannot be read without the delimiter.
func checkCompact(t *testing.T, s NodeStore, mem *MemStore, root ID) {
	t.Helper()
	ctx := context.Background()
	d := s.(ValueDelimiter)
	err := WalkNodes(ctx, s, root, nil, func(id ID, n *Node) error {
		data, _ := s.GetNode(ctx, id)
		want := byte(NodeVersion)
		if n.Leaf() && allDelimited(d, n.vals) {
			want = CompactLeaf
		}
		if data[0] != want {
			return fmt.Errorf("node %x (level %d) has version %d, want %d", id[:4], n.Level(), data[0], want)
		}
		if data[0] == CompactLeaf {
			if _, err := loadNode(ctx, mem, id, nil); !errors.Is(err, ErrCorruptNode) {
				return fmt.Errorf("compact leaf read without a delimiter: %v", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLatestEditWins checks ordering of repeated edits of one key, within
// the buffer and across spilled runs.
func TestLatestEditWins(t *testing.T) {
	for _, buffer := range []int{0, 1, 2, 3} {
		s := NewMemStore()
		cfg := smallCfg()
		cfg.BufferEdits, cfg.TempDir = buffer, t.TempDir()
		e := NewEditor(s, ID{}, cfg)
		k := []byte("001000000000000001")
		e.Put(k, []byte("a"))
		e.Put([]byte("001000000000000000"), []byte("x"))
		e.Delete(k)
		e.Put(k, []byte("b"))
		e.Put(k, []byte("c"))
		e.Delete([]byte("001000000000000000"))
		root, err := e.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, s, cfg, root, map[string]string{string(k): "c"}, rand.New(rand.NewPCG(1, 1)))
	}
}

// TestEmpty covers the zero ID: reads, diffs, and deleting everything.
func TestEmpty(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	if _, ok, err := Get(ctx, s, ID{}, []byte("x")); ok || err != nil {
		t.Fatal(ok, err)
	}
	if Iter(ctx, s, ID{}, nil).Next() {
		t.Fatal("empty tree has an entry")
	}
	m := map[string]string{"a": "1", "b": "2"}
	root := build(t, s, Config{}, m)
	if got := treeDiff(t, s, ID{}, root); len(got) != 2 || got[0][0] != '+' {
		t.Fatalf("diff from empty: %q", got)
	}
	e := NewEditor(s, root, Config{})
	e.Delete([]byte("a"))
	e.Delete([]byte("b"))
	if r, err := e.Commit(ctx); err != nil || r != (ID{}) {
		t.Fatalf("deleting everything gave %x, %v", r, err)
	}
	if r, err := e.Commit(ctx); err != nil || r != (ID{}) {
		t.Fatalf("empty commit gave %x, %v", r, err)
	}
}

func TestInvalid(t *testing.T) {
	s := NewMemStore()
	for _, cfg := range []Config{{MinNode: 5000}, {TargetNode: 1 << 17, MaxNode: 1 << 18}, {BufferEdits: -1}} {
		e := NewEditor(s, ID{}, cfg)
		if _, err := e.Commit(context.Background()); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: got %v", cfg, err)
		}
	}
	for _, kv := range [][2][]byte{{nil, nil}, {make([]byte, MaxKeyLen+1), nil}, {[]byte("k"), make([]byte, MaxValueLen+1)}} {
		e := NewEditor(s, ID{}, Config{})
		e.Put(kv[0], kv[1])
		e.Put([]byte("ok"), nil)
		if e.Err() == nil {
			t.Fatal("no error")
		}
		if _, err := e.Commit(context.Background()); err == nil {
			t.Fatal("commit succeeded")
		}
		// The editor is usable again after the failed commit.
		e.Put([]byte("ok"), nil)
		if _, err := e.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	e := NewEditor(s, ID{}, Config{})
	e.Close()
	e.Put([]byte("a"), nil)
	if _, err := e.Commit(context.Background()); err == nil {
		t.Fatal("commit after Close succeeded")
	}
}

func TestSipHashVectors(t *testing.T) {
	// From the SipHash paper (appendix A) and its reference vectors.
	k0, k1 := uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908)
	msg := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	if got := sipHash24(k0, k1, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("15-byte vector: %x", got)
	}
	if got := sipHash24(k0, k1, nil); got != 0x726fdb47dd0e0e31 {
		t.Fatalf("empty vector: %x", got)
	}
}

// TestGolden pins the shape function and node format.
func TestGolden(t *testing.T) {
	s := NewMemStore()
	m := map[string]string{}
	for i := range uint64(5000) {
		m[string(sfID(i*7))] = fmt.Sprintf("v%d", i)
	}
	root := build(t, s, Config{Key: [32]byte{1}}, m)
	const want = "dce0f03cd7a7e39e68c3cbd2178c0a96606032a5314e9aa4f64f526dc8533394"
	if got := fmt.Sprintf("%x", root); got != want {
		t.Fatalf("root %s, want %s", got, want)
	}
}

// TestValuesDoNotMoveBoundaries rewrites every value with a different
// length and checks that every node keeps its keys.
func TestValuesDoNotMoveBoundaries(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	r := rand.New(rand.NewPCG(9, 9))
	m := map[string]string{}
	for i := range uint64(5000) {
		m[string(sfID(i))] = string(randVal(r, 32))
	}
	shape := func(root ID) []string {
		var out []string
		if err := WalkNodes(ctx, s, root, nil, func(_ ID, n *Node) error {
			out = append(out, fmt.Sprintf("%d:%s-%s", n.Level(), n.Key(0), n.Key(n.Len()-1)))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := build(t, s, smallCfg(), m)
	e := NewEditor(s, a, smallCfg())
	for k := range m {
		e.Put([]byte(k), randVal(r, r.IntN(200)))
	}
	b, err := e.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("values did not change")
	}
	if sa, sb := shape(a), shape(b); !slices.Equal(sa, sb) {
		t.Fatalf("node key ranges changed: %d nodes before, %d after", len(sa), len(sb))
	}
}

// TestGetter: a Getter answers as Get does, for keys in order (its use),
// out of order, repeated and absent, and on an empty tree.
func TestGetter(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	s := NewMemStore()
	cfg := smallCfg()
	m := map[string]string{}
	for i := 0; i < 3000; i++ {
		m[string(sfID(uint64(r.IntN(20000))))] = string(randVal(r, 20))
	}
	root := build(t, s, cfg, m)
	var probes [][]byte
	for i := 0; i < 2000; i++ {
		probes = append(probes, sfID(uint64(r.IntN(21000))))
	}
	sorted := slices.Clone(probes)
	slices.SortFunc(sorted, bytes.Compare)
	for _, keys := range [][][]byte{sorted, probes, append(sorted, sorted...)} {
		g := NewGetter(ctx, s, root)
		for _, k := range keys {
			gv, gok, gerr := g.Get(k)
			v, ok, err := Get(ctx, s, root, k)
			if gerr != nil || err != nil || gok != ok || !bytes.Equal(gv, v) {
				t.Fatalf("key %s: getter (%q %v %v), Get (%q %v %v)", k, gv, gok, gerr, v, ok, err)
			}
			if want, in := m[string(k)]; in != ok || (ok && string(v) != want) {
				t.Fatalf("key %s: %q %v, model %q %v", k, v, ok, want, in)
			}
		}
	}
	if _, ok, err := NewGetter(ctx, s, ID{}).Get([]byte("x")); ok || err != nil {
		t.Fatal("empty tree", ok, err)
	}
}
