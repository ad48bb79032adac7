package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
)

// writerLoop owns the repo.Writer (which is not safe for concurrent use):
// every edit reaches it as a message, applied in the order received, so
// the edits of one worker keep their order.
//
// The one exception is finishing an object (building its record trees,
// the costly part of a synthetic snapshot: settling its changes against
// the base reads most of the base). The Writer allows FinishRecords of one
// object beside edits of others, so the loop runs up to maxFinishing of
// them in goroutines and goes on with other messages. Invariant: while an
// object is finishing, no message about it is applied (the loop waits for
// that finish first), and a sync or commit waits for every finish.
type writerLoop struct {
	e     *engine
	w     *repo.Writer
	wopts repo.WriterOptions
	in    chan any
	quit  chan struct{}
	ended chan struct{}     // closed when run returns
	hw    map[string]string // object → highest modstamp seen (canonical text)
	err   error

	finishing map[string]bool // objects whose FinishRecords runs
	finished  chan finishRes  // their outcomes, read by the loop only
}

// maxFinishing bounds the objects finished at once: each settles its
// changes on every core already, so more would only hold more memory.
const maxFinishing = 2

type finishRes struct {
	object string
	err    error
}

// Messages.
type (
	recBatch struct {
		object string
		puts   []putRec
		dels   []string
		hw     string // the highest modstamp among puts and dels
	}
	putRec struct {
		id  string
		rec record.Record
	}
	// objectOp prepares an object: replace (full read), continue (a full
	// read the checkpoint began), remove, or schema.
	objectOp struct {
		object string
		op     string
		schema []byte
		from   string // continue: the cursor; records at or past it are dropped
	}
	fileLink struct {
		object, id string
		file       crypto.ID
	}
	syncReq   struct{ done chan error }
	commitReq struct {
		final bool
		done  chan commitRes
	}
	commitRes struct {
		snap *repo.Snapshot
		err  error
	}
)

func newWriterLoop(e *engine, w *repo.Writer, wopts repo.WriterOptions) *writerLoop {
	wl := &writerLoop{e: e, w: w, wopts: wopts, in: make(chan any, 64), quit: make(chan struct{}), ended: make(chan struct{}), hw: map[string]string{},
		finishing: map[string]bool{}, finished: make(chan finishRes, maxFinishing)}
	// High-water marks so far: the checkpoint's when resuming, else the
	// parent's. A mark only rises (max of these and what is read).
	from := wopts.Parent
	if wopts.Resume != nil {
		from = wopts.Resume
	}
	if from != nil {
		for n, st := range from.Objects {
			wl.hw[n] = st.HighWater
		}
	}
	return wl
}

// send hands a message to the loop; false when the run is over.
func (wl *writerLoop) send(ctx context.Context, m any) bool {
	select {
	case wl.in <- m:
		return true
	case <-ctx.Done():
		return false
	case <-wl.quit:
		return false
	}
}

func (wl *writerLoop) run(ctx context.Context) {
	defer close(wl.ended)
	defer wl.awaitFinishes("") // the writer is aborted after this returns
	for {
		select {
		case m := <-wl.in:
			wl.handle(ctx, m)
		case f := <-wl.finished:
			wl.finishedOne(f)
		case <-wl.quit:
			return
		}
	}
}

// finish starts FinishRecords of object in a goroutine, once fewer than
// maxFinishing run.
func (wl *writerLoop) finish(ctx context.Context, object string) {
	for len(wl.finishing) >= maxFinishing {
		wl.finishedOne(<-wl.finished)
	}
	wl.finishing[object] = true
	w := wl.w
	go func() { wl.finished <- finishRes{object, w.FinishRecords(ctx, object)} }()
}

// finishedOne takes in the outcome of one finish.
func (wl *writerLoop) finishedOne(f finishRes) {
	delete(wl.finishing, f.object)
	if f.err != nil && wl.err == nil {
		wl.err = f.err
		wl.e.fail(f.err)
	}
}

// awaitFinishes waits until object ("": every object) is not finishing.
func (wl *writerLoop) awaitFinishes(object string) {
	for object == "" && len(wl.finishing) > 0 || object != "" && wl.finishing[object] {
		wl.finishedOne(<-wl.finished)
	}
}

// objectOf is the object a message is about ("" for none).
func objectOf(m any) string {
	switch m := m.(type) {
	case *recBatch:
		return m.object
	case objectOp:
		return m.object
	case fileLink:
		return m.object
	case metaFiles:
		return MetadataObject
	}
	return ""
}

func (wl *writerLoop) handle(ctx context.Context, m any) {
	switch m := m.(type) {
	case syncReq:
		wl.awaitFinishes("")
		m.done <- wl.err
		return
	case commitReq:
		wl.awaitFinishes("")
		m.done <- wl.commit(ctx, m.final)
		return
	}
	if o := objectOf(m); o != "" {
		wl.awaitFinishes(o)
	}
	if wl.err != nil {
		return // the run is failing; drain
	}
	var err error
	switch m := m.(type) {
	case *recBatch:
		err = wl.apply(ctx, m)
	case objectOp:
		switch m.op {
		case "replace":
			err = wl.w.ReplaceObject(ctx, m.object)
		case "continue":
			err = wl.continueReplace(ctx, m.object, m.from)
		case "remove":
			err = wl.w.RemoveObject(ctx, m.object)
		case "schema":
			err = wl.w.PutSchema(ctx, m.object, m.schema)
		case "finish":
			wl.finish(ctx, m.object)
		}
	case fileLink:
		err = wl.w.LinkFile(ctx, m.object, m.id, m.file)
	case metaFiles:
		err = wl.setMetaFiles(ctx, m)
	}
	if err != nil {
		wl.err = err
		wl.e.fail(err)
	}
}

func (wl *writerLoop) apply(ctx context.Context, b *recBatch) error {
	plan := wl.e.planOf(b.object)
	for _, p := range b.puts {
		if wl.e.removals.Erased(p.id) {
			continue // erased from the repository: it never comes back
		}
		if err := wl.w.PutRecord(ctx, b.object, p.id, p.rec); err != nil {
			return err
		}
		if plan != nil && plan.file != nil {
			if err := wl.e.files.consider(ctx, wl.w, plan, p.id, p.rec); err != nil {
				return err
			}
		}
	}
	for _, id := range b.dels {
		if err := wl.w.DeleteRecord(ctx, b.object, id); err != nil {
			return err
		}
		if plan != nil && plan.file != nil {
			if err := wl.w.DeleteFile(ctx, b.object, id); err != nil {
				return err
			}
		}
	}
	if b.hw > wl.hw[b.object] {
		wl.hw[b.object] = b.hw
	}
	wl.e.prog.add(b.object, int64(len(b.puts)+len(b.dels)))
	return nil
}

// commit commits a checkpoint (and continues from it with a new writer) or
// the final snapshot.
func (wl *writerLoop) commit(ctx context.Context, final bool) commitRes {
	if wl.err != nil {
		return commitRes{err: wl.err}
	}
	for n, hw := range wl.hw {
		if hw != "" && wl.e.planOf(n) != nil {
			if err := wl.w.SetHighWater(ctx, n, hw); err != nil {
				return commitRes{err: err}
			}
		}
	}
	wl.w.SetState(wl.e.stateJSON(final))
	var snap *repo.Snapshot
	var err error
	if final {
		snap, err = wl.w.Commit(ctx)
	} else {
		snap, err = wl.w.CommitCheckpoint(ctx)
	}
	if err != nil {
		wl.err = err
		return commitRes{err: err}
	}
	if !final {
		wl.wopts.Resume = snap
		if wl.w, err = wl.e.r.NewWriter(ctx, wl.wopts); err != nil {
			wl.err = err
			return commitRes{err: err}
		}
		// Objects whose full read is under way continue it.
		for n, o := range wl.e.state.Objects {
			if o.Full && !o.Done {
				if err := wl.w.ContinueReplace(ctx, n); err != nil {
					wl.err = err
					return commitRes{err: err}
				}
			}
		}
	}
	return commitRes{snap: snap}
}

// continueReplace resumes a full read from a checkpoint. Records at or
// past the cursor came from ranges that had not finished (the run stopped
// on a failure): they are dropped, the ranges are read again.
func (wl *writerLoop) continueReplace(ctx context.Context, object, cursor string) error {
	if err := wl.w.ContinueReplace(ctx, object); err != nil {
		return err
	}
	ckpt := wl.wopts.Resume
	var stale []string
	err := wl.e.r.EachID(ctx, ckpt, object, func(id string) error {
		if id >= cursor {
			stale = append(stale, id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, repo.ErrNotFound) {
		return err
	}
	for _, id := range stale {
		if err := wl.w.DeleteRecord(ctx, object, id); err != nil {
			return err
		}
	}
	return nil
}

// healthy reports that the writer has not failed.
func (wl *writerLoop) healthy() bool {
	if err := wl.sync(); err != nil {
		return false
	}
	return true
}

// sync waits until every message sent before it is applied.
func (wl *writerLoop) sync() error {
	done := make(chan error, 1)
	select {
	case wl.in <- syncReq{done}:
	case <-wl.quit:
		return errors.New("snapshot writer stopped")
	}
	return <-done
}

func (wl *writerLoop) commitFinal(ctx context.Context) (*repo.Snapshot, error) {
	return wl.request(ctx, true)
}

func (wl *writerLoop) commitCheckpoint(ctx context.Context) (*repo.Snapshot, error) {
	return wl.request(ctx, false)
}

func (wl *writerLoop) request(ctx context.Context, final bool) (*repo.Snapshot, error) {
	done := make(chan commitRes, 1)
	select {
	case wl.in <- commitReq{final, done}:
	case <-wl.quit:
		return nil, errors.New("snapshot writer stopped")
	}
	res := <-done
	if res.err != nil {
		if final {
			return nil, fmt.Errorf("committing the snapshot: %w", res.err)
		}
		return nil, fmt.Errorf("saving a checkpoint: %w", res.err)
	}
	return res.snap, nil
}

// close stops the loop; a writer never committed is aborted (its blobs
// stay for the next run, or prune).
func (wl *writerLoop) close() {
	select {
	case <-wl.quit:
		return
	default:
	}
	close(wl.quit)
	<-wl.ended // the loop may be applying a message
	wl.w.Abort()
}
