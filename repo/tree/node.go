package tree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// The first byte of a node says how it is encoded (see the package
// documentation): NodeVersion for internal nodes and for leaves whose values
// carry their lengths, CompactLeaf for leaves whose values delimit
// themselves (read with the store's ValueDelimiter).
const (
	NodeVersion = 1
	CompactLeaf = 2
)

// ValueDelimiter is implemented by a NodeStore whose leaf values can be
// stored without a length: their encoding is prefix-free, so where a value
// ends can be told from its own bytes. The tree knows nothing about the
// encoding; it only asks where each value ends.
//
// A builder writes a leaf in the compact form (CompactLeaf, no value
// lengths) exactly when every value v of the leaf is non-empty and
// ValueLen(v) returns len(v) without error; otherwise in the length-
// prefixed form. So the bytes of a leaf remain a function of its entries
// (equal contents, equal IDs), and a store with no ValueDelimiter (or a
// tree whose values are not in the delimited encoding, like a repository's
// root and file trees) keeps the length-prefixed form.
type ValueDelimiter interface {
	// ValueLen returns the length of the value that begins b (b may
	// continue with the rest of the node). The result must depend only on
	// the value's own bytes: for a value v and any bytes x, ValueLen(v+x)
	// is len(v). It returns an error, and must not panic, if b does not
	// begin with a whole valid value.
	ValueLen(b []byte) (int, error)
}

// Limits of the format. Keys and values longer than this are rejected by the
// Editor and by the decoder; they bound the size of a node (see Config).
const (
	MaxKeyLen   = 256
	MaxValueLen = 16384 // inline records; larger ones are stored as blobs by the repository
	MaxLevel    = 63    // levels are 0 (leaves) ..= MaxLevel
)

// ErrCorruptNode is wrapped by every error about node bytes that do not
// follow the format, or a tree whose nodes disagree with their parents.
var ErrCorruptNode = errors.New("tree: corrupt node")

const idLen = 32

// Node is a decoded, read-only view of one node. Keys and values alias the
// bytes the node was decoded from.
type Node struct {
	level  int
	keys   [][]byte
	vals   [][]byte // leaves only
	ids    []ID     // internal nodes only
	counts []uint64 // internal nodes only
	total  uint64
}

// Level is 0 for a leaf, and one more than its children's level otherwise.
func (n *Node) Level() int { return n.level }

// Leaf reports whether n is a leaf.
func (n *Node) Leaf() bool { return n.level == 0 }

// Len is the number of entries of n.
func (n *Node) Len() int { return len(n.keys) }

// Key is the key of leaf entry i, or the last key of the subtree of child i.
func (n *Node) Key(i int) []byte { return n.keys[i] }

// Value is the value of leaf entry i (nil for internal nodes).
func (n *Node) Value(i int) []byte {
	if n.level != 0 {
		return nil
	}
	return n.vals[i]
}

// Child is the ID of child i of an internal node (the zero ID for leaves).
func (n *Node) Child(i int) ID {
	if n.level == 0 {
		return ID{}
	}
	return n.ids[i]
}

// Count is the number of leaf entries below child i (1 for leaf entries).
func (n *Node) Count(i int) uint64 {
	if n.level == 0 {
		return 1
	}
	return n.counts[i]
}

// Total is the number of leaf entries in the subtree rooted at n.
func (n *Node) Total() uint64 { return n.total }

// search returns the smallest i with Key(i) >= key, or Len() if none.
func (n *Node) search(key []byte) int {
	lo, hi := 0, len(n.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(n.keys[m], key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// DecodeNode decodes and validates node bytes. The result aliases data. d
// reads compact leaves and checks that a length-prefixed leaf could not
// have been compact; nil means none (compact leaves are then an error).
func DecodeNode(data []byte, d ValueDelimiter) (*Node, error) {
	n := new(Node)
	if err := n.decode(data, d); err != nil {
		return nil, err
	}
	return n, nil
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptNode}, args...)...)
}

// decode parses data into n, reusing n's slices. It never panics on bad
// input: every length is checked against the remaining bytes first (and so
// is every length d returns). d is the store's ValueDelimiter, or nil.
func (n *Node) decode(data []byte, d ValueDelimiter) error {
	n.keys, n.vals, n.ids, n.counts, n.total = n.keys[:0], n.vals[:0], n.ids[:0], n.counts[:0], 0
	if len(data) < 3 {
		return corrupt("%d bytes is too short", len(data))
	}
	compact := data[0] == CompactLeaf
	if data[0] != NodeVersion && !compact {
		return corrupt("unknown version %d", data[0])
	}
	if data[1] > MaxLevel {
		return corrupt("level %d above %d", data[1], MaxLevel)
	}
	n.level = int(data[1])
	if compact && n.level != 0 {
		return corrupt("compact node of level %d (only leaves are compact)", n.level)
	}
	if compact && d == nil {
		return corrupt("compact leaf, but the store has no value delimiter")
	}
	p := data[2:]
	uv := func(what string) (uint64, error) {
		v, k := binary.Uvarint(p)
		if k <= 0 || k != uvarintLen(v) {
			return 0, corrupt("bad %s varint", what)
		}
		p = p[k:]
		return v, nil
	}
	cnt, err := uv("entry count")
	if err != nil {
		return err
	}
	minEntry := uint64(3) // klen, 1-byte key, vlen (compact: a value of at least 1 byte)
	if n.level > 0 {
		minEntry = 2 + idLen + 1
	}
	if cnt == 0 || cnt > uint64(len(p))/minEntry {
		return corrupt("entry count %d does not fit %d bytes", cnt, len(p))
	}
	n.keys = slices.Grow(n.keys, int(cnt))
	if n.level == 0 {
		n.vals = slices.Grow(n.vals, int(cnt))
	} else {
		n.ids, n.counts = slices.Grow(n.ids, int(cnt)), slices.Grow(n.counts, int(cnt))
	}
	var prev []byte
	for i := 0; i < int(cnt); i++ {
		kl, err := uv("key length")
		if err != nil {
			return err
		}
		if kl == 0 || kl > MaxKeyLen || kl > uint64(len(p)) {
			return corrupt("entry %d: key length %d", i, kl)
		}
		key := p[:kl:kl]
		p = p[kl:]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return corrupt("entry %d: keys out of order", i)
		}
		prev = key
		n.keys = append(n.keys, key)
		if n.level == 0 {
			var vl uint64
			if compact {
				l, err := d.ValueLen(p)
				if err != nil {
					return corrupt("entry %d: value: %v", i, err)
				}
				if l < 1 || l > len(p) {
					return corrupt("entry %d: value delimited at %d of %d bytes", i, l, len(p))
				}
				vl = uint64(l)
			} else if vl, err = uv("value length"); err != nil {
				return err
			}
			if vl > MaxValueLen || vl > uint64(len(p)) {
				return corrupt("entry %d: value length %d", i, vl)
			}
			n.vals = append(n.vals, p[:vl:vl])
			p = p[vl:]
			n.total++
			continue
		}
		if len(p) < idLen {
			return corrupt("entry %d: truncated child id", i)
		}
		n.ids = append(n.ids, ID(p[:idLen]))
		p = p[idLen:]
		c, err := uv("count")
		if err != nil {
			return err
		}
		if c == 0 || c > 1<<62 || n.total+c > 1<<62 {
			return corrupt("entry %d: count %d", i, c)
		}
		n.counts = append(n.counts, c)
		n.total += c
	}
	if len(p) != 0 {
		return corrupt("%d trailing bytes", len(p))
	}
	if n.level == 0 && !compact && d != nil && allDelimited(d, n.vals) {
		// One encoding per node: the builder would have written it compact.
		return corrupt("length-prefixed leaf whose values delimit themselves")
	}
	return nil
}

// allDelimited reports whether every value is non-empty and delimits
// itself exactly under d: the condition for the compact leaf form. It
// stops at the first value that does not.
func allDelimited(d ValueDelimiter, vals [][]byte) bool {
	for _, v := range vals {
		if l, err := d.ValueLen(v); err != nil || l != len(v) || l == 0 {
			return false
		}
	}
	return true
}

// nodeHeader appends the node header (version, level, entry count) to dst.
func nodeHeader(dst []byte, version byte, level int, n int) []byte {
	dst = append(dst, version, byte(level))
	return binary.AppendUvarint(dst, uint64(n))
}

// appendLeafEntry and appendRefEntry append one encoded entry to dst;
// appendCompactEntry a leaf entry of a compact leaf (no value length).
func appendLeafEntry(dst, key, val []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(val)))
	return append(dst, val...)
}

func appendCompactEntry(dst, key, val []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, val...)
}

// encodeLeaf appends the leaf of the given entries to dst, compact when d
// allows it (see ValueDelimiter).
func encodeLeaf(dst []byte, d ValueDelimiter, keys, vals [][]byte) []byte {
	if d != nil && allDelimited(d, vals) {
		dst = nodeHeader(dst, CompactLeaf, 0, len(keys))
		for i, k := range keys {
			dst = appendCompactEntry(dst, k, vals[i])
		}
		return dst
	}
	dst = nodeHeader(dst, NodeVersion, 0, len(keys))
	for i, k := range keys {
		dst = appendLeafEntry(dst, k, vals[i])
	}
	return dst
}

func appendRefEntry(dst, key []byte, id ID, count uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = append(dst, id[:]...)
	return binary.AppendUvarint(dst, count)
}
