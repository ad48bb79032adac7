package repo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

// A base digest is a local, rebuildable summary of one base tree: for each
// key, a keyed hash of its value and the value's field list. Settling a
// synthetic snapshot's changes needs, for each changed record, whether the
// base holds it and whether the new value is the same record; answered
// from the base itself, that reads (decompresses) nearly every frame of
// the base under random churn, however few records changed. A digest
// answers the same from memory.
//
// Digests live in the repository directory's cache/bases/ folder, one file
// per base tree, named by the tree's id, sealed with the repository key
// (they hold record Ids). They are a cache: never pushed, removed by
// prune, and a missing or unreadable one only means the base is read
// instead. Invariant: a digest describes exactly the entries of the base
// named by its file, so it is written only when every entry of the base is
// known: a base built from scratch by a full re-read, or folded from runs
// into a base that had a digest.

// digestHashLen is the length of a value's hash in a digest: two values
// with equal hashes are taken as equal, so the hash is keyed (no one can
// make two values collide without the key) and long enough that chance
// collisions do not happen (2^-96 for each comparison).
const digestHashLen = 12

// noList marks a value whose field list the digest does not know (a
// record stored out of line).
const noList = ^uint32(0)

// A digest's entries are pointer-free (keys in one arena): a digest of
// millions of records then costs the garbage collector nothing to scan,
// and building one costs the writer no allocation per record.
type digestEntry struct {
	off  uint32 // the key is keys[off : off+klen]
	klen uint16
	del  bool   // while building: the key was deleted
	seq  uint32 // while building: the order of the edits
	list uint32
	hash [digestHashLen]byte
}

// baseDigest is a loaded digest: entries sorted by key.
type baseDigest struct {
	keys    []byte
	entries []digestEntry
}

func (d *baseDigest) key(e *digestEntry) []byte { return d.keys[e.off : e.off+uint32(e.klen)] }

// find returns the entry for key, if the base holds it.
func (d *baseDigest) find(key []byte) (*digestEntry, bool) {
	i, ok := slices.BinarySearchFunc(d.entries, key, func(e digestEntry, k []byte) int {
		return bytes.Compare(d.key(&e), k)
	})
	if !ok {
		return nil, false
	}
	return &d.entries[i], true
}

// add appends an entry for key (which must sort after the last one).
func (d *baseDigest) add(key []byte, e digestEntry) {
	e.off, e.klen = uint32(len(d.keys)), uint16(len(key))
	d.keys = append(d.keys, key...)
	d.entries = append(d.entries, e)
}

// valueDigest is the digest form of a leaf value: its keyed hash and field
// list.
func (r *Repository) valueDigest(v []byte) ([digestHashLen]byte, uint32) {
	var h [digestHashLen]byte
	mac := r.key.DigestMAC(v)
	copy(h[:], mac[:])
	list := noList
	if l, ok := fieldListOf(v); ok && l < uint64(noList) {
		list = uint32(l)
	}
	return h, list
}

// digestBuilder collects a base's entries as a full re-read puts them (in
// any order; the last edit of a key wins).
type digestBuilder struct {
	d      baseDigest
	sorted bool // the edits so far came in strictly increasing key order
	toobig bool
}

// maxDigestEntries bounds a digest built in memory (about 45 bytes an
// entry); larger objects go without one.
const maxDigestEntries = 8 << 20

func newDigestBuilder() *digestBuilder { return &digestBuilder{sorted: true} }

func (b *digestBuilder) add(r *Repository, id string, v []byte) {
	if b == nil || b.toobig {
		return
	}
	if len(b.d.entries) >= maxDigestEntries {
		b.toobig, b.d = true, baseDigest{}
		return
	}
	if n := len(b.d.entries); n > 0 && b.sorted && string(b.d.key(&b.d.entries[n-1])) >= id {
		b.sorted = false
	}
	e := digestEntry{del: v == nil, seq: uint32(len(b.d.entries))}
	if v != nil {
		e.hash, e.list = r.valueDigest(v)
	}
	b.d.add([]byte(id), e)
}

// finish returns the digest: entries sorted by key, each key's last edit
// kept, deleted keys dropped; nil when it grew too large.
func (b *digestBuilder) finish() *baseDigest {
	if b == nil || b.toobig {
		return nil
	}
	d := &baseDigest{keys: b.d.keys, entries: b.d.entries}
	b.d = baseDigest{}
	if !b.sorted {
		slices.SortFunc(d.entries, func(x, y digestEntry) int {
			if c := bytes.Compare(d.key(&x), d.key(&y)); c != 0 {
				return c
			}
			return int(x.seq) - int(y.seq)
		})
	}
	out := d.entries[:0]
	for i := range d.entries {
		e := d.entries[i]
		if i+1 < len(d.entries) && bytes.Equal(d.key(&d.entries[i+1]), d.key(&e)) {
			continue // a later edit of the same key wins
		}
		if !e.del {
			e.seq = 0
			out = append(out, e)
		}
	}
	d.entries = out
	return d
}

// apply returns the digest of the base with edits applied (sorted by key,
// unique; each replaces or adds its key, or deletes it).
func (d *baseDigest) apply(edits *baseDigest) *baseDigest {
	out := &baseDigest{
		keys:    make([]byte, 0, len(d.keys)+len(edits.keys)),
		entries: make([]digestEntry, 0, len(d.entries)+len(edits.entries)),
	}
	i := 0
	for j := range edits.entries {
		e := &edits.entries[j]
		k := edits.key(e)
		for i < len(d.entries) && bytes.Compare(d.key(&d.entries[i]), k) < 0 {
			out.add(d.key(&d.entries[i]), d.entries[i])
			i++
		}
		if i < len(d.entries) && bytes.Equal(d.key(&d.entries[i]), k) {
			i++ // replaced or deleted
		}
		if !e.del {
			out.add(k, *e)
		}
	}
	for ; i < len(d.entries); i++ {
		out.add(d.key(&d.entries[i]), d.entries[i])
	}
	return out
}

// Digest file: Seal(plaintext, aad = "orgsnap base digest " + base id hex),
// plaintext = "OSBD" | version 1 | uvarint n | n × (uvarint len(key) | key |
// hash (12) | uint32 list, big endian), keys strictly increasing.
const digestMagic = "OSBD\x01"

func (r *Repository) digestPath(base crypto.ID) string {
	return filepath.Join(r.dir, "cache", "bases", base.String())
}

func digestAAD(base crypto.ID) []byte { return []byte("orgsnap base digest " + base.String()) }

// saveDigest writes the digest of base (atomically: a reader sees a whole
// file or none). Failing to write a cache is not an error of the snapshot.
func (r *Repository) saveDigest(base crypto.ID, d *baseDigest) {
	if d == nil || base.IsZero() || r.dir == "" {
		return
	}
	buf := []byte(digestMagic)
	buf = binary.AppendUvarint(buf, uint64(len(d.entries)))
	for i := range d.entries {
		e := &d.entries[i]
		buf = binary.AppendUvarint(buf, uint64(e.klen))
		buf = append(buf, d.key(e)...)
		buf = append(buf, e.hash[:]...)
		buf = binary.BigEndian.AppendUint32(buf, e.list)
	}
	sealed := r.key.Seal(nil, buf, digestAAD(base))
	path := r.digestPath(base)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, sealed, 0o600); err != nil {
		return
	}
	if os.Rename(tmp, path) != nil {
		os.Remove(tmp)
		return
	}
	r.digests.put(base, d)
}

var errBadDigest = errors.New("base digest unreadable")

// loadDigest returns the digest of base, or nil when there is none (or it
// cannot be read: then the base is read instead).
func (r *Repository) loadDigest(base crypto.ID) *baseDigest {
	if base.IsZero() || r.dir == "" {
		return nil
	}
	if d := r.digests.get(base); d != nil {
		return d
	}
	sealed, err := os.ReadFile(r.digestPath(base))
	if err != nil {
		return nil
	}
	d, err := r.parseDigest(base, sealed)
	if err != nil {
		os.Remove(r.digestPath(base)) // rebuilt by the next full re-read
		return nil
	}
	r.digests.put(base, d)
	return d
}

func (r *Repository) parseDigest(base crypto.ID, sealed []byte) (*baseDigest, error) {
	b, err := r.key.Open(nil, sealed, digestAAD(base))
	if err != nil || !bytes.HasPrefix(b, []byte(digestMagic)) {
		return nil, errBadDigest
	}
	b = b[len(digestMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadDigest
	}
	b = b[k:]
	d := &baseDigest{entries: make([]digestEntry, 0, n)}
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > 1<<15 || l > uint64(len(b)-k) || len(b)-k-int(l) < digestHashLen+4 {
			return nil, errBadDigest
		}
		b = b[k:]
		key := b[:l]
		b = b[l:]
		var e digestEntry
		copy(e.hash[:], b)
		e.list = binary.BigEndian.Uint32(b[digestHashLen:])
		b = b[digestHashLen+4:]
		if i > 0 && bytes.Compare(key, d.key(&d.entries[i-1])) <= 0 {
			return nil, fmt.Errorf("%w: keys out of order", errBadDigest)
		}
		d.add(key, e)
	}
	if len(b) != 0 {
		return nil, errBadDigest
	}
	return d, nil
}

// dropDigests removes every digest (prune: bases it erased must leave no
// trace, and digests are rebuilt by full re-reads).
func (r *Repository) dropDigests() error {
	r.digests.clear()
	if r.dir == "" {
		return nil
	}
	return os.RemoveAll(filepath.Join(r.dir, "cache", "bases"))
}

// digestCache keeps the last few digests loaded (a snapshot settles each
// object once; a small cache spares re-reading within a process).
type digestCache struct {
	mu sync.Mutex
	m  map[crypto.ID]*baseDigest
}

func (c *digestCache) get(id crypto.ID) *baseDigest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *digestCache) put(id crypto.ID, d *baseDigest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 64 {
		c.m = map[crypto.ID]*baseDigest{}
	}
	c.m[id] = d
}

func (c *digestCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// digestFor answers, for the settling entries of batch the run layers did
// not decide, from the base's digest: whether the base holds the key, and
// when both sides have a record whether it is the same record. Entries it
// cannot decide (the two values are of different field lists, or one is
// stored out of line) are left for a lookup in the base; they are returned.
func (r *Repository) digestFor(d *baseDigest, batch []settling) (rest []int) {
	for i := range batch {
		s := &batch[i]
		if s.decided {
			continue
		}
		e, ok := d.find(s.key)
		if !ok {
			s.decided = true // not in the base
			continue
		}
		s.has = true
		after := s.new
		if isTombstone(after) {
			s.decided = true // a deletion of a record the base holds
			continue
		}
		h, list := r.valueDigest(after)
		switch {
		case h == e.hash:
			s.decided, s.eqKnown, s.eq = true, true, true
		case list != noList && e.list != noList && list == e.list:
			s.decided, s.eqKnown, s.eq = true, true, false
		default:
			s.has = false
			rest = append(rest, i)
		}
	}
	return rest
}
