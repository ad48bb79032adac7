package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

func encodeNode(n *Node) []byte {
	b := nodeHeader(nil, n.level, n.Len())
	for i := range n.Len() {
		if n.Leaf() {
			b = appendLeafEntry(b, n.keys[i], n.vals[i])
		} else {
			b = appendRefEntry(b, n.keys[i], n.ids[i], n.counts[i])
		}
	}
	return b
}

func sampleNodes() [][]byte {
	leaf := nodeHeader(nil, 0, 2)
	leaf = appendLeafEntry(leaf, []byte("001A"), []byte("v1"))
	leaf = appendLeafEntry(leaf, []byte("001B"), nil)
	in := nodeHeader(nil, 1, 2)
	in = appendRefEntry(in, []byte("001B"), ID{1}, 2)
	in = appendRefEntry(in, []byte("001Z"), ID{2}, 300)
	return [][]byte{leaf, in}
}

func TestDecodeNode(t *testing.T) {
	nodes := sampleNodes()
	for _, data := range nodes {
		n, err := DecodeNode(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encodeNode(n), data) {
			t.Fatalf("round trip changed %x", data)
		}
	}
	leaf, in := nodes[0], nodes[1]
	if n, _ := DecodeNode(in); n.Total() != 302 || n.Level() != 1 || n.Child(1) != (ID{2}) {
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
		if _, err := DecodeNode(data); !errors.Is(err, ErrCorruptNode) {
			t.Errorf("%s: got %v, want ErrCorruptNode", name, err)
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
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNode(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptNode) {
				t.Fatalf("error %v does not wrap ErrCorruptNode", err)
			}
			return
		}
		if !bytes.Equal(encodeNode(n), data) {
			t.Fatalf("non-canonical node accepted: %x", data)
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
