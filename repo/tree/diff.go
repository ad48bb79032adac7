package tree

import (
	"bytes"
	"context"
)

// Change is one difference between two trees. Old is nil for an added key,
// New is nil for a removed key; both are set for a changed value. The
// slices alias node bytes and are valid only during the callback.
type Change struct {
	Key, Old, New []byte
}

// Diff calls fn for every key whose value differs between the trees rooted
// at a and b, in key order, and stops at the first error fn returns.
//
// It walks both trees with one cursor each, descending only where needed:
// when both cursors stand on references to subtrees with the same ID, both
// subtrees are skipped unread, whatever their depth or position in the two
// trees (both cursors have consumed exactly the keys before them, and equal
// IDs mean equal contents). Otherwise the cursor standing on the taller
// subtree (or both, if equally tall) expands it. Memory is one path per tree.
func Diff(ctx context.Context, s NodeStore, a, b ID, fn func(Change) error) error {
	if a == b {
		return nil
	}
	ca, cb := &cursor{ctx: ctx, s: s}, &cursor{ctx: ctx, s: s}
	if err := ca.init(a); err != nil {
		return err
	}
	if err := cb.init(b); err != nil {
		return err
	}
	for {
		ha, oka := ca.height()
		hb, okb := cb.height()
		switch {
		case !oka && !okb:
			return nil
		case oka && okb && ha > 0 && ha == hb && ca.id() == cb.id():
			ca.advance()
			cb.advance()
			continue
		case oka && ha > 0 && (!okb || ha >= hb):
			if err := ca.expand(); err != nil {
				return err
			}
			if okb && hb == ha {
				if err := cb.expand(); err != nil {
					return err
				}
			}
			continue
		case okb && hb > 0:
			if err := cb.expand(); err != nil {
				return err
			}
			continue
		}
		// Both cursors at leaf entries, or one at the end.
		var c int
		switch {
		case !oka:
			c = 1
		case !okb:
			c = -1
		default:
			c = bytes.Compare(ca.key(), cb.key())
		}
		var err error
		switch {
		case c < 0:
			err = fn(Change{Key: ca.key(), Old: nonNil(ca.val())})
			ca.advance()
		case c > 0:
			err = fn(Change{Key: cb.key(), New: nonNil(cb.val())})
			cb.advance()
		default:
			if !bytes.Equal(ca.val(), cb.val()) {
				err = fn(Change{Key: ca.key(), Old: nonNil(ca.val()), New: nonNil(cb.val())})
			}
			ca.advance()
			cb.advance()
		}
		if err != nil {
			return err
		}
	}
}

func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// cursor walks a tree item by item, where an item is either a leaf entry
// (height 0) or a reference to a subtree of level h-1 (height h), which the
// caller either skips (advance) or opens (expand).
type cursor struct {
	ctx   context.Context
	s     NodeStore
	stack []*frame
	spare []*frame
}

// init positions c on a reference to the whole tree: a synthetic parent
// frame holding one entry for the root.
func (c *cursor) init(root ID) error {
	if root == (ID{}) {
		return nil
	}
	r, err := loadNode(c.ctx, c.s, root, nil)
	if err != nil {
		return err
	}
	top := &frame{n: Node{
		level:  r.level + 1,
		keys:   [][]byte{r.keys[len(r.keys)-1]},
		ids:    []ID{root},
		counts: []uint64{r.total},
		total:  r.total,
	}}
	c.stack = append(c.stack, top)
	return nil
}

func (c *cursor) height() (int, bool) {
	if len(c.stack) == 0 {
		return 0, false
	}
	return c.stack[len(c.stack)-1].n.level, true
}

func (c *cursor) top() *frame { return c.stack[len(c.stack)-1] }
func (c *cursor) id() ID      { f := c.top(); return f.n.ids[f.i] }
func (c *cursor) key() []byte { f := c.top(); return f.n.keys[f.i] }
func (c *cursor) val() []byte { f := c.top(); return f.n.vals[f.i] }

// advance moves past the current item (and the subtree it stands for).
func (c *cursor) advance() {
	for len(c.stack) > 0 {
		f := c.top()
		f.i++
		if f.i < f.n.Len() {
			return
		}
		c.spare = append(c.spare, f)
		c.stack = c.stack[:len(c.stack)-1]
	}
}

// expand replaces the current reference by the entries of its node.
func (c *cursor) expand() error {
	f := c.top()
	var nf *frame
	if k := len(c.spare); k > 0 {
		nf, c.spare = c.spare[k-1], c.spare[:k-1]
	} else {
		nf = new(frame)
	}
	if _, err := loadChild(c.ctx, c.s, &f.n, f.i, &nf.n); err != nil {
		return err
	}
	nf.i = 0
	c.stack = append(c.stack, nf)
	return nil
}
