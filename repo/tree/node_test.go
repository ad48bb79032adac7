package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

// encodeNode encodes n as a builder with delimiter d would.
func encodeNode(n *Node, d ValueDelimiter) []byte {
	if n.Leaf() {
		return encodeLeaf(nil, d, n.keys, n.vals)
	}
	b := nodeHeader(nil, NodeVersion, n.level, n.Len())
	for i := range n.Len() {
		b = appendRefEntry(b, n.keys[i], n.ids[i], n.counts[i])
	}
	return b
}

// lenByte is a ValueDelimiter standing in for the repository's record
// encoding: a value is a byte n followed by n bytes.
type lenByte struct{}

var errLenByte = errors.New("truncated value")

func (lenByte) ValueLen(b []byte) (int, error) {
	if len(b) == 0 || 1+int(b[0]) > len(b) {
		return 0, errLenByte
	}
	return 1 + int(b[0]), nil
}

// lenByteStore is a MemStore whose leaves may be compact (values in the
// lenByte encoding).
type lenByteStore struct {
	*MemStore
	lenByte
}

// badDelim is a ValueDelimiter that breaks its contract: it returns len
// whatever the bytes.
type badDelim struct{ len int }

func (d badDelim) ValueLen([]byte) (int, error) { return d.len, nil }

func sampleNodes() [][]byte {
	leaf := nodeHeader(nil, NodeVersion, 0, 2)
	leaf = appendLeafEntry(leaf, []byte("001A"), []byte("v1"))
	leaf = appendLeafEntry(leaf, []byte("001B"), nil)
	in := nodeHeader(nil, NodeVersion, 1, 2)
	in = appendRefEntry(in, []byte("001B"), ID{1}, 2)
	in = appendRefEntry(in, []byte("001Z"), ID{2}, 300)
	return [][]byte{leaf, in}
}

func TestDecodeNode(t *testing.T) {
	nodes := sampleNodes()
	for _, data := range nodes {
		n, err := DecodeNode(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encodeNode(n, nil), data) {
			t.Fatalf("round trip changed %x", data)
		}
	}
	leaf, in := nodes[0], nodes[1]
	if n, _ := DecodeNode(in, nil); n.Total() != 302 || n.Level() != 1 || n.Child(1) != (ID{2}) {
		t.Fatalf("internal node decoded as %+v", n)
	}
	bad := map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{2}, leaf[1:]...),
		"level":        append([]byte{1, 64}, leaf[2:]...),
		"zero entries": {1, 0, 0},
		"huge count":   {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 3, 'a', 0},
		"truncated":    leaf[:len(leaf)-1],
		"trailing":     append(bytes.Clone(leaf), 0),
		"order":        appendLeafEntry(appendLeafEntry([]byte{1, 0, 2}, []byte("b"), nil), []byte("a"), nil),
		"duplicate":    appendLeafEntry(appendLeafEntry([]byte{1, 0, 2}, []byte("a"), nil), []byte("a"), nil),
		"empty key":    {1, 0, 1, 0, 0},
		"long varint":  {1, 0, 1, 0x81, 0x00, 'a', 0},
		"zero count":   appendRefEntry([]byte{1, 1, 1}, []byte("a"), ID{}, 0),
		"child id":     in[:len(in)-10],
		"key too long": appendLeafEntry([]byte{1, 0, 1}, make([]byte, MaxKeyLen+1), nil),
		"value length": appendLeafEntry([]byte{1, 0, 1}, []byte("a"), make([]byte, MaxValueLen+1)),
	}
	for name, data := range bad {
		if _, err := DecodeNode(data, nil); !errors.Is(err, ErrCorruptNode) {
			t.Errorf("%s: got %v, want ErrCorruptNode", name, err)
		}
	}
}

// TestCompactLeaf: a leaf is compact exactly when every value delimits
// itself; compact leaves round-trip; and damaged, truncated or
// non-canonical leaves, compact leaves read without a delimiter and
// delimiters that break their contract are all ErrCorruptNode, never a
// panic.
func TestCompactLeaf(t *testing.T) {
	d := lenByte{}
	keys := [][]byte{[]byte("001A"), []byte("001B"), []byte("001C")}
	vals := [][]byte{{2, 'h', 'i'}, {0}, {5, 1, 2, 3, 4, 5}}
	compact := encodeLeaf(nil, d, keys, vals)
	want := []byte{CompactLeaf, 0, 3, 4, '0', '0', '1', 'A', 2, 'h', 'i', 4, '0', '0', '1', 'B', 0, 4, '0', '0', '1', 'C', 5, 1, 2, 3, 4, 5}
	if !bytes.Equal(compact, want) {
		t.Fatalf("compact leaf\n got %x\nwant %x", compact, want)
	}
	n, err := DecodeNode(compact, d)
	if err != nil {
		t.Fatal(err)
	}
	if n.Len() != 3 || n.Total() != 3 || !bytes.Equal(n.Value(2), vals[2]) || !bytes.Equal(n.Key(1), keys[1]) {
		t.Fatalf("decoded %+v", n)
	}
	if !bytes.Equal(encodeNode(n, d), compact) {
		t.Fatal("compact leaf does not round-trip")
	}
	// One value that does not delimit itself (trailing byte, empty) keeps
	// the whole leaf length-prefixed, and such a leaf reads back.
	for _, odd := range [][]byte{{1, 'x', 'y'}, {}, {9}} {
		mixed := [][]byte{vals[0], odd, vals[2]}
		data := encodeLeaf(nil, d, keys, mixed)
		if data[0] != NodeVersion {
			t.Fatalf("value %x: leaf version %d, want length-prefixed", odd, data[0])
		}
		if n, err := DecodeNode(data, d); err != nil || !bytes.Equal(n.Value(1), odd) {
			t.Fatalf("value %x: %v", odd, err)
		}
	}
	prefixed := encodeLeaf(nil, nil, keys, vals)
	bad := map[string]struct {
		data []byte
		d    ValueDelimiter
	}{
		"no delimiter":                  {compact, nil},
		"prefixed but could be compact": {prefixed, d},
		"compact internal node":         {append([]byte{CompactLeaf, 1}, compact[2:]...), d},
		"value runs past the end":       {append(bytes.Clone(compact[:len(compact)-6]), 9, 1, 2), d},
		"trailing":                      {append(bytes.Clone(compact), 0), d},
		"delimiter says 0":              {compact, badDelim{0}},
		"delimiter says -1":             {compact, badDelim{-1}},
		"delimiter overruns":            {compact, badDelim{1 << 20}},
		"delimiter too long":            {compact, badDelim{MaxValueLen + 1}},
	}
	for cut := range len(compact) {
		bad[fmt.Sprint("truncated at ", cut)] = struct {
			data []byte
			d    ValueDelimiter
		}{compact[:cut], d}
	}
	for name, c := range bad {
		if _, err := DecodeNode(c.data, c.d); !errors.Is(err, ErrCorruptNode) {
			t.Errorf("%s: got %v, want ErrCorruptNode", name, err)
		}
	}
	// Any single damaged byte: an error, or a node that re-encodes to the
	// same bytes; never a panic.
	for i := range compact {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			data := bytes.Clone(compact)
			data[i] ^= x
			if n, err := DecodeNode(data, d); err == nil && !bytes.Equal(encodeNode(n, d), data) {
				t.Fatalf("byte %d ^ %#x: non-canonical node accepted", i, x)
			} else if err != nil && !errors.Is(err, ErrCorruptNode) {
				t.Fatalf("byte %d ^ %#x: %v", i, x, err)
			}
		}
	}
}

// FuzzDecodeNode checks that the decoder never panics, and that whatever it
// accepts is in canonical form (re-encodes to the same bytes), so a node
// has exactly one encoding.
func FuzzDecodeNode(f *testing.F) {
	for _, n := range sampleNodes() {
		f.Add(n)
	}
	f.Add([]byte{1, 0, 1, 1, 'a', 0})
	f.Add([]byte{2, 0, 2, 1, 'a', 0, 1, 'b', 1, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range []ValueDelimiter{nil, lenByte{}} {
			n, err := DecodeNode(data, d)
			if err != nil {
				if !errors.Is(err, ErrCorruptNode) {
					t.Fatalf("error %v does not wrap ErrCorruptNode", err)
				}
				continue
			}
			if !bytes.Equal(encodeNode(n, d), data) {
				t.Fatalf("non-canonical node accepted (delimiter %v): %x", d, data)
			}
		}
	})
}

// TestCorruptTree damages stored nodes and checks that every reader and the
// editor report ErrCorruptNode (or the store's error) instead of panicking
// or answering wrongly.
func TestCorruptTree(t *testing.T) {
	ctx := context.Background()
	cfg := smallCfg()
	m := map[string]string{}
	for i := range uint64(500) {
		m[string(sfID(i))] = fmt.Sprint(i)
	}
	for _, damage := range []string{"garbage", "swap", "level", "missing"} {
		var leafID, otherLeaf, internalID ID
		s := NewMemStore()
		root := build(t, s, cfg, m)
		other := build(t, s, cfg, map[string]string{"zzz": "1"})
		otherLeaf = other
		WalkNodes(ctx, s, root, nil, func(id ID, n *Node) error {
			if n.Leaf() && leafID == (ID{}) {
				leafID = id
			}
			if n.Level() == 1 && internalID == (ID{}) {
				internalID = id
			}
			return nil
		})
		leafData, _ := s.GetNode(ctx, otherLeaf)
		internalData, _ := s.GetNode(ctx, internalID)
		wantErr := ErrCorruptNode
		switch damage {
		case "garbage":
			s.Corrupt(leafID, []byte{1, 0, 9, 9, 9})
		case "swap": // a valid node in the wrong place
			s.Corrupt(leafID, leafData)
		case "level":
			s.Corrupt(leafID, internalData)
		case "missing":
			s.mu.Lock()
			delete(s.nodes, leafID)
			s.mu.Unlock()
			wantErr = ErrNodeNotFound
		}
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, wantErr) {
				t.Errorf("%s, %s: got %v, want %v", damage, what, err, wantErr)
			}
		}
		var k []byte // the smallest key, in the first leaf
		for key := range m {
			if k == nil || key < string(k) {
				k = []byte(key)
			}
		}
		_, _, err := Get(ctx, s, root, k)
		check("Get", err)
		it := Iter(ctx, s, root, nil)
		for it.Next() {
		}
		check("Iter", it.Err())
		check("Diff", Diff(ctx, s, root, other, func(Change) error { return nil }))
		check("WalkNodes", WalkNodes(ctx, s, root, nil, nil))
		e := NewEditor(s, root, cfg)
		e.Put(k, []byte("x"))
		_, err = e.Commit(ctx)
		check("Commit", err)
	}
}

func TestWalkNodesSkip(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	cfg := smallCfg()
	m := map[string]string{}
	for i := range uint64(2000) {
		m[string(sfID(i))] = "v"
	}
	a := build(t, s, cfg, m)
	m[string(sfID(1500))] = "changed"
	b := build(t, s, cfg, m)
	// Mark a fully, then b skipping what is marked: only b's new path is
	// entered and read.
	marked := map[ID]bool{}
	enter := func(id ID, level int) error {
		if marked[id] {
			return SkipSubtree
		}
		marked[id] = true
		return nil
	}
	if err := WalkNodes(ctx, s, a, enter, nil); err != nil {
		t.Fatal(err)
	}
	nA := len(marked)
	gets := s.Stats().Gets
	var visited int
	if err := WalkNodes(ctx, s, b, enter, func(ID, *Node) error { visited++; return nil }); err != nil {
		t.Fatal(err)
	}
	if int64(len(marked)) != s.Stats().Nodes {
		t.Fatalf("marked %d nodes, store holds %d", len(marked), s.Stats().Nodes)
	}
	reads := s.Stats().Gets - gets
	if newNodes := len(marked) - nA; visited != newNodes || reads > int64(newNodes)+1 {
		t.Fatalf("b: %d new nodes, %d visited, %d read", newNodes, visited, reads)
	}
}

// failingStore fails every PutNode after the first okPuts.
type failingStore struct {
	*MemStore
	okPuts int
}

var errStoreFull = errors.New("store full")

func (s *failingStore) PutNode(ctx context.Context, data []byte) (ID, error) {
	if s.okPuts == 0 {
		return ID{}, errStoreFull
	}
	s.okPuts--
	return s.MemStore.PutNode(ctx, data)
}

// TestCommitErrorCleansUp checks that a failed or cancelled Commit returns
// the error, removes the spill files, and leaves the Editor usable.
func TestCommitErrorCleansUp(t *testing.T) {
	dir := t.TempDir()
	cfg := smallCfg()
	cfg.BufferEdits, cfg.TempDir = 50, dir
	fs := &failingStore{MemStore: NewMemStore(), okPuts: 10}
	e := NewEditor(fs, ID{}, cfg)
	put := func() {
		for i := range uint64(1000) {
			e.Put(sfID(i), []byte("v"))
		}
	}
	put()
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("expected a spill dir, have %v", ents)
	}
	if _, err := e.Commit(context.Background()); !errors.Is(err, errStoreFull) {
		t.Fatalf("got %v, want the store's error", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spill files left: %v", ents)
	}
	put()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fs.okPuts = 1 << 30
	if _, err := e.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	put()
	if _, err := e.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spill files left: %v", ents)
	}
}

// TestDiffReadsOnlyChangedPaths checks that Diff skips equal subtrees:
// diffing trees that differ in one entry reads one path per tree, and a
// tree against a copy of itself with entries appended on the right reads
// only the right edge.
func TestDiffReadsOnlyChangedPaths(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	cfg := smallCfg()
	m := map[string]string{}
	for i := range uint64(20000) {
		m[string(sfID(i*2))] = "v"
	}
	a := build(t, s, cfg, m)
	var height int
	WalkNodes(ctx, s, a, func(_ ID, level int) error { height = max(height, level+1); return nil }, nil)
	e := NewEditor(s, a, cfg)
	e.Put(sfID(20001), []byte("new"))
	b, err := e.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]ID{{a, b}, {b, a}} {
		gets := s.Stats().Gets
		var changes []Change
		Diff(ctx, s, pair[0], pair[1], func(c Change) error { changes = append(changes, c); return nil })
		reads := s.Stats().Gets - gets
		if len(changes) != 1 || string(changes[0].Key) != string(sfID(20001)) {
			t.Fatalf("changes %v", changes)
		}
		if reads > int64(2*height+4) {
			t.Fatalf("diff read %d nodes for a height-%d tree", reads, height)
		}
		t.Logf("one change, height %d: %d node reads", height, reads)
	}
	// A subtree of a at a different level in c: c is a's first ~third,
	// so c's subtrees appear in a at other positions in their parents.
	c := build(t, s, cfg, func() map[string]string {
		mc := map[string]string{}
		for i := range uint64(7000) {
			mc[string(sfID(i*2))] = "v"
		}
		return mc
	}())
	gets := s.Stats().Gets
	n := 0
	Diff(ctx, s, a, c, func(Change) error { n++; return nil })
	if n != 13000 {
		t.Fatalf("%d changes", n)
	}
	reads := s.Stats().Gets - gets
	// Diff reads each node that is in only one of the trees, plus the two
	// roots once more; never a shared node.
	nodes, shared := 0, 0
	inA := map[ID]bool{}
	WalkNodes(ctx, s, a, func(id ID, _ int) error { inA[id] = true; nodes++; return nil }, nil)
	WalkNodes(ctx, s, c, func(id ID, _ int) error {
		nodes++
		if inA[id] {
			shared++
		}
		return nil
	}, nil)
	t.Logf("prefix diff: %d node reads; the trees have %d nodes, %d of c's are in a", reads, nodes, shared)
	if unshared := nodes - 2*shared; reads > int64(unshared+2) {
		t.Fatalf("diff read %d nodes, more than the %d not shared", reads, unshared)
	}
}
