package tree

import (
	"context"
	"fmt"
)

// builder turns a key-ordered stream of leaf entries (and references to
// whole old subtrees) into nodes, level by level. Each level holds only the
// node being filled, so memory is O(height × node size).
//
// Invariant: the nodes it emits are exactly those of the canonical tree of
// the stream's leaf entries, provided a subtree reference at level L is only
// added (addRef) when levels 0..L-1 hold no pending entries and the subtree
// is canonical and ended at a cut (see merger.mergeNode).
type builder struct {
	ctx    context.Context
	store  NodeStore
	sp     *splitter
	levels []*pending
	buf    []byte // encoding buffer, reused
}

// pending is the node being filled at one level.
type pending struct {
	body         []byte // encoded entries
	n            int    // entries in body
	weight       uint64 // splitter weight of the entries
	count        uint64 // leaf entries below
	lastKeyOff   int    // body[lastKeyOff:lastKeyOff+lastKeyLen] is the last key
	lastKeyLen   int
	everAppended int // entries ever appended at this level (1 at the top ⇒ root)
}

func newBuilder(ctx context.Context, s NodeStore, sp *splitter) *builder {
	return &builder{ctx: ctx, store: s, sp: sp}
}

func (b *builder) level(l int) (*pending, error) {
	if l > MaxLevel {
		return nil, fmt.Errorf("tree: more than %d levels", MaxLevel+1)
	}
	for len(b.levels) <= l {
		b.levels = append(b.levels, &pending{})
	}
	return b.levels[l], nil
}

// emptyUpTo reports whether levels 0..l hold no pending entries.
func (b *builder) emptyUpTo(l int) bool {
	for i := 0; i <= l && i < len(b.levels); i++ {
		if b.levels[i].n > 0 {
			return false
		}
	}
	return true
}

// addLeaf appends a leaf entry. Keys must arrive in strictly increasing order.
func (b *builder) addLeaf(key, val []byte) error {
	p, _ := b.level(0)
	off := len(p.body)
	p.body = appendLeafEntry(p.body, key, val)
	return b.appended(0, p, off, key, 1)
}

// addRef appends, at level l >= 1, a reference to a node of level l-1.
func (b *builder) addRef(l int, lastKey []byte, id ID, count uint64) error {
	p, err := b.level(l)
	if err != nil {
		return err
	}
	off := len(p.body)
	p.body = appendRefEntry(p.body, lastKey, id, count)
	return b.appended(l, p, off, lastKey, count)
}

func (b *builder) appended(l int, p *pending, off int, key []byte, count uint64) error {
	w := b.sp.weight(l, key)
	p.n++
	p.everAppended++
	p.weight += w
	p.count += count
	p.lastKeyLen = len(key)
	p.lastKeyOff = off + uvarintLen(uint64(len(key)))
	if b.sp.cut(l, key, w, p.weight) {
		return b.flush(l)
	}
	return nil
}

// flush writes the pending node of level l and adds its reference to l+1.
func (b *builder) flush(l int) error {
	p := b.levels[l]
	b.buf = append(nodeHeader(b.buf[:0], l, p.n), p.body...)
	id, err := b.store.PutNode(b.ctx, b.buf)
	if err != nil {
		return fmt.Errorf("tree: put node: %w", err)
	}
	// The key aliases p.body, which stays intact until the reset below.
	if err := b.addRef(l+1, p.body[p.lastKeyOff:p.lastKeyOff+p.lastKeyLen], id, p.count); err != nil {
		return err
	}
	p.body, p.n, p.weight, p.count = p.body[:0], 0, 0, 0
	return nil
}

// finish flushes every level and returns the root: the only node of the
// lowest level that has exactly one node (the zero ID if there were no
// entries).
func (b *builder) finish() (ID, error) {
	for l := 0; l < len(b.levels); l++ {
		p := b.levels[l]
		top := l == len(b.levels)-1
		if top && l > 0 && p.everAppended == 1 {
			// One node below: it is the root. Its ID is the entry's 32 bytes
			// after the key.
			k := p.lastKeyOff + p.lastKeyLen
			return ID(p.body[k : k+idLen]), nil
		}
		if p.n > 0 {
			if err := b.flush(l); err != nil {
				return ID{}, err
			}
		}
	}
	return ID{}, nil
}
