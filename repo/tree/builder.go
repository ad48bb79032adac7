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
	delim  ValueDelimiter // the store's, or nil: decides compact leaves
	sp     *splitter
	levels []*pending
	buf    []byte   // encoding buffer, reused
	keys   [][]byte // scratch for flushing a leaf
	vals   [][]byte
}

// pending is the node being filled at one level.
//
// At level 0, body holds each entry's key and value bytes back to back,
// unencoded, and spans where they are: whether the leaf is compact is only
// known once all its values are (see ValueDelimiter). At levels ≥ 1, body
// holds the encoded entries.
type pending struct {
	body         []byte // entries (see above)
	spans        []leafSpan
	n            int    // entries in body
	weight       uint64 // splitter weight of the entries
	count        uint64 // leaf entries below
	lastKeyOff   int    // body[lastKeyOff:lastKeyOff+lastKeyLen] is the last key
	lastKeyLen   int
	everAppended int // entries ever appended at this level (1 at the top ⇒ root)
}

// leafSpan locates a leaf entry in pending.body: the key at off, then the
// value.
type leafSpan struct{ off, klen, vlen int }

func newBuilder(ctx context.Context, s NodeStore, sp *splitter) *builder {
	d, _ := s.(ValueDelimiter)
	return &builder{ctx: ctx, store: s, delim: d, sp: sp}
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
	p.body = append(append(p.body, key...), val...)
	p.spans = append(p.spans, leafSpan{off, len(key), len(val)})
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
	return b.appended(l, p, off+uvarintLen(uint64(len(lastKey))), lastKey, count)
}

// appended accounts for the entry just added to p, whose key is at
// p.body[keyOff:], and ends the node if the splitter cuts after it.
func (b *builder) appended(l int, p *pending, keyOff int, key []byte, count uint64) error {
	w := b.sp.weight(l, key)
	p.n++
	p.everAppended++
	p.weight += w
	p.count += count
	p.lastKeyLen = len(key)
	p.lastKeyOff = keyOff
	if b.sp.cut(l, key, w, p.weight) {
		return b.flush(l)
	}
	return nil
}

// flush writes the pending node of level l and adds its reference to l+1.
func (b *builder) flush(l int) error {
	p := b.levels[l]
	if l == 0 {
		b.keys, b.vals = b.keys[:0], b.vals[:0]
		for _, s := range p.spans {
			v := s.off + s.klen
			b.keys = append(b.keys, p.body[s.off:v])
			b.vals = append(b.vals, p.body[v:v+s.vlen])
		}
		b.buf = encodeLeaf(b.buf[:0], b.delim, b.keys, b.vals)
		p.spans = p.spans[:0]
	} else {
		b.buf = append(nodeHeader(b.buf[:0], NodeVersion, l, p.n), p.body...)
	}
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
