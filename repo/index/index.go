// Package index is the repository's local lookup cache, in pebble: where
// each blob lives, which packs exist, and secondary lookups (aliases).
//
// The index holds nothing that is not also in the pack trailers: it can be
// deleted at any time and rebuilt from them (orgsnap repair index). It is
// therefore never copied to remotes.
//
// Keys (one-byte prefix, then binary):
//
//	'B' blob id (32)  → pack seq (uvarint) | type (1) | frame offset | frame length | blob offset | blob length (uvarints)
//	'P' pack id (32)  → seq (uvarint) | kind (1) | size (uvarint) | blobs (uvarint) | group
//	'Q' seq (4, BE)   → pack id (32)
//	'A' alias (32)    → blob id (32)
//	'M' name          → metadata (next pack seq, format version)
//
// Packs get a small sequence number so that the 1M-blob case stores 4 bytes
// per blob instead of a 32-byte pack id. Sequence numbers are local to this
// index; a rebuild assigns new ones.
//
// Invariant: every 'B' entry's seq has a 'Q' and a 'P' entry (AddPack writes
// all of a pack's entries in one batch; RemovePack deletes them in one).
package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
)

const formatVersion = 1

// ErrNotFound is returned for an unknown blob.
var ErrNotFound = errors.New("blob not in index")

// Location says where a blob is stored.
type Location struct {
	Pack      crypto.ID
	PackName  string
	Type      pack.BlobType
	FrameOff  uint64
	FrameLen  uint32
	BlobOff   uint32
	BlobLen   uint32
	packSeq   uint32
	packGroup string
}

// PackInfo describes one indexed pack.
type PackInfo struct {
	ID    crypto.ID
	Kind  pack.Kind
	Group string
	Size  int64
	Blobs int
	seq   uint32
}

// Name is the pack's storage name.
func (p PackInfo) Name() string { return pack.Name(p.Group, p.Kind, p.ID) }

// Index is an open pebble index. Safe for concurrent use.
type Index struct {
	db *pebble.DB

	mu      sync.Mutex
	nextSeq uint32
	packs   map[uint32]PackInfo // seq → info; packs are few (thousands), blobs are many
}

// Open opens (creating if needed) the index in dir.
func Open(dir string) (*Index, error) {
	opts := &pebble.Options{
		Logger:       quietLogger{},
		Cache:        pebble.NewCache(64 << 20),
		MemTableSize: 16 << 20,
	}
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	ix := &Index{db: db, packs: map[uint32]PackInfo{}}
	if err := ix.load(); err != nil {
		db.Close()
		return nil, err
	}
	return ix, nil
}

// Close closes the index.
func (ix *Index) Close() error { return ix.db.Close() }

func (ix *Index) load() error {
	v, closer, err := ix.db.Get([]byte("Mversion"))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := ix.db.Set([]byte("Mversion"), []byte{formatVersion}, pebble.Sync); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		ver := v[0]
		closer.Close()
		if ver != formatVersion {
			return fmt.Errorf("index format %d is not %d: run `orgsnap repair index`", ver, formatVersion)
		}
	}
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte("P"), UpperBound: []byte("Q")})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var id crypto.ID
		copy(id[:], it.Key()[1:])
		p, err := decodePack(id, it.Value())
		if err != nil {
			return err
		}
		ix.packs[p.seq] = p
		if p.seq >= ix.nextSeq {
			ix.nextSeq = p.seq + 1
		}
	}
	return it.Error()
}

func decodePack(id crypto.ID, v []byte) (PackInfo, error) {
	p := PackInfo{ID: id}
	seq, n := binary.Uvarint(v)
	if n <= 0 || len(v) < n+1 {
		return p, fmt.Errorf("index: bad pack record %s", id.Short())
	}
	p.seq, p.Kind = uint32(seq), pack.Kind(v[n])
	v = v[n+1:]
	size, n1 := binary.Uvarint(v)
	if n1 <= 0 {
		return p, fmt.Errorf("index: bad pack record %s", id.Short())
	}
	blobs, n2 := binary.Uvarint(v[n1:])
	if n2 <= 0 {
		return p, fmt.Errorf("index: bad pack record %s", id.Short())
	}
	p.Size, p.Blobs, p.Group = int64(size), int(blobs), string(v[n1+n2:])
	return p, nil
}

func blobKey(id crypto.ID) []byte  { return append([]byte{'B'}, id[:]...) }
func packKey(id crypto.ID) []byte  { return append([]byte{'P'}, id[:]...) }
func aliasKey(id crypto.ID) []byte { return append([]byte{'A'}, id[:]...) }
func seqKey(seq uint32) []byte     { return binary.BigEndian.AppendUint32([]byte{'Q'}, seq) }

// HasPack reports whether the pack is indexed.
func (ix *Index) HasPack(id crypto.ID) (bool, error) { return has(ix.db, packKey(id)) }

// has reports whether key is in db.
func has(db *pebble.DB, key []byte) (bool, error) {
	_, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// AddPack indexes every blob of a pack, atomically and durably. Blobs
// already indexed in another pack keep their first location (both copies are
// valid; prune drops the redundant one).
func (ix *Index) AddPack(id crypto.ID, size int64, tr *pack.Trailer) error {
	return ix.addPack(id, size, tr, false)
}

// AddRepackedPack indexes a pack that prune wrote with live blobs copied out
// of packs it is about to delete: every blob's entry is moved to the new
// pack, in the same atomic batch, so the old packs hold only redundant
// copies afterwards (and a crash at any point leaves every blob indexed).
func (ix *Index) AddRepackedPack(id crypto.ID, size int64, tr *pack.Trailer) error {
	return ix.addPack(id, size, tr, true)
}

func (ix *Index) addPack(id crypto.ID, size int64, tr *pack.Trailer, move bool) error {
	if has, err := ix.HasPack(id); err != nil || has {
		return err
	}
	ix.mu.Lock()
	seq := ix.nextSeq
	ix.nextSeq++
	ix.mu.Unlock()

	b := ix.db.NewBatch()
	defer b.Close()
	pv := binary.AppendUvarint(nil, uint64(seq))
	pv = append(pv, byte(tr.Kind))
	pv = binary.AppendUvarint(pv, uint64(size))
	pv = binary.AppendUvarint(pv, uint64(tr.NumBlobs()))
	pv = append(pv, tr.Group...)
	b.Set(packKey(id), pv, nil)
	b.Set(seqKey(seq), id[:], nil)
	var v []byte
	for _, f := range tr.Frames {
		for _, bl := range f.Blobs {
			if ok, err := ix.Has(bl.ID); err != nil {
				return err
			} else if !ok || move {
				v = binary.AppendUvarint(v[:0], uint64(seq))
				v = append(v, byte(bl.Type))
				v = binary.AppendUvarint(v, f.Offset)
				v = binary.AppendUvarint(v, uint64(f.SealedLen))
				v = binary.AppendUvarint(v, uint64(bl.Offset))
				v = binary.AppendUvarint(v, uint64(bl.Length))
				b.Set(blobKey(bl.ID), v, nil)
			}
			if bl.HasAlias {
				b.Set(aliasKey(bl.Alias), bl.ID[:], nil)
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index pack %s: %w", id.Short(), err)
	}
	ix.mu.Lock()
	ix.packs[seq] = PackInfo{ID: id, Kind: tr.Kind, Group: tr.Group, Size: size, Blobs: tr.NumBlobs(), seq: seq}
	ix.mu.Unlock()
	return nil
}

// PackOf returns the indexed pack a blob's entry points to.
func (ix *Index) PackOf(id crypto.ID) (crypto.ID, bool, error) {
	v, closer, err := ix.db.Get(blobKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return crypto.ID{}, false, nil
	}
	if err != nil {
		return crypto.ID{}, false, err
	}
	seq, n := binary.Uvarint(v)
	closer.Close()
	if n <= 0 {
		return crypto.ID{}, false, fmt.Errorf("index entry %s: truncated", id.Short())
	}
	ix.mu.Lock()
	p, ok := ix.packs[uint32(seq)]
	ix.mu.Unlock()
	return p.ID, ok, nil
}

// Has reports whether a blob is indexed.
func (ix *Index) Has(id crypto.ID) (bool, error) {
	ok, err := has(ix.db, blobKey(id))
	if err != nil {
		return false, fmt.Errorf("index lookup %s: %w", id.Short(), err)
	}
	return ok, nil
}

// Lookup finds a blob.
func (ix *Index) Lookup(id crypto.ID) (Location, error) {
	v, closer, err := ix.db.Get(blobKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Location{}, fmt.Errorf("blob %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return Location{}, fmt.Errorf("index lookup %s: %w", id.Short(), err)
	}
	defer closer.Close()
	loc, err := decodeLocation(v)
	if err != nil {
		return loc, fmt.Errorf("index entry %s: %w", id.Short(), err)
	}
	ix.mu.Lock()
	p, ok := ix.packs[loc.packSeq]
	ix.mu.Unlock()
	if !ok {
		return loc, fmt.Errorf("index entry %s names unknown pack %d: run `orgsnap repair index`", id.Short(), loc.packSeq)
	}
	loc.Pack, loc.PackName = p.ID, p.Name()
	return loc, nil
}

func decodeLocation(v []byte) (Location, error) {
	var l Location
	var vals [5]uint64
	seq, n := binary.Uvarint(v)
	if n <= 0 || len(v) <= n {
		return l, errors.New("truncated")
	}
	l.packSeq, l.Type = uint32(seq), pack.BlobType(v[n])
	v = v[n+1:]
	for i := 0; i < 4; i++ {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return l, errors.New("truncated")
		}
		vals[i], v = x, v[n:]
	}
	l.FrameOff, l.FrameLen, l.BlobOff, l.BlobLen = vals[0], uint32(vals[1]), uint32(vals[2]), uint32(vals[3])
	return l, nil
}

// ResolveAlias returns the blob recorded under an alias.
func (ix *Index) ResolveAlias(alias crypto.ID) (crypto.ID, bool, error) {
	v, closer, err := ix.db.Get(aliasKey(alias))
	if errors.Is(err, pebble.ErrNotFound) {
		return crypto.ID{}, false, nil
	}
	if err != nil {
		return crypto.ID{}, false, err
	}
	defer closer.Close()
	var id crypto.ID
	copy(id[:], v)
	return id, true, nil
}

// Packs returns every indexed pack.
func (ix *Index) Packs() []PackInfo {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]PackInfo, 0, len(ix.packs))
	for _, p := range ix.packs {
		out = append(out, p)
	}
	return out
}

// EachBlob calls fn for every indexed blob, in ID order.
func (ix *Index) EachBlob(fn func(id crypto.ID, loc Location) error) error {
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte("B"), UpperBound: []byte("C")})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var id crypto.ID
		copy(id[:], it.Key()[1:])
		loc, err := decodeLocation(it.Value())
		if err != nil {
			return fmt.Errorf("index entry %s: %w", id.Short(), err)
		}
		ix.mu.Lock()
		p := ix.packs[loc.packSeq]
		ix.mu.Unlock()
		loc.Pack, loc.PackName = p.ID, p.Name()
		if err := fn(id, loc); err != nil {
			return err
		}
	}
	return it.Error()
}

// RemovePack drops a pack and every blob entry that points into it, in one
// synced batch. tr is the pack's trailer: its blob list is the pack's key
// range, so the work is proportional to the pack, not to the index. An alias
// goes with its blob when that blob's entry goes. With tr nil (the pack file
// is gone and its trailer with it) every blob entry is scanned instead.
func (ix *Index) RemovePack(id crypto.ID, tr *pack.Trailer) error {
	ix.mu.Lock()
	var info PackInfo
	found := false
	for _, p := range ix.packs {
		if p.ID == id {
			info, found = p, true
			break
		}
	}
	ix.mu.Unlock()
	if !found {
		return nil
	}
	b := ix.db.NewBatch()
	defer b.Close()
	pointsHere := func(bid crypto.ID) (bool, error) {
		v, closer, err := ix.db.Get(blobKey(bid))
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		seq, _ := binary.Uvarint(v)
		closer.Close()
		return uint32(seq) == info.seq, nil
	}
	if tr != nil {
		for _, f := range tr.Frames {
			for _, bl := range f.Blobs {
				here, err := pointsHere(bl.ID)
				if err != nil {
					return err
				}
				if !here {
					continue // a copy elsewhere is the indexed one
				}
				b.Delete(blobKey(bl.ID), nil)
				if bl.HasAlias {
					if target, ok, err := ix.ResolveAlias(bl.Alias); err != nil {
						return err
					} else if ok && target == bl.ID {
						b.Delete(aliasKey(bl.Alias), nil)
					}
				}
			}
		}
	} else {
		err := ix.EachBlob(func(bid crypto.ID, loc Location) error {
			if loc.packSeq == info.seq {
				b.Delete(blobKey(bid), nil)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	b.Delete(packKey(id), nil)
	b.Delete(seqKey(info.seq), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	ix.mu.Lock()
	delete(ix.packs, info.seq)
	ix.mu.Unlock()
	return nil
}

// DropStaleAliases deletes alias entries whose blob is no longer indexed
// (left by an index that lost blobs another way), so that a lookup by
// alias never names a blob that is gone.
func (ix *Index) DropStaleAliases() (int, error) {
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte("A"), UpperBound: []byte("B")})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	b := ix.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		var id crypto.ID
		copy(id[:], it.Value())
		has, err := ix.Has(id)
		if err != nil {
			return n, err
		}
		if !has {
			b.Delete(append([]byte(nil), it.Key()...), nil)
			n++
		}
	}
	if err := it.Error(); err != nil {
		return n, err
	}
	return n, b.Commit(pebble.Sync)
}

// CopyTo writes every entry of the index into a new, empty index at dir.
// Prune uses it to leave no trace of deleted entries: pebble may keep
// deleted keys in obsolete sstables and recycled WAL files, while a fresh
// database has only ever seen live entries.
func (ix *Index) CopyTo(dir string) error {
	dst, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return fmt.Errorf("open index copy %s: %w", dir, err)
	}
	it, err := ix.db.NewIter(nil)
	if err != nil {
		dst.Close()
		return err
	}
	b := dst.NewBatch()
	for it.First(); it.Valid(); it.Next() {
		b.Set(it.Key(), it.Value(), nil)
		if b.Len() > 4<<20 {
			if err = b.Commit(pebble.NoSync); err != nil {
				break
			}
			b = dst.NewBatch()
		}
	}
	if err == nil {
		err = it.Error()
	}
	it.Close()
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	if err == nil {
		err = dst.Flush()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// Compact rewrites the whole index so deleted entries leave no trace on disk.
func (ix *Index) Compact() error {
	if err := ix.db.Flush(); err != nil {
		return err
	}
	return ix.db.Compact([]byte{0}, []byte{0xff}, true)
}

// Stats summarises the index.
type Stats struct {
	Packs     int
	PackBytes int64
	Blobs     int64
}

// Stats counts packs and blobs.
func (ix *Index) Stats() (Stats, error) {
	var s Stats
	for _, p := range ix.Packs() {
		s.Packs++
		s.PackBytes += p.Size
		s.Blobs += int64(p.Blobs)
	}
	return s, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// Flush writes the memtable to disk.
func (ix *Index) Flush() error { return ix.db.Flush() }
