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
	"slices"
	"sort"
	"sync"
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
	// Digests asks for a base digest of every base a full re-read builds
	// (basedigest.go): synthetic snapshots then settle without reading the
	// base, at the cost of hashing each record once while writing (about
	// 0.5 µs a record).
	Digests bool
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
// A Writer is not safe for concurrent use, with one exception:
// FinishRecords of an object may run while other goroutines edit, or
// finish, other objects (its cost, building the object's trees, is then
// spread over the cores). Nothing else may run concurrently, and no
// method of the same object may run during its FinishRecords.
type Writer struct {
	// mu guards objs and err: the state FinishRecords shares with edits of
	// other objects. Everything an objWriter holds belongs to whoever
	// works on that object.
	mu     sync.Mutex
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

	// below is the stack a synthetic snapshot's new run goes on (the
	// parent's object, or Parent's when resuming a checkpoint that already
	// began the run), startRun the run the edits continue (zero: a new one).
	below    objectRoot
	startRun crypto.ID

	records *tree.Editor // on startRun (synthetic) or empty (replace)
	// digest collects a full re-read's entries for the new base's digest
	// (nil otherwise: a resumed re-read does not see every entry).
	digest *digestBuilder
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
	w.mu.Lock()
	defer w.mu.Unlock()
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
	// A checkpoint's object is its Parent's with the run it began on top
	// (or its Parent's as is): the run continues, settled against Parent's
	// layers, so that the final run is the one an uninterrupted run writes.
	ow.below = ow.parent
	if ow.inLineage && ow.exists && len(ow.parent.Runs) == len(ow.lineage.Runs)+1 &&
		ow.parent.Base == ow.lineage.Base && slices.Equal(ow.parent.Runs[1:], ow.lineage.Runs) {
		ow.below, ow.startRun = ow.lineage, ow.parent.Runs[0].Root
	}
	// An object the parent lacks is built from scratch: there is no base
	// to compare edits with, so they go straight into a new base.
	ow.replace = !ow.exists
	w.objs[name] = ow
	return ow, nil
}

func (w *Writer) recordEditor(ow *objWriter) *tree.Editor {
	if ow.records == nil {
		root := ow.startRun
		switch {
		case ow.resumeBase:
			root = ow.parent.Base
		case ow.replace:
			root = crypto.ID{}
		}
		// Edits of a synthetic snapshot build a run; the others a base.
		delta := !ow.replace && !ow.resumeBase
		ow.records = tree.NewEditor(nodeStore{r: w.r, group: w.group(), records: true, delta: delta}, root, w.r.treeCfg)
		if ow.replace && !ow.resumeBase && w.opts.Digests {
			ow.digest = newDigestBuilder() // a base from scratch: every entry passes here
		}
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
	if len(ow.parent.Runs) > 0 {
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	return err
}

// edit applies value v (nil: delete) to one record.
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
		ow.digest.add(w.r, id, v)
		return w.check(ed)
	}
	// Synthetic mode: record the edit blindly in the new run. Commit
	// compares the edited keys with the layers below in key order (reading
	// each frame once), which restores the run invariant and counts the
	// changes; looking each edit up here would decompress a frame at random
	// per edit.
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
// (KindCheckpoint): no run is merged or folded into its base and no file is dropped,
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
	if w.opts.Resume != nil && w.opts.Kind != KindCheckpoint {
		if err := w.touchLayered(ctx); err != nil {
			return nil, err
		}
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

// touchLayered makes the final snapshot of a resumed run commit every
// object of its checkpoint that has runs, edited since or not: a checkpoint
// neither merges nor folds, so an object whose edits all came before it
// must still go through compactRuns, as it would have in an uninterrupted
// run (its counts are then taken against Parent, as for any resumed
// object).
func (w *Writer) touchLayered(ctx context.Context) error {
	it := tree.Iter(ctx, nodeStore{r: w.r}, w.parent.root, nil)
	var names []string
	for it.Next() {
		if w.objs[string(it.Key())] != nil {
			continue
		}
		or, err := decodeObjectRoot(it.Value())
		if err != nil {
			return fmt.Errorf("checkpoint, object %s: %w", it.Key(), err)
		}
		if len(or.Runs) > 0 {
			names = append(names, string(it.Key()))
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := w.object(ctx, name); err != nil {
			return err
		}
	}
	return nil
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
	or.Base, or.Runs, or.Records = rp.base, rp.runs, rp.records
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
	if ow.replace {
		or.Records = or.BaseN
	}
	// A checkpoint never merges or folds: the finished snapshot decides,
	// from its final runs, exactly as an uninterrupted run would.
	if w.opts.Kind != KindCheckpoint {
		if or, err = w.compactRuns(ctx, ow, or); err != nil {
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

// compactRuns applies the merge and fold rules to an object's runs:
//
//   - while the newest RunMerge runs have one level l, they are merged
//     into one run of level l+1 (a base-RunMerge counter: a change is
//     rewritten once per level, and an object has at most RunMerge-1 runs
//     of each level);
//   - when the runs hold more than 1/RebaseRatio of the base's entries, or
//     there are more than maxRuns/2 of them, they are folded into a new
//     base.
//
// Under random churn of c of the records a day, a day then writes about
// c times the number of levels of runs, plus a base every (1/RebaseRatio)/c
// days or so (docs/benchmarks.md, "Daily snapshots over time").
func (w *Writer) compactRuns(ctx context.Context, ow *objWriter, or objectRoot) (objectRoot, error) {
	fanIn := w.r.cfg.runMerge()
	for len(or.Runs) >= fanIn && sameLevel(or.Runs[:fanIn]) {
		table := ow.table
		if table == nil {
			var err error
			if table, err = w.r.loadTable(ctx, or.Table); err != nil {
				return or, err
			}
		}
		below := objectRoot{Base: or.Base, Runs: or.Runs[fanIn:]}
		merged, err := w.mergeRuns(ctx, or.Runs[:fanIn], below.layers(), table)
		if err != nil {
			return or, err
		}
		runs := make([]deltaRun, 0, len(or.Runs)-fanIn+1)
		if merged.N > 0 {
			runs = append(runs, merged)
		}
		or.Runs = append(runs, or.Runs[fanIn:]...)
		if len(or.Runs) == 0 {
			or.Runs = nil
		}
	}
	if n := or.runEntries(); n > 0 && (n*uint64(w.r.cfg.RebaseRatio) > or.BaseN || len(or.Runs) > maxRuns/2) {
		return w.rebase(ctx, or)
	}
	return or, nil
}

func sameLevel(runs []deltaRun) bool {
	for _, r := range runs[1:] {
		if r.Level != runs[0].Level {
			return false
		}
	}
	return true
}

// mergeRuns merges runs (newest first, contiguous) into one run of the
// next level over the layers below them. A key only one of them holds
// keeps its entry (it differed from what is below when written, and what
// is below has not changed). A key several hold keeps the newest entry
// unless it is the same record as the value below (a record changed and
// changed back), or a tombstone where nothing is below: those are dropped,
// so the run invariant holds. N of the result is 0 when nothing is left.
func (w *Writer) mergeRuns(ctx context.Context, runs []deltaRun, below []crypto.ID, table *fieldTable) (deltaRun, error) {
	store := nodeStore{r: w.r}
	out := deltaRun{Level: runs[0].Level + 1}
	ed := tree.NewEditor(nodeStore{r: w.r, group: w.group(), records: true, delta: true}, crypto.ID{}, w.r.treeCfg)
	defer ed.Close()
	roots := make([]crypto.ID, len(runs))
	for i, r := range runs {
		roots[i] = r.Root
	}
	same := func(a, b []byte) (bool, error) { return w.r.sameRecord(ctx, table, a, b) }
	var scratch ObjectStats
	batch := make([]settling, 0, settleBatch)
	settle := func() error {
		if err := lookupLayers(ctx, store, below, batch); err != nil {
			return err
		}
		for i := range batch {
			drop, err := batch[i].classify(&scratch, same)
			if err != nil {
				return err
			}
			if !drop {
				ed.Put(batch[i].key, batch[i].new)
			}
		}
		batch = batch[:0]
		return ed.Err()
	}
	m := newLayerMerge(ctx, store, roots, nil)
	for {
		k, v, n := m.next()
		if n == 0 {
			break
		}
		if n == 1 {
			ed.Put(k, v)
			continue
		}
		batch = append(batch, settling{key: k, new: v}) // node bytes: stable
		if len(batch) == settleBatch {
			if err := settle(); err != nil {
				return out, err
			}
		}
	}
	if err := m.err(); err != nil {
		return out, err
	}
	if err := settle(); err != nil {
		return out, err
	}
	root, err := ed.Commit(ctx)
	if err != nil {
		return out, err
	}
	out.Root = crypto.ID(root)
	out.N, err = countTree(ctx, store, out.Root)
	return out, err
}

// settleRun turns a blindly edited run into a valid one and counts the
// changes. It walks the run's entries in key order and compares each with
// the effective value of the layers below (parent's runs, then base): an
// entry that is the same record (or a tombstone where nothing is below) is
// removed, so the run invariant holds; the value below and the new one
// classify the change as added, changed or deleted.
//
// The lookups are the cost: changes are spread over the whole base, so
// settling reads (and decompresses) most of its frames however few records
// changed. They run in batches of settleBatch keys, each batch split into
// contiguous key ranges looked up on all cores (a range's keys share
// paths and frames, so each frame is still read about once).
func (w *Writer) settleRun(ctx context.Context, below objectRoot, edited crypto.ID, table *fieldTable, st *ObjectStats) (crypto.ID, error) {
	store := nodeStore{r: w.r}
	layers := below.layers()
	// With the base's digest, the base is left out of the lookups: the
	// digest decides (basedigest.go), and the base is read only for the
	// keys it cannot.
	digest := w.r.loadDigest(below.Base)
	if digest != nil {
		layers = layers[:len(layers)-1]
	}
	var drop [][]byte
	batch := make([]settling, 0, settleBatch)
	same := func(a, b []byte) (bool, error) {
		if table == nil {
			return bytes.Equal(a, b), nil
		}
		return w.r.sameRecord(ctx, table, a, b)
	}
	settle := func() error {
		if err := lookupLayers(ctx, store, layers, batch); err != nil {
			return err
		}
		if digest != nil {
			if rest := w.r.digestFor(digest, batch); len(rest) > 0 {
				sub := make([]settling, len(rest))
				for j, i := range rest {
					sub[j] = settling{key: batch[i].key, new: batch[i].new}
				}
				if err := lookupLayers(ctx, store, []crypto.ID{below.Base}, sub); err != nil {
					return err
				}
				for j, i := range rest {
					batch[i].below, batch[i].has = sub[j].below, sub[j].has
				}
			}
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
	next, stop, errp := entries(ctx, store, edited, nil)
	defer stop()
	for k, v, ok := next(); ok; k, v, ok = next() {
		batch = append(batch, settling{key: k, new: v}) // node bytes: stable
		if len(batch) == settleBatch {
			if err := settle(); err != nil {
				return edited, err
			}
		}
	}
	if *errp != nil {
		return edited, *errp
	}
	if err := settle(); err != nil || len(drop) == 0 {
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

// settleBatch bounds the memory of settling, merging and diffing: this
// many keys with their values (about 1 KiB each for typical records).
const settleBatch = 8192

// settling is one key to compare with the layers below: new is the
// entry of the run being written (old, in a diff, the other side's),
// below the effective value underneath (has: there is a record).
type settling struct {
	key, old, new []byte
	below         []byte
	has           bool
	// decided: a layer held the key (or a digest answered for the base).
	// eqKnown: the digest told whether new is the same record as the one
	// below (eq), which below then does not hold.
	decided, eqKnown, eq bool
}

// classify counts the change from the value below to the new entry in st
// and reports whether the entry must be dropped: it is the same record as
// the value below (same reports whether two record values are the same
// record, sameRecord), or a tombstone where there is no record below.
func (s *settling) classify(st *ObjectStats, same func(a, b []byte) (bool, error)) (drop bool, err error) {
	after := !isTombstone(s.new)
	switch {
	case !s.has && !after:
		return true, nil
	case !s.has:
		st.Added++
	case !after:
		st.Deleted++
	default:
		eq := s.eq
		if !s.eqKnown {
			if eq, err = same(s.new, s.below); err != nil {
				return false, err
			}
		}
		if eq {
			return true, nil
		}
		st.Changed++
	}
	return false, nil
}

// lookupLayers fills in the effective value below of every key of batch
// (sorted): the first of layers (newest first) holding the key decides; a
// tombstone there means no record. One worker per core on contiguous
// ranges, each with a getter per layer (keys come in order: paths are
// shared).
func lookupLayers(ctx context.Context, store tree.NodeStore, layers []crypto.ID, batch []settling) error {
	workers := runtime.GOMAXPROCS(0)
	if n := len(batch)/256 + 1; n < workers {
		workers = n // small batches are not worth a goroutine
	}
	lookup := func(part []settling) error {
		getters := make([]*tree.Getter, len(layers))
		for i := range part {
			part[i].below, part[i].has, part[i].decided, part[i].eqKnown = nil, false, false, false
			for l, root := range layers {
				if root.IsZero() {
					continue
				}
				if getters[l] == nil {
					getters[l] = tree.NewGetter(ctx, store, root)
				}
				v, ok, err := getters[l].Get(part[i].key)
				if err != nil {
					return err
				}
				if ok {
					if !isTombstone(v) {
						part[i].below, part[i].has = v, true
					}
					part[i].decided = true
					break
				}
			}
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

// rebase folds the runs into a new base (the newest entry of each key
// wins; tombstones delete).
func (w *Writer) rebase(ctx context.Context, or objectRoot) (objectRoot, error) {
	st := nodeStore{r: w.r, group: w.group(), records: true}
	ed := tree.NewEditor(st, or.Base, w.r.treeCfg)
	defer ed.Close()
	runs := objectRoot{Runs: or.Runs}
	m := newLayerMerge(ctx, st, runs.layers(), nil)
	// The new base's digest is the old one's with the runs applied (when
	// the old base has one): the fold keeps synthetic snapshots fast.
	old := w.r.loadDigest(or.Base)
	var edits baseDigest
	for {
		k, v, n := m.next()
		if n == 0 {
			break
		}
		if isTombstone(v) {
			ed.Delete(k)
		} else {
			ed.Put(k, v)
		}
		if old != nil {
			e := digestEntry{del: isTombstone(v)}
			if !e.del {
				e.hash, e.list = w.r.valueDigest(v)
			}
			edits.add(k, e)
		}
	}
	if err := m.err(); err != nil {
		return or, err
	}
	root, err := ed.Commit(ctx)
	if err != nil {
		return or, err
	}
	if old != nil {
		w.r.saveDigest(crypto.ID(root), old.apply(&edits))
	}
	or.Base, or.Runs = crypto.ID(root), nil
	or.BaseN, err = countTree(ctx, st, or.Base)
	return or, err
}

// recordsResult is an object's records after its edits: the trees, the
// number of records (replace: set from the base at commit) and the counts
// against the tree the edits started from.
type recordsResult struct {
	base                    crypto.ID
	runs                    []deltaRun
	records                 uint64
	added, changed, deleted uint64
}

// recordsPhase turns the object's record edits into its new base and
// runs: a full re-read becomes the base (counted by a diff with the
// parent), synthetic edits a new settled run on top of the parent's
// (counted while settling).
func (w *Writer) recordsPhase(ctx context.Context, ow *objWriter) (*recordsResult, error) {
	rp := &recordsResult{base: ow.parent.Base, runs: ow.parent.Runs, records: ow.parent.Records}
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
		rp.base, rp.runs = crypto.ID(root), nil
		if ow.digest != nil {
			w.r.saveDigest(rp.base, ow.digest.finish())
			ow.digest = nil
		}
		if !ow.exists {
			ow.parent = objectRoot{}
		}
		if w.opts.Resume == nil { // resuming: counted against Parent at commit
			or := objectRoot{Base: rp.base, Table: ow.parent.Table}
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
		run, err := w.settleRun(ctx, ow.below, crypto.ID(root), ow.table, &st)
		if err != nil {
			return nil, err
		}
		rp.base, rp.runs = ow.below.Base, ow.below.Runs
		if !run.IsZero() {
			n, err := countTree(ctx, nodeStore{r: w.r}, run)
			if err != nil {
				return nil, err
			}
			rp.runs = append([]deltaRun{{Root: run, N: n}}, ow.below.Runs...)
		}
		rp.records = ow.below.Records + st.Added - st.Deleted
	}
	rp.added, rp.changed, rp.deleted = st.Added, st.Changed, st.Deleted
	return rp, nil
}

// FinishRecords declares that an object's records are complete: its record
// trees are built now and the editor's memory (buffered edits, up to the
// tree's BufferBytes) is released, so that a snapshot of many objects holds
// only those still being read. Record edits of the object after this are
// errors; files, schema and high-water mark may still change (once it has
// returned). It may run concurrently with edits of other objects (see
// Writer).
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
