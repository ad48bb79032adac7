package backup

// The snapshot engine. One run:
//
//  1. finds the parent (the ref's snapshot) and any checkpoint of an
//     unfinished run on that parent, which it resumes;
//  2. plans: describeGlobal, the objects to read, each object's describe
//     and field list (plan.go);
//  3. extracts: per object a full read (Bulk jobs over Id ranges, several
//     at once) or a synthetic one (what changed since the parent's
//     high-water mark, deletes, optionally an Id reconciliation), producing
//     canonical records in worker goroutines (extract.go);
//  4. writes: one goroutine owns the repo.Writer and applies batches in
//     the order each worker produced them; file bodies are downloaded by a
//     pool of their own and linked by that goroutine (files.go);
//  5. every CheckpointEvery, at a quiet point (no job in flight, every
//     batch applied, every download linked), commits a checkpoint snapshot
//     that records which objects (and which Id prefix of a large object)
//     are stored, and continues from it;
//  6. commits the snapshot and moves the ref (compare-and-swap).
//
// A kill at any point loses at most the work since the last checkpoint:
// the repository is consistent (repo's write order), and the next run on
// the same parent resumes from the checkpoint, fetching nothing it stored,
// and commits the snapshot an uninterrupted run would have.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Sentinel errors callers branch on.
var (
	// ErrStopped: the run stopped before the end (API budget, or a signal)
	// after saving a checkpoint; the next run resumes it.
	ErrStopped = errors.New("snapshot stopped before the end; run it again to resume")
	// ErrRefMoved: the snapshot was committed but another run moved the ref
	// meanwhile.
	ErrRefMoved = errors.New("the ref moved during the snapshot")
)

// Options tune a run. The zero value is a synthetic snapshot (full when
// there is no parent) of every object with default settings.
type Options struct {
	// Ref names the lineage: the parent is its snapshot and it moves to
	// the new one. Default "main".
	Ref string
	// Full reads every object in full, even with a parent.
	Full bool
	// Objects makes a partial snapshot of exactly these objects: no
	// parent, and no ref moves.
	Objects []string
	// Filters restrict objects to records matching a SOQL condition
	// (object name → condition); only in partial snapshots.
	Filters map[string]string
	// Include and Exclude are glob patterns on object names. Objects left
	// out by default (see defaultExcluded) come back when an Include names
	// them exactly.
	Include, Exclude []string
	// Formulas keeps formula fields (recomputed by Salesforce on each read).
	Formulas bool
	// NoBulk reads everything through REST.
	NoBulk bool
	// Reconcile forces an Id scan of every object read synthetically, to
	// catch hard deletes no API reported; ReconcileEvery schedules it per
	// object (default 7 days; negative: only when asked).
	Reconcile      bool
	ReconcileEvery time.Duration
	// Overlap re-reads this much before each high-water mark, for
	// transactions that committed after later ones (default 10 minutes).
	Overlap time.Duration
	// ChunkRecords is the first Bulk job size of a large object, in
	// records (default 250,000); later jobs adapt to how long jobs take.
	ChunkRecords int
	// BulkThreshold: a synthetic read with more changes than this goes
	// through Bulk (default 20,000).
	BulkThreshold int
	Files         FileOptions
	Parallel      Parallelism
	// CheckpointEvery is how often progress is committed (default 5
	// minutes; negative: never).
	CheckpointEvery time.Duration
	// BudgetPercent stops the run cleanly (after a checkpoint) once the
	// org's daily API usage passes it (default 90).
	BudgetPercent float64
	Alerts        Thresholds
	Tags          []string
	ToolVersion   string
	// Now is the clock (default time.Now).
	Now      func() time.Time
	Progress Progress
	Logger   Logger
	// Poll tunes how Bulk jobs are polled (zero: the client's defaults,
	// a first wait of half a second, for real orgs).
	Poll sfapi.PollOptions
	// Interrupt, when closed, stops the run cleanly: no new job starts,
	// the jobs in flight finish, a checkpoint is saved, and Run returns
	// ErrStopped.
	Interrupt <-chan struct{}

	// Metadata also retrieves the org's Metadata API components (Apex,
	// object definitions, layouts, flows, …) into the snapshot, as files of
	// the pseudo-object MetadataObject (see metadata.go). Off by default:
	// on a real org a retrieve of everything takes minutes and is repeated
	// in full each run (the Metadata API has no "changed since"), although
	// unchanged components store nothing. MetadataTypes restricts it to
	// these types (describeMetadata names, e.g. ApexClass) and implies it.
	Metadata        bool
	MetadataTypes   []string
	metaRetrieveMax int // components per retrieve (tests; default 10,000)
}

// FileOptions tune file bodies.
type FileOptions struct {
	Skip    bool  // no file bodies at all
	MaxSize int64 // skip bodies larger than this (0: no cap)
}

// Parallelism bounds concurrent work per API (defaults: Bulk 3 jobs, REST
// 4 queries, Files 4 downloads).
type Parallelism struct{ Bulk, REST, Files int }

// Thresholds raise alerts when a share of an object's records (of the
// parent's count) was deleted or changed, e.g. 0.05 for 5%. Zero: off.
type Thresholds struct{ Deleted, Changed float64 }

// Logger receives plain progress lines. *slog.Logger satisfies it.
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Info(string, ...any) {}
func (nopLogger) Warn(string, ...any) {}

// Result reports a finished run.
type Result struct {
	Snapshot *repo.Snapshot
	Ref      string // the ref moved, "" for partial snapshots
	Resumed  bool   // the run continued a checkpoint
	Objects  []ObjectResult
	Records  uint64 // in the snapshot
	Added    uint64
	Changed  uint64
	Deleted  uint64
	Fetched  int64 // rows read from the org
	Files    FileStats
	Requests int64 // HTTP requests sent
	Duration time.Duration
	Alerts   []Alert
	// Metadata is nil without Options.Metadata.
	Metadata *MetadataStats
}

// ObjectResult is one object's part of a run.
type ObjectResult struct {
	Name    string `json:"name"`
	Mode    string `json:"mode"` // full, synthetic, resumed (carried from a checkpoint)
	Records uint64 `json:"records"`
	Added   uint64 `json:"added"`
	Changed uint64 `json:"changed"`
	Deleted uint64 `json:"deleted"`
	Fetched int64  `json:"fetched"`
}

// FileStats count file bodies.
type FileStats struct {
	Downloaded int64 `json:"downloaded"`
	Linked     int64 `json:"linked"` // already held: not downloaded
	Skipped    int64 `json:"skipped"`
	Bytes      int64 `json:"bytes"` // downloaded
}

// Alert is a threshold crossed.
type Alert struct {
	Object    string  `json:"object"`
	What      string  `json:"what"` // deleted or changed
	Count     uint64  `json:"count"`
	Of        uint64  `json:"of"`
	Percent   float64 `json:"percent"`
	Threshold float64 `json:"threshold_percent"`
}

func (a Alert) String() string {
	return fmt.Sprintf("%s: %d of %d records %s (%.1f%%, threshold %.1f%%)", a.Object, a.Count, a.Of, a.What, a.Percent, a.Threshold)
}

func (o *Options) setDefaults() {
	if o.Ref == "" {
		o.Ref = "main"
	}
	if o.ReconcileEvery == 0 {
		o.ReconcileEvery = 7 * 24 * time.Hour
	}
	if o.Overlap == 0 {
		o.Overlap = 10 * time.Minute
	}
	if o.ChunkRecords <= 0 {
		o.ChunkRecords = 250000
	}
	if o.BulkThreshold <= 0 {
		o.BulkThreshold = 20000
	}
	if o.Parallel.Bulk <= 0 {
		o.Parallel.Bulk = 3
	}
	if o.Parallel.REST <= 0 {
		o.Parallel.REST = 4
	}
	if o.Parallel.Files <= 0 {
		o.Parallel.Files = 4
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 5 * time.Minute
	}
	if o.BudgetPercent <= 0 {
		o.BudgetPercent = 90
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.MetadataTypes) > 0 {
		o.Metadata = true
	}
	if o.Logger == nil {
		o.Logger = nopLogger{}
	}
}

// engine is one run.
type engine struct {
	r    *repo.Repository
	src  Source
	opts Options

	parent     *repo.Snapshot
	parentSt   *runState
	refVersion string
	state      *runState // what this run has done; the committed state
	kind       string
	plans      []*objectPlan
	mode       map[string]string // object → full | synthetic | resumed
	org        string
	instance   string

	wr       *writerLoop
	prog     progress
	files    *fileQueue
	units    sync.WaitGroup
	firstErr error
	errMu    sync.Mutex
	cancel   context.CancelFunc
	lastCkpt time.Time
	fetched  map[string]*atomic.Int64
	byName   map[string]*objectPlan
	stateMu  sync.Mutex // objectState.Done, set by units as they finish
	bulkSem  chan struct{}
	restSem  chan struct{}

	// erased holds the records erased from the repository (keyed hashes):
	// the writer never puts them back, even when the org still has them or
	// a deletion was missed.
	removals *repo.RemovalLog

	meta      MetadataStats // the dispatcher's
	metaTypes []sfapi.MetadataObject
}

// planOf returns the plan of an object, or nil.
func (e *engine) planOf(name string) *objectPlan { return e.byName[name] }

// canonicalJSON re-encodes a JSON document with sorted keys and no
// insignificant space, so that the same describe always makes the same
// schema blob.
func canonicalJSON(raw []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Run takes one snapshot of the org behind src into r.
func Run(ctx context.Context, r *repo.Repository, src Source, opts Options) (*Result, error) {
	opts.setDefaults()
	if err := repo.ValidRefName(opts.Ref); err != nil {
		return nil, err
	}
	start := opts.Now()
	began := time.Now() // durations are wall time whatever the snapshot clock says
	requests0 := src.Limits().Requests()
	e := &engine{r: r, src: src, opts: opts, mode: map[string]string{}, fetched: map[string]*atomic.Int64{}}
	e.prog.init(opts.Progress, time.Now)
	var err error
	if e.removals, err = r.RemovalLog(ctx); err != nil {
		return nil, fmt.Errorf("reading the erasure audit log: %w", err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the org: %w", err)
	}
	e.org, e.instance = tok.OrgID(), tok.InstanceURL

	partial := len(opts.Objects) > 0
	if len(opts.Filters) > 0 && !partial {
		return nil, errors.New("per-object filters make a partial snapshot: name the objects too (--object)")
	}
	if !partial {
		if err := e.loadParent(ctx); err != nil {
			return nil, err
		}
	}
	if e.parentSt, err = decodeState(e.parent); err != nil {
		return nil, err
	}
	e.kind = repo.KindSynthetic
	switch {
	case partial:
		e.kind = repo.KindPartial
	case e.parent == nil || opts.Full:
		e.kind = repo.KindFull
	}

	ckpt, ckptSt := (*repo.Snapshot)(nil), (*runState)(nil)
	if !partial {
		if ckpt, ckptSt, err = findCheckpoint(ctx, r, opts.Ref, e.parent); err != nil {
			return nil, err
		}
	}
	if ckpt != nil && ckptSt.Kind != "" && ckptSt.Kind != e.kind {
		// A --full run does not continue a synthetic one (or the reverse):
		// start over; the stale checkpoint is garbage for prune.
		ckpt, ckptSt = nil, nil
	}
	if ckpt != nil {
		e.state = ckptSt
		opts.Logger.Info("resuming an unfinished snapshot", "checkpoint", ckpt.ID.Short(), "seq", ckptSt.Seq)
	} else {
		e.state = &runState{Ref: opts.Ref, Time: start.UTC().Truncate(time.Millisecond), Kind: e.kind, Objects: map[string]*objectState{}}
	}
	if partial {
		e.state.Ref = ""
	}

	g, err := src.DescribeGlobal(ctx)
	if err != nil {
		return nil, fmt.Errorf("describeGlobal: %w", err)
	}
	names, err := selectObjects(g, &e.opts)
	if err != nil {
		return nil, err
	}
	if e.plans, err = e.planObjects(ctx, names); err != nil {
		return nil, err
	}
	e.byName = map[string]*objectPlan{}
	for _, p := range e.plans {
		e.byName[p.name] = p
	}
	if err := e.planMetadata(ctx); err != nil {
		return nil, err
	}

	wopts := repo.WriterOptions{
		// Base digests make the next synthetic snapshots settle without
		// reading the bases a full read builds (repo/basedigest.go).
		Digests: true,
		Parent:  e.parent, Time: e.state.Time, Org: e.org, Instance: e.instance,
		Kind: e.kind, Tags: opts.Tags, ToolVersion: opts.ToolVersion, Resume: ckpt,
	}
	w, err := r.NewWriter(ctx, wopts)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.cancel = cancel
	e.wr = newWriterLoop(e, w, wopts)
	e.files = newFileQueue(e, runCtx)
	go e.wr.run(ctx)        // not runCtx: after a failure it still commits a checkpoint
	e.lastCkpt = time.Now() // checkpoint cadence is wall time, whatever the snapshot clock says

	stopErr := e.extract(runCtx, ckpt != nil)
	qerr := e.quiesce()
	if ctx.Err() != nil {
		// Interrupted from outside: the last checkpoint stands.
		e.shutdown()
		return nil, fmt.Errorf("%w: %v", ErrStopped, ctx.Err())
	}
	if qerr != nil && !e.wr.healthy() {
		e.shutdown()
		return nil, qerr
	}
	if qerr != nil {
		// An API failure (the daily limit, a job Salesforce gave up on, the
		// network): what finished is stored and marked done, what failed is
		// not, so a checkpoint lets the next run go on from here.
		stopErr = qerr
		if resumable(qerr) {
			stopErr = fmt.Errorf("%w: %v", ErrStopped, qerr)
		}
	}
	if stopErr != nil {
		// Every unit dispatched has finished and is applied: save what is
		// done, then report why the run stopped.
		if _, err := e.checkpoint(ctx); err != nil {
			e.shutdown()
			return nil, fmt.Errorf("%w (and saving a checkpoint failed: %v)", stopErr, err)
		}
		e.shutdown()
		return nil, stopErr
	}
	snap, err := e.wr.commitFinal(ctx)
	e.prog.finish()
	e.shutdown()
	if err != nil {
		return nil, err
	}
	res := e.result(snap, ckpt != nil, began)
	res.Requests -= requests0
	if !partial {
		if err := r.SetRef(ctx, opts.Ref, snap.ID, e.refVersion); err != nil {
			if errors.Is(err, repo.ErrRefMoved) {
				return res, fmt.Errorf("%w: snapshot %s is saved but %s now names another one; look at `orgsnap snapshots` and move the ref by hand if needed", ErrRefMoved, snap.ID.Short(), opts.Ref)
			}
			return res, err
		}
		res.Ref = opts.Ref
	}
	return res, nil
}

func (e *engine) loadParent(ctx context.Context) error {
	id, version, err := e.r.Ref(ctx, e.opts.Ref)
	if errors.Is(err, repo.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ref %s: %w", e.opts.Ref, err)
	}
	e.refVersion = version
	if e.parent, err = e.r.LoadSnapshot(ctx, id); err != nil {
		return fmt.Errorf("ref %s names snapshot %s: %w (run `orgsnap check`)", e.opts.Ref, id.Short(), err)
	}
	return nil
}

// fail records the first error of a worker and cancels the run.
func (e *engine) fail(err error) {
	if err == nil {
		return
	}
	e.errMu.Lock()
	if e.firstErr == nil {
		e.firstErr = err
	}
	e.errMu.Unlock()
	e.cancel()
}

func (e *engine) err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.firstErr
}

// quiesce waits until nothing is in flight: every unit finished, every
// batch applied, every download linked. Only the dispatcher calls it.
func (e *engine) quiesce() error {
	e.units.Wait()
	// The writer has now queued every download its batches asked for.
	if err := e.wr.sync(); err != nil {
		return err
	}
	e.files.wait()
	if err := e.wr.sync(); err != nil {
		return err
	}
	return e.err()
}

func (e *engine) shutdown() {
	if e.prog.stop != nil {
		close(e.prog.stop)
		e.prog.stop = nil
	}
	e.files.close()
	e.wr.close()
}

// checkpoint commits the progress so far (the run must be quiet).
func (e *engine) checkpoint(ctx context.Context) (*repo.Snapshot, error) {
	for _, n := range e.files.failedObjects() {
		// Its records are stored but not every body: read it again.
		if o := e.state.Objects[n]; o != nil {
			o.Done, o.Cursor = false, ""
		}
	}
	e.state.Seq++
	s, err := e.wr.commitCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	e.lastCkpt = time.Now()
	e.opts.Logger.Info("checkpoint saved", "snapshot", s.ID.Short(), "seq", e.state.Seq)
	return s, nil
}

// maybeCheckpoint checkpoints when one is due. The caller is the
// dispatcher, between two units.
func (e *engine) maybeCheckpoint(ctx context.Context, cursor func()) error {
	if e.opts.CheckpointEvery < 0 || time.Since(e.lastCkpt) < e.opts.CheckpointEvery {
		return nil
	}
	if err := e.quiesce(); err != nil {
		return err
	}
	if cursor != nil {
		cursor()
	}
	_, err := e.checkpoint(ctx)
	return err
}

func (e *engine) result(snap *repo.Snapshot, resumed bool, start time.Time) *Result {
	res := &Result{Snapshot: snap, Resumed: resumed, Requests: e.src.Limits().Requests(), Duration: time.Since(start)}
	res.Files = e.files.stats()
	if e.opts.Metadata {
		m := e.meta
		res.Metadata = &m
	}
	for _, n := range slices.Sorted(maps.Keys(snap.Objects)) {
		st := snap.Objects[n]
		or := ObjectResult{Name: n, Mode: e.mode[n], Records: st.Records, Added: st.Added, Changed: st.Changed, Deleted: st.Deleted}
		if f := e.fetched[n]; f != nil {
			or.Fetched = f.Load()
		}
		if or.Mode == "" {
			or.Mode = "carried"
		}
		res.Objects = append(res.Objects, or)
		res.Records += st.Records
		res.Added += st.Added
		res.Changed += st.Changed
		res.Deleted += st.Deleted
		res.Fetched += or.Fetched
		var of uint64
		if e.parent != nil {
			of = e.parent.Objects[n].Records
		}
		check := func(what string, count uint64, threshold float64) {
			if threshold <= 0 || of == 0 {
				return
			}
			pct := float64(count) * 100 / float64(of)
			if pct >= threshold*100 {
				res.Alerts = append(res.Alerts, Alert{Object: n, What: what, Count: count, Of: of, Percent: pct, Threshold: threshold * 100})
			}
		}
		check("deleted", st.Deleted, e.opts.Alerts.Deleted)
		check("changed", st.Changed, e.opts.Alerts.Changed)
	}
	return res
}

// stateJSON encodes the state for a commit.
func (e *engine) stateJSON(final bool) []byte {
	st := *e.state
	if final {
		// A finished snapshot keeps only what later runs need.
		st = runState{Time: e.state.Time, Objects: map[string]*objectState{}}
		for n, o := range e.state.Objects {
			st.Objects[n] = &objectState{Fields: o.Fields, Reconciled: o.Reconciled}
		}
	}
	b, err := json.Marshal(&st)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// objState returns the run's state entry of an object.
func (e *engine) objState(name string) *objectState {
	o := e.state.Objects[name]
	if o == nil {
		o = &objectState{}
		e.state.Objects[name] = o
	}
	return o
}

func soqlQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// resumable reports failures that waiting cures: the run stops, and the
// next one resumes.
func resumable(err error) bool {
	return errors.Is(err, ErrStopped) || errors.Is(err, sfapi.ErrBudgetExhausted) || sfapi.IsLimitExceeded(err) || sfapi.IsTransient(err)
}

// isBulkUnsupported reports a Bulk job refused because the object (or a
// field) cannot be read through Bulk: REST can.
func isBulkUnsupported(err error) bool {
	code := sfapi.ErrorCode(err)
	return code == "INVALIDENTITY" || code == "FeatureNotEnabled" ||
		strings.Contains(err.Error(), "not supported by the Bulk API") ||
		strings.Contains(err.Error(), "not supported in Bulk Query")
}
