package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// maxRuns is the number of spill files beyond which they are merged into
// one, so that Commit never holds more than maxRuns+1 files open.
const maxRuns = 64

// Editor collects puts and deletes in any key order and commits them as a
// new tree. Memory is bounded by Config.BufferEdits/BufferBytes: beyond
// them, edits are sorted and spilled to temporary files, which Commit merges.
// The latest edit of a key wins.
//
// Put and Delete do not return errors; the first error (an invalid key or
// value, or a failure to spill) is kept and returned by Err and Commit, as
// bufio.Writer does. An Editor is not safe for concurrent use.
type Editor struct {
	store NodeStore
	root  ID
	cfg   Config
	sp    *splitter
	err   error

	arena []byte
	ents  []bufEdit
	seq   uint32
	dir   string   // temp dir holding runs, created on the first spill
	runs  []string // spill files, oldest first
	nrun  int
}

// NewEditor returns an Editor of the tree rooted at root (the zero ID for
// an empty tree). An invalid cfg is reported by Err and Commit.
func NewEditor(store NodeStore, root ID, cfg Config) *Editor {
	e := &Editor{store: store, root: root}
	e.cfg, e.err = cfg.withDefaults()
	if e.err == nil {
		e.sp = newSplitter(e.cfg)
	}
	return e
}

// Root is the root the next Commit starts from.
func (e *Editor) Root() ID { return e.root }

// Err returns the first error of Put or Delete, if any.
func (e *Editor) Err() error { return e.err }

// Put sets key to value. The Editor copies both.
func (e *Editor) Put(key, value []byte) { e.add(key, value, false) }

// Delete removes key (deleting an absent key is not an error).
func (e *Editor) Delete(key []byte) { e.add(key, nil, true) }

func (e *Editor) add(key, val []byte, del bool) {
	if e.err != nil {
		return
	}
	if len(key) == 0 || len(key) > MaxKeyLen {
		e.err = fmt.Errorf("tree: key %q: length %d outside [1, %d]", key, len(key), MaxKeyLen)
		return
	}
	if len(val) > MaxValueLen {
		e.err = fmt.Errorf("tree: value of key %q: length %d above %d", key, len(val), MaxValueLen)
		return
	}
	koff := len(e.arena)
	e.arena = append(e.arena, key...)
	e.arena = append(e.arena, val...)
	e.ents = append(e.ents, bufEdit{
		koff: uint32(koff), klen: uint16(len(key)),
		voff: uint32(koff + len(key)), vlen: uint16(len(val)),
		seq: e.seq, del: del,
	})
	e.seq++
	if len(e.ents) >= e.cfg.BufferEdits || len(e.arena) >= e.cfg.BufferBytes {
		e.err = e.spill()
	}
}

// spill writes the buffer as a sorted run.
func (e *Editor) spill() error {
	if e.dir == "" {
		dir, err := os.MkdirTemp(e.cfg.TempDir, "orgsnap-tree-*")
		if err != nil {
			return fmt.Errorf("tree: spill edits: %w", err)
		}
		e.dir = dir
	}
	mem := &memRun{arena: e.arena, ents: sortDedupe(e.arena, e.ents)}
	if err := e.writeRun(mem); err != nil {
		return err
	}
	e.arena, e.ents, e.seq = e.arena[:0], e.ents[:0], 0
	if len(e.runs) < maxRuns {
		return nil
	}
	// Merge all runs into one.
	srcs, closeAll, err := e.openRuns()
	if err != nil {
		return err
	}
	old := e.runs
	e.runs = nil
	err = e.writeRun(newMergeRuns(srcs))
	if cerr := closeAll(); err == nil {
		err = cerr
	}
	for _, p := range old {
		if rerr := os.Remove(p); err == nil && rerr != nil {
			err = fmt.Errorf("tree: remove spilled edits: %w", rerr)
		}
	}
	return err
}

func (e *Editor) writeRun(src editSource) error {
	p := filepath.Join(e.dir, fmt.Sprintf("run-%06d", e.nrun))
	e.nrun++
	if err := writeRun(p, src); err != nil {
		os.Remove(p)
		return err
	}
	e.runs = append(e.runs, p)
	return nil
}

// openRuns opens every spill file, oldest first.
func (e *Editor) openRuns() ([]editSource, func() error, error) {
	var frs []*fileRun
	closeAll := func() (err error) {
		for _, fr := range frs {
			if cerr := fr.close(); err == nil {
				err = cerr
			}
		}
		return err
	}
	srcs := make([]editSource, 0, len(e.runs)+1)
	for _, p := range e.runs {
		fr, err := openRun(p)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		frs = append(frs, fr)
		srcs = append(srcs, fr)
	}
	return srcs, closeAll, nil
}

// reset drops every pending edit and removes the spill files.
func (e *Editor) reset() error {
	e.arena, e.ents, e.seq, e.runs = e.arena[:0], e.ents[:0], 0, nil
	if e.dir == "" {
		return nil
	}
	err := os.RemoveAll(e.dir)
	e.dir = ""
	if err != nil {
		return fmt.Errorf("tree: remove spilled edits: %w", err)
	}
	return nil
}

// Close discards pending edits and removes temporary files. The Editor
// must not be used afterwards.
func (e *Editor) Close() error {
	err := e.reset()
	e.err = errClosed
	return err
}

// Commit applies the pending edits to the tree and returns the new root.
// Only nodes that are new are written; subtrees that no edit falls into are
// reused without being read. Afterwards, successful or not, the Editor has
// no pending edits and no temporary files; on success its root is the new
// root, so it can be used for the next batch.
func (e *Editor) Commit(ctx context.Context) (root ID, err error) {
	defer func() {
		if rerr := e.reset(); err == nil && rerr != nil {
			err = rerr
		}
	}()
	if e.err != nil {
		err := e.err
		if !errors.Is(err, errClosed) && !errors.Is(err, ErrInvalidConfig) {
			e.err = nil
		}
		return ID{}, err
	}
	if len(e.ents) == 0 && len(e.runs) == 0 {
		return e.root, nil
	}
	mem := &memRun{arena: e.arena, ents: sortDedupe(e.arena, e.ents)}
	var src editSource = mem
	if len(e.runs) > 0 {
		srcs, closeAll, err := e.openRuns()
		if err != nil {
			return ID{}, err
		}
		defer closeAll()
		src = newMergeRuns(append(srcs, mem))
	}
	m := &merger{ctx: ctx, store: e.store, b: newBuilder(ctx, e.store, e.sp), edits: src}
	root, err = m.run(e.root)
	if err != nil {
		return ID{}, err
	}
	e.root = root
	return root, nil
}

// merger streams the merge of an old tree with sorted edits into a builder.
type merger struct {
	ctx   context.Context
	store NodeStore
	b     *builder
	edits editSource
}

func (m *merger) run(old ID) (ID, error) {
	if old != (ID{}) {
		n, err := loadNode(m.ctx, m.store, old, nil)
		if err != nil {
			return ID{}, err
		}
		if err := m.mergeNode(n, true); err != nil {
			return ID{}, err
		}
	}
	// Edits beyond the old tree's last key.
	for {
		e, ok := m.edits.cur()
		if !ok {
			break
		}
		if !e.del {
			if err := m.b.addLeaf(e.key, e.val); err != nil {
				return ID{}, err
			}
		}
		if err := m.edits.next(); err != nil {
			return ID{}, err
		}
	}
	return m.b.finish()
}

// mergeNode merges the subtree n with the edits up to its last key.
// rightSpine tells whether n is the last node of its level in the old tree.
//
// A child subtree is reused as is, without being read, when (1) the next
// edit key is greater than its last key, so no edit falls into it, (2) the
// builder holds no pending entries at the child's level and below, so the
// builder is at a boundary at each of those levels exactly where the old
// tree was when the child began, and boundaries inside the child depend
// only on its own keys, and (3) the child ended at a cut in the old tree:
// true of every node but the last of its level, which is reused only if no
// edit follows (then it is the last node of the new tree too).
func (m *merger) mergeNode(n *Node, rightSpine bool) error {
	if n.level == 0 {
		return m.mergeLeaf(n)
	}
	for i := range n.Len() {
		rs := rightSpine && i == n.Len()-1
		e, more := m.edits.cur()
		if (!more || bytes.Compare(e.key, n.keys[i]) > 0) && (!rs || !more) && m.b.emptyUpTo(n.level-1) {
			if err := m.b.addRef(n.level, n.keys[i], n.ids[i], n.counts[i]); err != nil {
				return err
			}
			continue
		}
		c, err := loadChild(m.ctx, m.store, n, i, nil)
		if err != nil {
			return err
		}
		if err := m.mergeNode(c, rs); err != nil {
			return err
		}
	}
	return nil
}

func (m *merger) mergeLeaf(n *Node) error {
	for i, k := range n.keys {
		e, ok := m.edits.cur()
		for ok && bytes.Compare(e.key, k) < 0 {
			if !e.del {
				if err := m.b.addLeaf(e.key, e.val); err != nil {
					return err
				}
			}
			if err := m.edits.next(); err != nil {
				return err
			}
			e, ok = m.edits.cur()
		}
		if ok && bytes.Equal(e.key, k) {
			if !e.del {
				if err := m.b.addLeaf(k, e.val); err != nil {
					return err
				}
			}
			if err := m.edits.next(); err != nil {
				return err
			}
			continue
		}
		if err := m.b.addLeaf(k, n.vals[i]); err != nil {
			return err
		}
	}
	return nil
}
