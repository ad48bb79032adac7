package repo

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/index"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// blobStore saves blobs into packs and loads them back.
//
// Invariant: a blob ID is in at most one of {index, pending}. Pending blobs
// live in an open pack writer and are served from memory until that pack is
// saved and indexed; then they move to the index in the same critical
// section, so a concurrent SaveBlob never writes a second copy.
type blobStore struct {
	r *Repository

	mu      sync.Mutex
	writers map[packKey]*pack.Writer
	pending map[crypto.ID]pendingBlob

	cache *frameCache

	// Written counts what this session added, for stats and tests.
	written struct {
		sync.Mutex
		Blobs, Bytes, Packs, PackBytes int64
	}
}

type packKey struct {
	kind  pack.Kind
	group string
	// small: the pack's frames are smallFrameSize, not the configured
	// frame size (delta runs: see smallFrameSize).
	small bool
}

// smallFrameSize is the frame size of packs holding the nodes of delta
// runs. Every synthetic snapshot writes a run, so reading one record's
// history reads a leaf of a run per snapshot: from a 1 MiB frame that
// costs a 1 MiB decompression, from a 64 KiB one about a sixteenth. Runs
// are a few percent of the records, so the weaker compression of small
// frames costs little.
const smallFrameSize = 64 << 10

type pendingBlob struct {
	data []byte
	key  packKey
}

const maxPendingPlain = 48 << 20

func newBlobStore(r *Repository) *blobStore {
	return &blobStore{
		r:       r,
		writers: map[packKey]*pack.Writer{},
		pending: map[crypto.ID]pendingBlob{},
		cache:   newFrameCache(64 << 20),
	}
}

// SaveBlob stores data as a blob of type t in the pack group (the snapshot
// period) unless a blob with the same ID exists. It returns the ID and
// whether new bytes were written.
func (r *Repository) SaveBlob(ctx context.Context, t pack.BlobType, group string, data []byte, alias *crypto.ID) (crypto.ID, bool, error) {
	return r.saveBlob(ctx, packKey{t.Kind(), group, false}, t, data, alias)
}

// saveBlob is SaveBlob into the packs of key k.
func (r *Repository) saveBlob(ctx context.Context, k packKey, t pack.BlobType, data []byte, alias *crypto.ID) (crypto.ID, bool, error) {
	if err := r.writable(); err != nil {
		return crypto.ID{}, false, err
	}
	id := r.key.BlobID(data)
	bs := r.blobs
	bs.mu.Lock()
	if _, ok := bs.pending[id]; ok {
		bs.mu.Unlock()
		return id, false, nil
	}
	has, err := r.idx.Has(id)
	if err != nil || has {
		bs.mu.Unlock()
		return id, false, err
	}
	w := bs.writers[k]
	if w == nil {
		w, err = r.newPackWriter(k)
		if err != nil {
			bs.mu.Unlock()
			return id, false, err
		}
		bs.writers[k] = w
	}
	cp := append([]byte(nil), data...)
	w.Add(id, t, cp, alias)
	bs.pending[id] = pendingBlob{data: cp, key: k}
	// Pending blobs are held in memory until their pack is saved, so a pack
	// is also closed at maxPendingPlain bytes of plaintext: that bounds the
	// writer's memory whatever the compression ratio.
	full := w.Size() >= r.cfg.PackSize || w.PlainSize() >= maxPendingPlain
	if full {
		delete(bs.writers, k)
	}
	bs.mu.Unlock()

	bs.written.Lock()
	bs.written.Blobs++
	bs.written.Bytes += int64(len(data))
	bs.written.Unlock()
	if full {
		if err := bs.savePack(ctx, k, w); err != nil {
			return id, true, err
		}
	}
	return id, true, nil
}

// savePack writes a finished pack, then indexes it (the write order that
// keeps a crash harmless), then drops its blobs from pending.
func (bs *blobStore) savePack(ctx context.Context, k packKey, w *pack.Writer) error {
	_, tr, size, err := bs.r.storePack(ctx, k, w, false)
	if err != nil {
		return err
	}
	bs.mu.Lock()
	for _, f := range tr.Frames {
		for _, b := range f.Blobs {
			delete(bs.pending, b.ID)
		}
	}
	bs.mu.Unlock()
	bs.written.Lock()
	bs.written.Packs++
	bs.written.PackBytes += size
	bs.written.Unlock()
	return nil
}

func (r *Repository) newPackWriter(k packKey) (*pack.Writer, error) {
	frame := r.cfg.FrameSize
	if k.small {
		frame = min(frame, smallFrameSize)
	}
	return pack.NewWriter(r.key, k.kind, k.group, pack.Options{
		FrameSize: frame,
		Level:     pack.Level(r.cfg.Compression),
		Now:       func() int64 { return r.now().Unix() },
	})
}

// storePack finishes a pack, saves it, then indexes it (the write order
// that keeps a crash harmless). repacked moves its blobs' index entries to
// it (prune's copies); otherwise blobs already indexed keep their entry.
func (r *Repository) storePack(ctx context.Context, k packKey, w *pack.Writer, repacked bool) (crypto.ID, *pack.Trailer, int64, error) {
	data, id, tr, err := w.Finish()
	if err != nil {
		return id, nil, 0, err
	}
	name := pack.Name(k.group, k.kind, id)
	if err := r.be.Save(ctx, backend.Handle{Type: backend.Packs, Name: name}, data, backend.SaveOptions{}); err != nil {
		return id, nil, 0, fmt.Errorf("save pack %s: %w", name, err)
	}
	add := r.idx.AddPack
	if repacked {
		add = r.idx.AddRepackedPack
	}
	if err := add(id, int64(len(data)), tr); err != nil {
		return id, nil, 0, err
	}
	return id, tr, int64(len(data)), nil
}

// Flush saves every open pack. After Flush returns, every blob saved so far
// is durable and indexed.
func (r *Repository) Flush(ctx context.Context) error {
	if r.blobs == nil {
		return nil
	}
	bs := r.blobs
	bs.mu.Lock()
	ws := bs.writers
	bs.writers = map[packKey]*pack.Writer{}
	bs.mu.Unlock()
	for k, w := range ws {
		if w.Count() == 0 {
			continue
		}
		if err := bs.savePack(ctx, k, w); err != nil {
			return err
		}
	}
	return nil
}

// WriteStats reports what this session wrote.
type WriteStats struct {
	Blobs, Bytes, Packs, PackBytes int64
}

// WriteStats returns the counters of blobs and packs this session wrote.
func (r *Repository) WriteStats() WriteStats {
	if r.blobs == nil {
		return WriteStats{}
	}
	w := &r.blobs.written
	w.Lock()
	defer w.Unlock()
	return WriteStats{w.Blobs, w.Bytes, w.Packs, w.PackBytes}
}

// HasBlob reports whether a blob is stored (or pending).
func (r *Repository) HasBlob(id crypto.ID) (bool, error) {
	if err := r.writable(); err != nil {
		return false, err
	}
	r.blobs.mu.Lock()
	_, ok := r.blobs.pending[id]
	r.blobs.mu.Unlock()
	if ok {
		return true, nil
	}
	return r.idx.Has(id)
}

// LoadBlob returns a blob's plaintext, verified against its ID. The result
// may be shared with a cache: callers must not modify it.
func (r *Repository) LoadBlob(ctx context.Context, id crypto.ID) ([]byte, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	bs := r.blobs
	bs.mu.Lock()
	p, ok := bs.pending[id]
	bs.mu.Unlock()
	if ok {
		return p.data, nil
	}
	loc, err := r.idx.Lookup(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	frame, err := r.loadFrame(ctx, loc)
	if err != nil {
		return nil, err
	}
	end := uint64(loc.BlobOff) + uint64(loc.BlobLen)
	if end > uint64(len(frame)) {
		return nil, fmt.Errorf("blob %s: index says bytes %d-%d of a %d-byte frame in pack %s: run `orgsnap repair index`",
			id.Short(), loc.BlobOff, end, len(frame), loc.PackName)
	}
	data := frame[loc.BlobOff:end]
	if r.key.BlobID(data) != id {
		return nil, fmt.Errorf("blob %s in pack %s: %w: content does not match its id", id.Short(), loc.PackName, pack.ErrCorrupt)
	}
	return data, nil
}

func (r *Repository) loadFrame(ctx context.Context, loc index.Location) ([]byte, error) {
	ck := frameKey{loc.Pack, loc.FrameOff}
	if f, ok := r.blobs.cache.get(ck); ok {
		return f, nil
	}
	sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.Packs, Name: loc.PackName}, int64(loc.FrameOff), int64(loc.FrameLen))
	if err != nil {
		return nil, fmt.Errorf("read pack %s: %w", loc.PackName, err)
	}
	if len(sealed) != int(loc.FrameLen) {
		return nil, fmt.Errorf("pack %s: %w: frame at %d is cut short", loc.PackName, pack.ErrCorrupt, loc.FrameOff)
	}
	plain, err := pack.OpenFrame(r.key, sealed)
	if err != nil {
		return nil, fmt.Errorf("pack %s frame at %d: %w", loc.PackName, loc.FrameOff, err)
	}
	r.blobs.cache.put(ck, plain)
	return plain, nil
}

// frameCache is an LRU of decompressed frames, bounded in bytes.
type frameCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[frameKey]*list.Element
}

type frameKey struct {
	pack crypto.ID
	off  uint64
}

type frameEntry struct {
	key  frameKey
	data []byte
}

func newFrameCache(max int) *frameCache {
	return &frameCache{max: max, ll: list.New(), items: map[frameKey]*list.Element{}}
}

func (c *frameCache) get(k frameKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*frameEntry).data, true
	}
	return nil, false
}

func (c *frameCache) put(k frameKey, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || len(data) > c.max {
		return
	}
	c.items[k] = c.ll.PushFront(&frameEntry{k, data})
	c.size += len(data)
	for c.size > c.max {
		e := c.ll.Back()
		fe := e.Value.(*frameEntry)
		c.ll.Remove(e)
		delete(c.items, fe.key)
		c.size -= len(fe.data)
	}
}

// nodeStore adapts the repository to tree.NodeStore. Leaves of record trees
// hold record data and go to data packs; every other node is metadata.
type nodeStore struct {
	r       *Repository
	group   string
	records bool // leaves are TypeRecordLeaf
	delta   bool // a delta run: its packs have small frames
}

func (s nodeStore) PutNode(ctx context.Context, data []byte) (tree.ID, error) {
	t := pack.TypeTreeNode
	if s.records && len(data) > 1 && data[1] == 0 {
		t = pack.TypeRecordLeaf
	}
	id, _, err := s.r.saveBlob(ctx, packKey{t.Kind(), s.group, s.delta}, t, data, nil)
	return tree.ID(id), err
}

func (s nodeStore) GetNode(ctx context.Context, id tree.ID) ([]byte, error) {
	return s.r.LoadBlob(ctx, crypto.ID(id))
}

// ValueLen makes every tree of the repository a tree.ValueDelimiter of
// leaf values in the record encoding, which delimits itself: record-tree
// leaves are then stored without value lengths (compact), while the root
// and file trees, whose values are not record values, keep them (a tree
// decides that per leaf, from the values). It is the same for every tree
// (any store of the repository, records or not, must read any leaf).
func (s nodeStore) ValueLen(b []byte) (int, error) { return recordValueLen(b) }
