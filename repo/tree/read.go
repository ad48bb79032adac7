package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// loadNode reads and decodes node id, reusing into if not nil. Compact
// leaves are read with the store's ValueDelimiter, if it has one.
func loadNode(ctx context.Context, s NodeStore, id ID, into *Node) (*Node, error) {
	data, err := s.GetNode(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tree: get node %x: %w", id[:8], err)
	}
	if into == nil {
		into = new(Node)
	}
	d, _ := s.(ValueDelimiter)
	if err := into.decode(data, d); err != nil {
		return nil, fmt.Errorf("tree: decode node %x: %w", id[:8], err)
	}
	return into, nil
}

// loadChild reads child i of parent and checks that it agrees with the
// parent's entry (level, last key, count), so that a tree whose nodes do not
// fit together is reported as corrupt instead of giving wrong answers.
func loadChild(ctx context.Context, s NodeStore, parent *Node, i int, into *Node) (*Node, error) {
	id := parent.ids[i]
	c, err := loadNode(ctx, s, id, into)
	if err != nil {
		return nil, err
	}
	switch {
	case c.level != parent.level-1:
		err = corrupt("level %d under a node of level %d", c.level, parent.level)
	case !bytes.Equal(c.keys[len(c.keys)-1], parent.keys[i]):
		err = corrupt("last key %q, parent says %q", c.keys[len(c.keys)-1], parent.keys[i])
	case c.total != parent.counts[i]:
		err = corrupt("%d entries, parent says %d", c.total, parent.counts[i])
	}
	if err != nil {
		return nil, fmt.Errorf("tree: node %x: %w", id[:8], err)
	}
	return c, nil
}

// Get returns the value of key in the tree rooted at root, reading one node
// per level. The value aliases node bytes: copy it to keep it.
func Get(ctx context.Context, s NodeStore, root ID, key []byte) (value []byte, found bool, err error) {
	return NewGetter(ctx, s, root).Get(key)
}

// Getter answers many Gets on one tree, keeping the last path decoded: a
// lookup decodes only the nodes that differ from the previous lookup's
// path. Keys asked in order (a diff's) share most of their path, so each
// costs about one leaf. Values alias node bytes until the next Get.
// Not safe for concurrent use.
type Getter struct {
	ctx  context.Context
	s    NodeStore
	root ID
	path []*Node // path[0] is the root; path[d] the node at depth d
	ids  []ID    // ids[d] is path[d]'s id
}

// NewGetter returns a Getter on the tree rooted at root.
func NewGetter(ctx context.Context, s NodeStore, root ID) *Getter {
	return &Getter{ctx: ctx, s: s, root: root}
}

// Get is Get(ctx, s, root, key) reusing the nodes decoded for the last key.
func (g *Getter) Get(key []byte) (value []byte, found bool, err error) {
	if g.root == (ID{}) {
		return nil, false, nil
	}
	if len(g.path) == 0 {
		n, err := loadNode(g.ctx, g.s, g.root, nil)
		if err != nil {
			return nil, false, err
		}
		g.path, g.ids = append(g.path, n), append(g.ids, g.root)
	}
	n := g.path[0]
	for depth := 1; ; depth++ {
		i := n.search(key)
		if i == len(n.keys) {
			return nil, false, nil
		}
		if n.level == 0 {
			if !bytes.Equal(n.keys[i], key) {
				return nil, false, nil
			}
			return n.vals[i], true, nil
		}
		id := n.ids[i]
		if depth < len(g.path) && g.ids[depth] == id {
			n = g.path[depth] // the same child as last time: already checked
			continue
		}
		if depth >= len(g.path) {
			g.path, g.ids = append(g.path, new(Node)), append(g.ids, ID{})
		}
		g.ids[depth] = ID{} // invalid until the load succeeds
		c, err := loadChild(g.ctx, g.s, n, i, g.path[depth])
		if err != nil {
			return nil, false, err
		}
		g.ids[depth] = id
		// Deeper cached nodes hang under another child now.
		for d := depth + 1; d < len(g.ids); d++ {
			g.ids[d] = ID{}
		}
		n = c
	}
}

// LeafOf returns the ID of the leaf whose key range holds key in the tree
// rooted at root, reading only the internal nodes above it (inRange is
// false when key is past the tree's last key, or the tree is empty: then
// the tree does not hold it). Nodes are content-addressed, so two trees
// whose LeafOf(key) agree hold the same value for key, or both none:
// history uses this to skip snapshots without reading record leaves.
func LeafOf(ctx context.Context, s NodeStore, root ID, key []byte) (leaf ID, inRange bool, err error) {
	if root == (ID{}) {
		return ID{}, false, nil
	}
	id := root
	n, err := loadNode(ctx, s, root, nil)
	if err != nil {
		return ID{}, false, err
	}
	for n.level > 0 {
		i := n.search(key)
		if i == len(n.keys) {
			return ID{}, false, nil
		}
		id = n.ids[i]
		if n.level == 1 {
			return id, true, nil
		}
		if n, err = loadChild(ctx, s, n, i, nil); err != nil {
			return ID{}, false, err
		}
	}
	return id, n.search(key) < len(n.keys), nil
}

// Count returns the number of entries of the tree, reading only the root.
func Count(ctx context.Context, s NodeStore, root ID) (uint64, error) {
	if root == (ID{}) {
		return 0, nil
	}
	n, err := loadNode(ctx, s, root, nil)
	if err != nil {
		return 0, err
	}
	return n.total, nil
}

// frame is one level of a root-to-leaf path.
type frame struct {
	n Node
	i int
}

// Iterator streams the entries of a tree in key order, holding one path
// of nodes. Use it as:
//
//	it := tree.Iter(ctx, s, root, nil)
//	for it.Next() { use(it.Key(), it.Value()) }
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	ctx   context.Context
	s     NodeStore
	stack []*frame
	spare []*frame
	err   error
	done  bool
	start []byte
	root  ID
	init  bool
}

// Iter returns an Iterator over the entries with keys >= start (all of
// them if start is nil).
func Iter(ctx context.Context, s NodeStore, root ID, start []byte) *Iterator {
	return &Iterator{ctx: ctx, s: s, root: root, start: start}
}

func (it *Iterator) push(load func(*Node) (*Node, error)) error {
	var f *frame
	if k := len(it.spare); k > 0 {
		f, it.spare = it.spare[k-1], it.spare[:k-1]
	} else {
		f = new(frame)
	}
	if _, err := load(&f.n); err != nil {
		return err
	}
	f.i = 0
	it.stack = append(it.stack, f)
	return nil
}

// seek positions the iterator at the first key >= it.start.
func (it *Iterator) seek() error {
	if it.root == (ID{}) {
		it.done = true
		return nil
	}
	if err := it.push(func(n *Node) (*Node, error) { return loadNode(it.ctx, it.s, it.root, n) }); err != nil {
		return err
	}
	for {
		f := it.stack[len(it.stack)-1]
		f.i = f.n.search(it.start)
		if f.i == f.n.Len() {
			it.done = true // every key is below start
			return nil
		}
		if f.n.level == 0 {
			return nil
		}
		if err := it.push(func(n *Node) (*Node, error) { return loadChild(it.ctx, it.s, &f.n, f.i, n) }); err != nil {
			return err
		}
	}
}

// Next advances to the next entry, returning false at the end or on error.
func (it *Iterator) Next() bool {
	if it.err != nil || it.done {
		return false
	}
	if !it.init {
		it.init = true
		if it.err = it.seek(); it.err != nil || it.done {
			return false
		}
		return true
	}
	// Move right, popping exhausted nodes, then descend leftmost.
	for {
		f := it.stack[len(it.stack)-1]
		f.i++
		if f.i < f.n.Len() {
			break
		}
		it.spare = append(it.spare, f)
		it.stack = it.stack[:len(it.stack)-1]
		if len(it.stack) == 0 {
			it.done = true
			return false
		}
	}
	for {
		f := it.stack[len(it.stack)-1]
		if f.n.level == 0 {
			return true
		}
		if it.err = it.push(func(n *Node) (*Node, error) { return loadChild(it.ctx, it.s, &f.n, f.i, n) }); it.err != nil {
			return false
		}
	}
}

func (it *Iterator) leaf() *frame { return it.stack[len(it.stack)-1] }

// Key returns the current key; it aliases node bytes.
func (it *Iterator) Key() []byte { f := it.leaf(); return f.n.keys[f.i] }

// Value returns the current value; it aliases node bytes.
func (it *Iterator) Value() []byte { f := it.leaf(); return f.n.vals[f.i] }

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

// SkipSubtree is returned by a WalkNodes enter function to skip a node and
// everything below it.
var SkipSubtree = errors.New("tree: skip subtree")

// WalkNodes visits every node reachable from root once, depth first, parents
// before children, in key order. For each node, enter is called with its ID
// and level before the node is read (the root is read first, to learn its
// level): returning SkipSubtree skips the node and its subtree without
// reading them (so garbage collection can skip subtrees it has already
// marked); any other error stops the walk. Then, if visit is not nil, the
// node is passed to visit (the Node is valid only during the call). Either
// function may be nil. Memory is one path of nodes.
func WalkNodes(ctx context.Context, s NodeStore, root ID, enter func(id ID, level int) error, visit func(id ID, n *Node) error) error {
	if root == (ID{}) {
		return nil
	}
	n, err := loadNode(ctx, s, root, nil)
	if err != nil {
		return err
	}
	return walk(ctx, s, root, n, enter, visit, false)
}

// walk visits n (calling enter first unless entered) and its subtree.
func walk(ctx context.Context, s NodeStore, id ID, n *Node, enter func(ID, int) error, visit func(ID, *Node) error, entered bool) error {
	if enter != nil && !entered {
		if err := enter(id, n.level); errors.Is(err, SkipSubtree) {
			return nil
		} else if err != nil {
			return err
		}
	}
	if visit != nil {
		if err := visit(id, n); err != nil {
			return err
		}
	}
	if n.level == 0 {
		return nil
	}
	var c *Node
	for i := range n.Len() {
		if enter != nil {
			if err := enter(n.ids[i], n.level-1); errors.Is(err, SkipSubtree) {
				continue
			} else if err != nil {
				return err
			}
		}
		var err error
		if c, err = loadChild(ctx, s, n, i, c); err != nil {
			return err
		}
		if err := walk(ctx, s, n.ids[i], c, enter, visit, true); err != nil {
			return err
		}
	}
	return nil
}
