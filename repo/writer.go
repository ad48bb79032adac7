package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"sort"
	"time"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// WriterOptions describe the snapshot a Writer will commit.
type WriterOptions struct {
	Parent      *Snapshot // nil: the first snapshot (everything is new)
	Time        time.Time // zero: now
	Org         string
	Instance    string
	Period      string // zero: PeriodOf(Time); also the pack group
	Kind        string // zero: full without a parent, synthetic with one
	Tags        []string
	ToolVersion string
	// State is stored in the snapshot as is (Snapshot.State).
	State []byte
	// Resume continues an unfinished run: a checkpoint (KindCheckpoint)
	// whose Parent is Parent. The writer starts from the checkpoint's trees
	// (objects it finished are carried over as they are) while the snapshot
	// still names Parent, and the counts of every object edited again are
	// taken from a diff against Parent, so that the snapshot equals the one
	// an uninterrupted run would have written.
	Resume *Snapshot
}

// Writer builds one snapshot from a parent. Edits name records by (object,
// Id); objects the writer never touches are carried over unchanged. Memory
// is bounded: edits spill to disk inside the tree editors, and the writer
// keeps only a 24-byte summary per edited record (to count changes) and
// each edited object's field-list table (lists of names: small).
//
// A Writer is not safe for concurrent use.
type Writer struct {
	r      *Repository
	opts   WriterOptions
	parent objectSet // the trees edits start from: Parent's, or Resume's
	// lineage is Parent's root: what counts are taken against. It differs
	// from parent only when resuming.
	lineage objectSet
	objs    map[string]*objWriter
	err     error
	done    bool
}

// objectSet is the root tree's view: object name → objectRoot.
type objectSet struct {
	root crypto.ID
}

// objWriter accumulates one object's edits.
type objWriter struct {
	name    string
	parent  objectRoot
	exists  bool // the object is in the parent
	replace bool // a full re-read: build a new base from the puts alone
	// resumeBase: a full re-read that a checkpoint began; the puts continue
	// its base instead of starting from nothing.
	resumeBase bool
	removed    bool // the object is dropped from the snapshot

	// lineage is the object in Parent when resuming (counts are taken
	// against it); inLineage says it is there.
	lineage   objectRoot
	inLineage bool

	records *tree.Editor // on the parent's delta (synthetic) or empty (replace)
	// finished holds the records' result once FinishRecords built it.
	finished *recordsResult
	files    *tree.Editor
	schema   *crypto.ID
	// table is the field-list table: the parent's (even on a full re-read,
	// so that list positions never change along the lineage) plus lists
	// first seen here. Loaded at the first record put.
	table *fieldTable
	buf   []byte // scratch for record encodings

	stats ObjectStats
}

// NewWriter starts a snapshot.
func (r *Repository) NewWriter(ctx context.Context, o WriterOptions) (*Writer, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if o.Time.IsZero() {
		o.Time = r.now()
	}
	o.Time = o.Time.UTC()
	if o.Period == "" {
		o.Period = PeriodOf(o.Time)
	}
	if o.Kind == "" {
		o.Kind = KindFull
		if o.Parent != nil {
			o.Kind = KindSynthetic
		}
	}
	w := &Writer{r: r, opts: o, objs: map[string]*objWriter{}}
	if o.Parent != nil {
		w.parent.root = o.Parent.Root
		w.lineage.root = o.Parent.Root
	}
	if c := o.Resume; c != nil {
		if c.Kind != KindCheckpoint {
			return nil, fmt.Errorf("resume from snapshot %s: it is a %s snapshot, not a checkpoint", c.ID.Short(), c.Kind)
		}
		switch {
		case c.Parent == nil && o.Parent == nil:
		case c.Parent != nil && o.Parent != nil && *c.Parent == o.Parent.ID:
		default:
			return nil, fmt.Errorf("resume from checkpoint %s: it continues another parent", c.ID.Short())
		}
		w.parent.root = c.Root
	}
	return w, nil
}

func (w *Writer) group() string { return w.opts.Period }

func (w *Writer) object(ctx context.Context, name string) (*objWriter, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.done {
		return nil, errors.New("snapshot writer already committed")
	}
	if ow := w.objs[name]; ow != nil {
		return ow, nil
	}
	if name == "" || len(name) > tree.MaxKeyLen {
		return nil, fmt.Errorf("invalid object name %q", name)
	}
	ow := &objWriter{name: name}
	if !w.parent.root.IsZero() {
		v, ok, err := tree.Get(ctx, nodeStore{r: w.r}, w.parent.root, []byte(name))
		if err != nil {
			return nil, fmt.Errorf("parent snapshot, object %s: %w", name, err)
		}
		if ok {
			if ow.parent, err = decodeObjectRoot(v); err != nil {
				return nil, fmt.Errorf("parent snapshot, object %s: %w", name, err)
			}
			ow.exists = true
		}
	}
	if w.opts.Resume != nil && !w.lineage.root.IsZero() {
		v, ok, err := tree.Get(ctx, nodeStore{r: w.r}, w.lineage.root, []byte(name))
		if err != nil {
			return nil, fmt.Errorf("parent snapshot, object %s: %w", name, err)
		}
		if ok {
			if ow.lineage, err = decodeObjectRoot(v); err != nil {
				return nil, fmt.Errorf("parent snapshot, object %s: %w", name, err)
			}
			ow.inLineage = true
		}
	}
	// An object the parent lacks is built from scratch: there is no base
	// to compare edits with, so they go straight into a new base.
	ow.replace = !ow.exists
	w.objs[name] = ow
	return ow, nil
}

func (w *Writer) recordEditor(ow *objWriter) *tree.Editor {
	if ow.records == nil {
		root := ow.parent.Delta
		switch {
		case ow.resumeBase:
			root = ow.parent.Base
		case ow.replace:
			root = crypto.ID{}
		}
		// Edits of a synthetic snapshot build the delta; the others a base.
		delta := !ow.replace && !ow.resumeBase
		ow.records = tree.NewEditor(nodeStore{r: w.r, group: w.group(), records: true, delta: delta}, root, w.r.treeCfg)
	}
	return ow.records
}

// ReplaceObject declares that the object's records will all be put again
// (a full read): records not put before Commit are not in the snapshot. It
// must be called before any record edit of that object.
func (w *Writer) ReplaceObject(ctx context.Context, object string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if ow.records != nil {
		return fmt.Errorf("object %s: ReplaceObject after edits", object)
	}
	ow.replace, ow.removed = true, false
	return nil
}

// ContinueReplace resumes a full re-read that the Resume checkpoint began
// (ReplaceObject there): the records the checkpoint holds stay, and the
// puts that follow add to them. Records the checkpoint holds that the org
// no longer has must be deleted by the caller (it knows which key range it
// re-reads). It must be called before any record edit of that object.
func (w *Writer) ContinueReplace(ctx context.Context, object string) error {
	if w.opts.Resume == nil {
		return fmt.Errorf("object %s: ContinueReplace without a checkpoint to resume", object)
	}
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if ow.records != nil {
		return fmt.Errorf("object %s: ContinueReplace after edits", object)
	}
	if !ow.parent.Delta.IsZero() {
		return fmt.Errorf("object %s: the checkpoint holds a layered tree, not a full re-read to continue", object)
	}
	ow.replace, ow.resumeBase, ow.removed = true, ow.exists, false
	return nil
}

// RemoveObject drops an object from the snapshot (it left the plan, or the org).
func (w *Writer) RemoveObject(ctx context.Context, object string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	ow.removed = true
	return nil
}

// PutRecord sets a record's content. rec must be valid (record.Validate);
// the writer does not keep it.
func (w *Writer) PutRecord(ctx context.Context, object, id string, rec record.Record) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if err := checkRecordKey(id); err != nil {
		return fmt.Errorf("object %s: %w", object, err)
	}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("object %s record %s: %w", object, id, err)
	}
	if ow.table == nil {
		t, err := w.r.loadTable(ctx, ow.parent.Table)
		if err != nil {
			return w.fail(fmt.Errorf("parent snapshot, object %s: %w", object, err))
		}
		ow.table = t.clone()
	}
	ow.buf = appendRecordValue(ow.buf[:0], ow.table.indexOf(rec), rec)
	v, err := w.r.encodeRecord(ctx, w.group(), ow.buf)
	if err != nil {
		return w.fail(err)
	}
	return w.edit(ctx, ow, id, v)
}

// DeleteRecord removes a record (a no-op when it is not there).
func (w *Writer) DeleteRecord(ctx context.Context, object, id string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if err := checkRecordKey(id); err != nil {
		return fmt.Errorf("object %s: %w", object, err)
	}
	return w.edit(ctx, ow, id, nil)
}

func checkRecordKey(id string) error {
	if id == "" || len(id) > tree.MaxKeyLen {
		return fmt.Errorf("invalid record key %q", id)
	}
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// edit applies value v (nil: delete) to one record, keeping the delta
// invariant: the delta holds k only where the result differs from the base.
func (w *Writer) edit(ctx context.Context, ow *objWriter, id string, v []byte) error {
	if ow.finished != nil {
		return w.fail(fmt.Errorf("object %s: record %s edited after FinishRecords", ow.name, id))
	}
	ed := w.recordEditor(ow)
	key := []byte(id)
	if ow.replace {
		if v != nil {
			ed.Put(key, v)
		} else {
			ed.Delete(key)
		}
		return w.check(ed)
	}
	// Synthetic mode: record the edit blindly. Commit compares the edited
	// keys with the base in key order (reading each base frame once), which
	// restores the delta invariant and counts the changes; looking each edit
	// up here would decompress a frame at random per edit.
	if v == nil {
		v = []byte{valTombstone}
	}
	ed.Put(key, v)
	return w.check(ed)
}

func (w *Writer) check(ed *tree.Editor) error {
	if err := ed.Err(); err != nil {
		return w.fail(err)
	}
	return nil
}

// PutSchema stores an object's describe (or any schema document).
func (w *Writer) PutSchema(ctx context.Context, object string, data []byte) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	id, _, err := w.r.SaveBlob(ctx, pack.TypeSchema, w.group(), data, nil)
	if err != nil {
		return w.fail(err)
	}
	ow.schema = &id
	return nil
}

// SetHighWater records the engine's resume point for an object.
func (w *Writer) SetHighWater(ctx context.Context, object, hw string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	ow.stats.HighWater = hw
	return nil
}

// CommitCheckpoint commits the writer's progress as a checkpoint
// (KindCheckpoint): no delta is folded into its base and no file is dropped,
// so that the run resuming it (WriterOptions.Resume) ends exactly as an
// uninterrupted run would.
func (w *Writer) CommitCheckpoint(ctx context.Context) (*Snapshot, error) {
	w.opts.Kind = KindCheckpoint
	return w.Commit(ctx)
}

// SetState replaces the engine document the snapshot will carry
// (Snapshot.State); the engine knows it only once its run is over.
func (w *Writer) SetState(state []byte) {
	w.opts.State = append([]byte(nil), state...)
}

// Abort discards the writer. Blobs already saved stay (they are reused by
// the next run, or removed by prune).
func (w *Writer) Abort() {
	for _, ow := range w.objs {
		if ow.records != nil {
			ow.records.Close()
		}
		if ow.files != nil {
			ow.files.Close()
		}
	}
	w.done = true
}

// Commit writes the new trees, flushes every pack, then writes the snapshot
// file. It does not move any ref: see SetRef.
func (w *Writer) Commit(ctx context.Context) (*Snapshot, error) {
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	if w.done {
		return nil, errors.New("snapshot writer already committed")
	}
	defer w.Abort()
	snap := &Snapshot{
		Time: w.opts.Time, Org: w.opts.Org, Instance: w.opts.Instance, Period: w.opts.Period,
		Kind: w.opts.Kind, Tags: w.opts.Tags, ToolVersion: w.opts.ToolVersion,
		Objects: map[string]ObjectStats{},
	}
	snap.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		snap.User = u.Username
	}
	if w.opts.Parent != nil {
		pid := w.opts.Parent.ID
		snap.Parent = &pid
		for name, st := range w.opts.Parent.Objects {
			snap.Objects[name] = ObjectStats{Records: st.Records, Files: st.Files, HighWater: st.HighWater}
		}
	}
	if c := w.opts.Resume; c != nil {
		// The checkpoint's counts are already taken against Parent.
		snap.Objects = map[string]ObjectStats{}
		for name, st := range c.Objects {
			snap.Objects[name] = st
		}
	}
	if len(w.opts.State) > 0 {
		snap.State = append(json.RawMessage(nil), w.opts.State...)
	}
	metaStore := nodeStore{r: w.r, group: w.group()}
	rootEd := tree.NewEditor(metaStore, w.parent.root, w.r.treeCfg)
	defer rootEd.Close()
	names := make([]string, 0, len(w.objs))
	for n := range w.objs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ow := w.objs[name]
		if ow.removed {
			rootEd.Delete([]byte(name))
			delete(snap.Objects, name)
			continue
		}
		or, st, err := w.commitObject(ctx, ow)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", name, err)
		}
		rootEd.Put([]byte(name), or.encode())
		if ow.stats.HighWater == "" {
			st.HighWater = snap.Objects[name].HighWater
		}
		snap.Objects[name] = st
	}
	root, err := rootEd.Commit(ctx)
	if err != nil {
		return nil, err
	}
	snap.Root = crypto.ID(root)
	if err := w.r.Flush(ctx); err != nil {
		return nil, err
	}
	if err := w.r.saveSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	w.done = true
	return snap, nil
}

func (w *Writer) commitObject(ctx context.Context, ow *objWriter) (objectRoot, ObjectStats, error) {
	or := ow.parent
	st := ObjectStats{HighWater: ow.stats.HighWater}
	if ow.schema != nil {
		or.Schema = *ow.schema
	}
	if t := ow.table; t != nil && len(t.lists) > t.saved {
		id, _, err := w.r.SaveBlob(ctx, pack.TypeMeta, w.group(), t.encode(), nil)
		if err != nil {
			return or, st, fmt.Errorf("field-list table: %w", err)
		}
		or.Table = id
	}
	st2 := nodeStore{r: w.r}
	rp := ow.finished
	if rp == nil {
		var err error
		if rp, err = w.recordsPhase(ctx, ow); err != nil {
			return or, st, err
		}
	}
	or.Base, or.Delta = rp.base, rp.delta
	st.Added, st.Changed, st.Deleted = rp.added, rp.changed, rp.deleted
	var err error
	if ow.replace && w.opts.Kind != KindCheckpoint {
		// A file belongs to a record: after a full re-read, files of records
		// that are gone go too (the engine links files only for records).
		// Not in a checkpoint: its re-read is unfinished.
		if err := w.dropOrphanFiles(ctx, ow, or.Base); err != nil {
			return or, st, err
		}
	}
	if ow.files != nil {
		root, err := ow.files.Commit(ctx)
		if err != nil {
			return or, st, err
		}
		or.Files = crypto.ID(root)
	}
	if or.NFiles, err = countTree(ctx, st2, or.Files); err != nil {
		return or, st, err
	}
	st.Files = or.NFiles
	if or.BaseN, err = countTree(ctx, st2, or.Base); err != nil {
		return or, st, err
	}
	if or.DeltaN, err = countTree(ctx, st2, or.Delta); err != nil {
		return or, st, err
	}
	if ow.replace {
		or.Records = or.BaseN
	} else {
		or.Records = or.Records + st.Added - st.Deleted
	}
	// A checkpoint never rebases: the finished snapshot decides, from its
	// final delta, exactly as an uninterrupted run would.
	if w.opts.Kind != KindCheckpoint && or.DeltaN > 0 && or.DeltaN*uint64(w.r.cfg.RebaseRatio) > or.BaseN {
		if or, err = w.rebase(ctx, or); err != nil {
			return or, st, err
		}
	}
	st.Records = or.Records
	if w.opts.Resume != nil {
		// Counts against the checkpoint would count twice what both runs
		// touched; the diff against Parent is the truth.
		if !ow.inLineage {
			ow.lineage = objectRoot{}
		}
		st.Added, st.Changed, st.Deleted = 0, 0, 0
		tally, err := w.tallier(ctx, or.Table, ow, &st)
		if err != nil {
			return or, st, err
		}
		if err := w.r.diffRecords(ctx, ow.lineage, or, tally); err != nil {
			return or, st, err
		}
	}
	return or, st, nil
}

// settleDelta turns a blindly edited delta into a valid one and counts the
// changes. It walks the keys where the edited delta differs from the
// parent's (tree.Diff, in key order) and, for each, compares with the base:
// an entry equal to the base's value (or a tombstone for a key the base
// lacks) is removed, so the delta invariant holds; the parent's and the new
// effective values classify the change as added, changed or deleted.
//
// The base lookups are the cost: changes are spread over the whole base, so
// settling reads (and decompresses) most of its frames however few records
// changed. They run in batches of settleBatch keys, each batch split into
// contiguous key ranges looked up on all cores (a range's keys share
// paths and frames, so each frame is still read about once).
func (w *Writer) settleDelta(ctx context.Context, parent objectRoot, edited crypto.ID, table *fieldTable, st *ObjectStats) (crypto.ID, error) {
	store := nodeStore{r: w.r}
	var drop [][]byte
	batch := make([]settling, 0, settleBatch)
	same := func(a, b []byte) (bool, error) {
		if table == nil {
			return bytes.Equal(a, b), nil
		}
		return w.r.sameRecord(ctx, table, a, b)
	}
	settle := func() error {
		if err := lookupBase(ctx, store, parent.Base, batch); err != nil {
			return err
		}
		for i := range batch {
			d, err := batch[i].classify(st, same)
			if err != nil {
				return err
			}
			if d {
				drop = append(drop, batch[i].key)
			}
		}
		batch = batch[:0]
		return nil
	}
	err := tree.Diff(ctx, store, parent.Delta, edited, func(c tree.Change) error {
		batch = append(batch, settling{key: bytes.Clone(c.Key), old: bytes.Clone(c.Old), new: bytes.Clone(c.New)})
		if len(batch) == settleBatch {
			return settle()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = settle()
	}
	if err != nil || len(drop) == 0 {
		return edited, err
	}
	ed := tree.NewEditor(nodeStore{r: w.r, group: w.group(), records: true, delta: true}, edited, w.r.treeCfg)
	defer ed.Close()
	for _, k := range drop {
		ed.Delete(k)
	}
	root, err := ed.Commit(ctx)
	return crypto.ID(root), err
}

// settleBatch bounds settleDelta's memory: this many changed keys with
// their old and new values (about 1 KiB each for typical records).
const settleBatch = 8192

// settling is one key where the edited delta differs from the parent's:
// old/new are the delta values (nil: no delta entry), base the base's.
type settling struct {
	key, old, new []byte
	base          []byte
	inBase        bool
}

// classify counts the change in st and reports whether the key's new delta
// entry must be dropped (it is the base's record: same reports whether two
// record values are the same record, sameRecord).
func (s *settling) classify(st *ObjectStats, same func(a, b []byte) (bool, error)) (drop bool, err error) {
	eff := func(v []byte) []byte {
		if isTombstone(v) {
			return nil
		}
		return v
	}
	// equal: both absent, or the same record.
	equal := func(a, b []byte) (bool, error) {
		if a == nil || b == nil {
			return a == nil && b == nil, nil
		}
		return same(a, b)
	}
	base := s.base
	if !s.inBase {
		base = nil
	} else {
		base = eff(base)
	}
	before := base
	if s.old != nil {
		before = eff(s.old)
	}
	after := base
	if s.new != nil {
		after = eff(s.new)
		eq, err := equal(after, base)
		if err != nil {
			return false, err
		}
		drop = eq && (after != nil || !s.inBase)
	}
	unchanged, err := equal(before, after)
	if err != nil {
		return false, err
	}
	switch {
	case unchanged:
	case before == nil:
		st.Added++
	case after == nil:
		st.Deleted++
	default:
		st.Changed++
	}
	return drop, nil
}

// lookupBase fills in the base value of every key of batch (sorted), with
// one worker per core on contiguous ranges.
func lookupBase(ctx context.Context, store tree.NodeStore, base crypto.ID, batch []settling) error {
	workers := runtime.GOMAXPROCS(0)
	if n := len(batch)/256 + 1; n < workers {
		workers = n // small batches are not worth a goroutine
	}
	lookup := func(part []settling) error {
		g := tree.NewGetter(ctx, store, base) // keys come in order: paths are shared
		for i := range part {
			v, ok, err := g.Get(part[i].key)
			if err != nil {
				return err
			}
			part[i].base, part[i].inBase = v, ok
		}
		return nil
	}
	if workers <= 1 {
		return lookup(batch)
	}
	errs := make(chan error, workers)
	per := (len(batch) + workers - 1) / workers
	for lo := 0; lo < len(batch); lo += per {
		part := batch[lo:min(lo+per, len(batch))]
		go func() { errs <- lookup(part) }()
	}
	var first error
	for lo := 0; lo < len(batch); lo += per {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rebase folds the delta into a new base.
func (w *Writer) rebase(ctx context.Context, or objectRoot) (objectRoot, error) {
	st := nodeStore{r: w.r, group: w.group(), records: true}
	ed := tree.NewEditor(st, or.Base, w.r.treeCfg)
	defer ed.Close()
	it := tree.Iter(ctx, st, or.Delta, nil)
	for it.Next() {
		if isTombstone(it.Value()) {
			ed.Delete(it.Key())
		} else {
			ed.Put(it.Key(), it.Value())
		}
	}
	if err := it.Err(); err != nil {
		return or, err
	}
	root, err := ed.Commit(ctx)
	if err != nil {
		return or, err
	}
	or.Base, or.Delta, or.DeltaN = crypto.ID(root), crypto.ID{}, 0
	or.BaseN, err = countTree(ctx, st, or.Base)
	return or, err
}

// recordsResult is an object's records after its edits: the trees and the
// counts against the tree the edits started from.
type recordsResult struct {
	base, delta             crypto.ID
	added, changed, deleted uint64
}

// recordsPhase turns the object's record edits into its new base and
// delta trees: a full re-read becomes the base (counted by a diff with the
// parent), synthetic edits become a settled delta (counted while settling).
func (w *Writer) recordsPhase(ctx context.Context, ow *objWriter) (*recordsResult, error) {
	rp := &recordsResult{base: ow.parent.Base, delta: ow.parent.Delta}
	var st ObjectStats
	switch {
	case ow.records == nil && !ow.replace:
		// no record edits
	case ow.replace:
		var root tree.ID
		if ow.resumeBase {
			root = tree.ID(ow.parent.Base)
		}
		if ow.records != nil {
			var err error
			if root, err = ow.records.Commit(ctx); err != nil {
				return nil, err
			}
		}
		rp.base, rp.delta = crypto.ID(root), crypto.ID{}
		if !ow.exists {
			ow.parent = objectRoot{}
		}
		if w.opts.Resume == nil { // resuming: counted against Parent at commit
			or := ow.parent
			or.Base, or.Delta = rp.base, rp.delta
			tally, err := w.tallier(ctx, or.Table, ow, &st)
			if err != nil {
				return nil, err
			}
			if err := w.r.diffRecords(ctx, ow.parent, or, tally); err != nil {
				return nil, err
			}
		}
	default:
		root, err := ow.records.Commit(ctx)
		if err != nil {
			return nil, err
		}
		if rp.delta, err = w.settleDelta(ctx, ow.parent, crypto.ID(root), ow.table, &st); err != nil {
			return nil, err
		}
	}
	rp.added, rp.changed, rp.deleted = st.Added, st.Changed, st.Deleted
	return rp, nil
}

// FinishRecords declares that an object's records are complete: its record
// trees are built now and the editor's memory (buffered edits, up to the
// tree's BufferBytes) is released, so that a snapshot of many objects holds
// only those still being read. Record edits of the object after this are
// errors; files, schema and high-water mark may still change.
func (w *Writer) FinishRecords(ctx context.Context, object string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if ow.finished != nil || ow.removed {
		return nil
	}
	rp, err := w.recordsPhase(ctx, ow)
	if err != nil {
		return w.fail(fmt.Errorf("object %s: %w", object, err))
	}
	if ow.records != nil {
		ow.records.Close()
		ow.records = nil
	}
	ow.finished = rp
	return nil
}

// dropOrphanFiles deletes the file entries of ow whose record is not in the
// records tree at base. Files are few next to records, so one lookup each
// is cheap.
func (w *Writer) dropOrphanFiles(ctx context.Context, ow *objWriter, base crypto.ID) error {
	from := ow.parent.Files
	if from.IsZero() {
		return nil
	}
	store := nodeStore{r: w.r}
	var orphans [][]byte
	it := tree.Iter(ctx, store, from, nil)
	for it.Next() {
		_, ok, err := tree.Get(ctx, store, base, it.Key())
		if err != nil {
			return err
		}
		if !ok {
			orphans = append(orphans, append([]byte(nil), it.Key()...))
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(orphans) == 0 {
		return nil
	}
	for _, k := range orphans {
		w.fileEditor(ow).Delete(k)
	}
	return w.check(ow.files)
}

// tallier counts record changes into st, leaving out records whose only
// difference is a field added or removed while null (sameRecord): a full
// re-read after a schema change rewrites every record of the object, but
// changes none. The values are read against table, the object's field-list
// table of the newer side (a lineage's tables only grow, so it reads the
// older side too). It must be the table even when this writer put no
// record of the object: a resumed run may only delete from an object whose
// re-read the checkpoint holds, and still counts every record against the
// parent.
func (w *Writer) tallier(ctx context.Context, table crypto.ID, ow *objWriter, st *ObjectStats) (func(recordChange) error, error) {
	t := ow.table
	if t == nil {
		var err error
		if t, err = w.r.loadTable(ctx, table); err != nil {
			return nil, err
		}
	}
	return func(c recordChange) error {
		if c.Old != nil && c.New != nil {
			same, err := w.r.sameRecord(ctx, t, c.Old, c.New)
			if err != nil || same {
				return err
			}
		}
		return st.tally(c)
	}, nil
}

// tally counts one record change.
func (st *ObjectStats) tally(c recordChange) error {
	switch {
	case c.Old == nil:
		st.Added++
	case c.New == nil:
		st.Deleted++
	default:
		st.Changed++
	}
	return nil
}

func countTree(ctx context.Context, st tree.NodeStore, root crypto.ID) (uint64, error) {
	if root.IsZero() {
		return 0, nil
	}
	return tree.Count(ctx, st, root)
}
