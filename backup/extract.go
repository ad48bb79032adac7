package backup

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// batchSize is how many records a worker hands the writer at once.
const batchSize = 1000

// bulkPageRecords bounds a Bulk result page. Pages are streamed, one at a
// time per job (parallel jobs, not parallel pages, keep the line busy:
// parallel pages would each be held in memory whole).
const bulkPageRecords = 50000

// extract reads every planned object. It returns ErrStopped-wrapped errors
// for a clean stop (the caller checkpoints), other errors for failures.
func (e *engine) extract(ctx context.Context, resumed bool) error {
	e.bulkSem = make(chan struct{}, e.opts.Parallel.Bulk)
	e.restSem = make(chan struct{}, e.opts.Parallel.REST)
	planned := map[string]bool{}
	for _, p := range e.plans {
		planned[p.name] = true
		e.fetched[p.name] = new(atomic.Int64)
	}
	// Objects the parent has that left the plan leave the snapshot.
	if e.parent != nil && e.kind != "partial" {
		for n := range e.parent.Objects {
			if !planned[n] && (n != MetadataObject || !e.opts.Metadata) {
				if !e.wr.send(ctx, objectOp{object: n, op: "remove"}) {
					return e.stopCause(ctx)
				}
			}
		}
	}
	// Metadata a resumed checkpoint holds (a run that asked for it) while
	// this one does not: it leaves too.
	if !e.opts.Metadata && e.state.Objects[MetadataObject] != nil {
		if !e.wr.send(ctx, objectOp{object: MetadataObject, op: "remove"}) {
			return e.stopCause(ctx)
		}
	}
	e.prog.start(len(e.plans), e.files.stats)
	for _, p := range e.plans {
		ost := e.objState(p.name)
		if ost.Done {
			e.mode[p.name] = "resumed"
			e.prog.objectDone()
			continue
		}
		if err := e.brake(); err != nil {
			return err
		}
		if !e.wr.send(ctx, objectOp{object: p.name, op: "schema", schema: p.schema}) {
			return e.stopCause(ctx)
		}
		full := e.kind != "synthetic" || ost.Full || e.needsFull(p)
		ost.Fields = p.fieldsKey
		var err error
		if full {
			e.mode[p.name] = "full"
			err = e.fullObject(ctx, p, ost)
		} else {
			e.mode[p.name] = "synthetic"
			e.spawn(ctx, e.restSem, func(ctx context.Context) error { return e.syntheticObject(ctx, p, ost) }, func() {
				e.objectDone(ctx, p, ost)
			})
		}
		if err != nil {
			return err
		}
		if err := e.maybeCheckpoint(ctx, nil); err != nil {
			return err
		}
	}
	if e.opts.Metadata {
		return e.extractMetadata(ctx)
	}
	return nil
}

// objectDone marks an object stored in full: checkpoints skip it from now.
func (e *engine) objectDone(ctx context.Context, p *objectPlan, ost *objectState) {
	e.stateMu.Lock()
	ost.Done, ost.Cursor = true, ""
	e.stateMu.Unlock()
	e.prog.objectDone()
	// Its records are all sent (this unit's before this message, the other
	// units' when they finished): build its trees now and free their memory.
	e.wr.send(ctx, objectOp{object: p.name, op: "finish"})
}

// needsFull reports whether a synthetic run must read the object in full:
// it is new, its field list changed (a schema change), or it has no
// change-tracking field or no high-water mark.
func (e *engine) needsFull(p *objectPlan) bool {
	st, ok := e.parent.Objects[p.name]
	if !ok || st.HighWater == "" || p.modstamp == "" {
		return true
	}
	prev := e.parentSt.Objects[p.name]
	return prev == nil || prev.Fields != p.fieldsKey
}

// stopCause turns a cancelled context into the run's error.
func (e *engine) stopCause(ctx context.Context) error {
	if err := e.err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ErrStopped, ctx.Err())
	}
	return errors.New("snapshot writer stopped")
}

// brake stops the run cleanly when the API budget is spent.
func (e *engine) brake() error {
	select {
	case <-e.opts.Interrupt:
		return fmt.Errorf("%w: interrupted", ErrStopped)
	default:
	}
	if err := e.src.Budget().Check(e.opts.BudgetPercent); err != nil {
		return fmt.Errorf("%w: %v", ErrStopped, err)
	}
	return nil
}

// spawn runs one unit of work under a semaphore. Units report errors
// through e.fail, which cancels the run.
func (e *engine) spawn(ctx context.Context, sem chan struct{}, fn func(context.Context) error, done func()) {
	e.units.Add(1)
	go func() {
		defer e.units.Done()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-sem }()
		if err := fn(ctx); err != nil {
			if ctx.Err() == nil {
				e.fail(err)
			}
			return
		}
		if done != nil {
			done()
		}
	}()
}

// fullObject reads an object in full: one job for a small object, Id
// ranges read by several jobs at once for a large one.
func (e *engine) fullObject(ctx context.Context, p *objectPlan, ost *objectState) error {
	op := "replace"
	if ost.Full && ost.Cursor != "" {
		op = "continue" // the checkpoint holds every record below the cursor
	}
	if !e.wr.send(ctx, objectOp{object: p.name, op: op, from: ost.Cursor}) {
		return e.stopCause(ctx)
	}
	ost.Full = true
	// A full read proves the tree holds exactly the org's Ids: the next
	// reconciliation is due a period from now.
	ost.Reconciled = e.opts.Now().UTC()
	count, err := e.count(ctx, p)
	if err != nil {
		return err
	}
	p.count = count
	e.prog.expect(count)
	if !p.bulk.Load() || count <= int64(e.opts.ChunkRecords) {
		lo := ost.Cursor
		e.spawn(ctx, e.pick(p), func(ctx context.Context) error { return e.readRange(ctx, p, lo, "") }, func() { e.objectDone(ctx, p, ost) })
		return nil
	}
	first, last, err := e.idBounds(ctx, p)
	if err != nil {
		return err
	}
	if first == "" {
		e.objectDone(ctx, p, ost)
		return nil // emptied since the count
	}
	span, err := newIDSpan(first, last)
	if err != nil {
		return fmt.Errorf("object %s: %w", p.name, err)
	}
	cursor := new(big.Int).Set(span.min)
	open := ost.Cursor == "" // the first range has no lower bound
	if !open {
		if cursor, err = idNumber(ost.Cursor); err != nil {
			return fmt.Errorf("object %s: checkpoint cursor: %w", p.name, err)
		}
	}
	// Density: records per Id value, to turn a record target into a range.
	density := new(big.Rat).SetFrac(big.NewInt(count), span.width())
	ch := &chunkSizer{target: e.opts.ChunkRecords}
	var pending atomic.Int64
	pending.Add(1) // released when the last range is dispatched
	// Done once every range is dispatched and read: a failed range never
	// calls finish, so its object stays unfinished for the next run.
	finish := func() {
		if pending.Add(-1) == 0 {
			e.objectDone(ctx, p, ost)
		}
	}
	for cursor.Cmp(span.max) <= 0 {
		if err := e.brake(); err != nil {
			return err
		}
		n := ch.next()
		width := new(big.Rat).Quo(new(big.Rat).SetInt64(int64(n)), density)
		w := new(big.Int).Quo(width.Num(), width.Denom())
		if w.Sign() <= 0 {
			w.SetInt64(1)
		}
		hiN := new(big.Int).Add(cursor, w)
		lo, hi := idOf(span.prefix, cursor), idOf(span.prefix, hiN)
		if open {
			lo, open = "", false
		}
		last := hiN.Cmp(span.max) > 0
		if last {
			hi = "" // records created since the bounds were read go here
		}
		pending.Add(1)
		e.spawn(ctx, e.bulkSem, func(ctx context.Context) error {
			t0 := time.Now()
			err := e.readRange(ctx, p, lo, hi)
			ch.observe(n, time.Since(t0))
			return err
		}, finish)
		cursor = hiN
		if last {
			break
		}
		next := idOf(span.prefix, cursor)
		if err := e.maybeCheckpoint(ctx, func() { ost.Cursor = next }); err != nil {
			return err
		}
	}
	finish()
	return nil
}

// chunkSizer adapts the records per Bulk job to how long jobs take: jobs
// of about a minute keep several in flight without one long straggler,
// and a failed job costs little to repeat.
type chunkSizer struct {
	target int
	mu     atomic.Int64 // last observed records per second
}

const (
	chunkMin      = 20000
	chunkMax      = 2000000
	chunkDuration = 60 * time.Second
)

func (c *chunkSizer) next() int {
	rate := c.mu.Load()
	if rate <= 0 {
		return c.target
	}
	n := int(rate * int64(chunkDuration/time.Second))
	// Never below the first guess when that is smaller than chunkMin (a
	// caller asked for small jobs on purpose).
	return min(max(n, min(chunkMin, c.target)), chunkMax)
}

func (c *chunkSizer) observe(records int, d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Store(int64(float64(records) / d.Seconds()))
}

// pick chooses the semaphore of the API the object is read with.
func (e *engine) pick(p *objectPlan) chan struct{} {
	if p.bulk.Load() {
		return e.bulkSem
	}
	return e.restSem
}

// where joins SOQL conditions.
func where(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}

func (e *engine) filterCond(p *objectPlan) string {
	if p.filter == "" {
		return ""
	}
	return "(" + p.filter + ")"
}

// count asks how many records a full read will return.
func (e *engine) count(ctx context.Context, p *objectPlan) (int64, error) {
	page, err := e.queryFirst(ctx, "SELECT COUNT() FROM "+p.name+where(e.filterCond(p)), nil)
	if err != nil {
		return 0, fmt.Errorf("counting %s: %w", p.name, err)
	}
	return int64(page.TotalSize), nil
}

func (e *engine) queryFirst(ctx context.Context, soql string, opts *sfapi.QueryOptions) (*sfapi.QueryPage, error) {
	c, ok := e.src.(interface {
		QueryFirst(context.Context, string, *sfapi.QueryOptions) (*sfapi.QueryPage, error)
	})
	if ok {
		return c.QueryFirst(ctx, soql, opts)
	}
	it := e.src.Query(ctx, soql, opts)
	it.Next()
	if err := it.Err(); err != nil {
		return nil, err
	}
	return &sfapi.QueryPage{TotalSize: it.TotalSize()}, nil
}

// idBounds returns the object's lowest and highest Id ("" if empty).
func (e *engine) idBounds(ctx context.Context, p *objectPlan) (string, string, error) {
	one := func(dir string) (string, error) {
		it := e.src.Query(ctx, "SELECT Id FROM "+p.name+where(e.filterCond(p))+" ORDER BY Id "+dir+" LIMIT 1", nil)
		if it.Next() {
			return sfapi.To18(it.Record().ID)
		}
		return "", it.Err()
	}
	first, err := one("ASC")
	if err != nil {
		return "", "", fmt.Errorf("first Id of %s: %w", p.name, err)
	}
	last, err := one("DESC")
	if err != nil {
		return "", "", fmt.Errorf("last Id of %s: %w", p.name, err)
	}
	return first, last, nil
}

// readRange reads the records with lo ≤ Id < hi ("" bounds are open) and
// hands them to the writer.
func (e *engine) readRange(ctx context.Context, p *objectPlan, lo, hi string) error {
	var conds []string
	if lo != "" {
		conds = append(conds, "Id >= "+soqlQuote(lo))
	}
	if hi != "" {
		conds = append(conds, "Id < "+soqlQuote(hi))
	}
	conds = append(conds, e.filterCond(p))
	return e.read(ctx, p, where(conds...), false, false)
}

// read runs one query of the plan's fields over cond (a WHERE clause, or
// "") — Bulk when the object allows it, else REST — and sends its rows to
// the writer. With changes, rows with IsDeleted = true are deletions.
func (e *engine) read(ctx context.Context, p *objectPlan, cond string, all, changes bool) error {
	if p.bulk.Load() {
		err := e.readBulk(ctx, p, p.soql(p.fields, cond), all, changes)
		if err == nil || !isBulkUnsupported(err) {
			return err
		}
		p.bulk.Store(false)
		e.opts.Logger.Info("object read through REST: the Bulk API refused it", "object", p.name)
	}
	return e.readREST(ctx, p, cond, all, changes)
}

// sink batches rows for the writer.
type sink struct {
	e       *engine
	p       *objectPlan
	changes bool
	b       *recBatch
	fetched *atomic.Int64
}

func (e *engine) newSink(p *objectPlan, changes bool) *sink {
	return &sink{e: e, p: p, changes: changes, b: &recBatch{object: p.name}, fetched: e.fetched[p.name]}
}

func (s *sink) add(ctx context.Context, id string, rec record.Record) error {
	s.fetched.Add(1)
	if s.p.modstamp != "" {
		if v := fieldValue(rec, s.p.modstamp); v > s.b.hw {
			s.b.hw = v
		}
	}
	if s.changes && fieldValue(rec, "IsDeleted") == "true" {
		s.b.dels = append(s.b.dels, id)
	} else {
		s.b.puts = append(s.b.puts, putRec{id, rec})
	}
	if len(s.b.puts)+len(s.b.dels) >= batchSize {
		return s.flush(ctx)
	}
	return nil
}

func (s *sink) delete(ctx context.Context, id string) error {
	s.b.dels = append(s.b.dels, id)
	if len(s.b.dels) >= batchSize {
		return s.flush(ctx)
	}
	return nil
}

func (s *sink) flush(ctx context.Context) error {
	if len(s.b.puts)+len(s.b.dels) == 0 && s.b.hw == "" {
		return nil
	}
	if !s.e.wr.send(ctx, s.b) {
		return s.e.stopCause(ctx)
	}
	s.b = &recBatch{object: s.p.name}
	return nil
}

func fieldValue(rec record.Record, name string) string {
	for _, f := range rec {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func (e *engine) readBulk(ctx context.Context, p *objectPlan, soql string, all, changes bool) error {
	st, err := e.src.BulkQuery(ctx, soql, &sfapi.BulkQueryOptions{All: all, DeleteJob: true, MaxRecords: bulkPageRecords, Poll: e.opts.Poll})
	if err != nil {
		return fmt.Errorf("bulk query of %s: %w", p.name, err)
	}
	defer st.Close()
	bind, err := p.canon.BindHeader(st.Header())
	if err != nil {
		return fmt.Errorf("bulk query of %s: %w", p.name, err)
	}
	s := e.newSink(p, changes)
	for st.Next() {
		id, rec, err := bind.FromRow(st.Record(), nil)
		if err != nil {
			return fmt.Errorf("bulk query of %s, row %d: %w", p.name, st.Rows(), err)
		}
		if err := s.add(ctx, id, rec); err != nil {
			return err
		}
	}
	if err := st.Err(); err != nil {
		return fmt.Errorf("bulk query of %s: %w", p.name, err)
	}
	return s.flush(ctx)
}

func (e *engine) readREST(ctx context.Context, p *objectPlan, cond string, all, changes bool) error {
	rows := e.queryREST(ctx, p, cond, all)
	return e.drainREST(ctx, p, rows, rows.Next(), changes)
}

// drainREST reads a query's rows; has says whether rows.Next() already
// moved to a row.
func (e *engine) drainREST(ctx context.Context, p *objectPlan, it restRows, has, changes bool) error {
	s := e.newSink(p, changes)
	for ; has; has = it.Next() {
		id, rec, err := p.canon.FromJSON(it.Raw(), nil)
		if err != nil {
			return fmt.Errorf("query of %s: %w", p.name, err)
		}
		if err := s.add(ctx, id, rec); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("query of %s: %w", p.name, err)
	}
	return s.flush(ctx)
}
