package backup

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// File bodies (ContentVersion.VersionData, Attachment.Body, Document.Body,
// any base64 field) are downloaded through the blob endpoint, streamed
// through the chunker into the repository, and linked to their record.
//
// A body is downloaded at most once: each has a key, registered with the
// file (repo.SaveFile's checksum) and looked up first (FileByChecksum):
// Salesforce's content checksum where the object has one (ContentVersion:
// the same file attached twice is stored once), else the record Id and
// modstamp (a body changes only with its record). So an unchanged file is
// never fetched again, by a synthetic run, a full one, or a resumed one.

// fileQueue is the download pool. consider is called by the writer loop;
// the workers call back into it with fileLink messages.
type fileQueue struct {
	e     *engine
	ctx   context.Context
	group string

	mu       sync.Mutex
	cond     *sync.Cond
	jobs     []fileJob
	inflight map[string][]fileTarget // key → records waiting for that body
	// stored: bodies stored by this run, by key. Their aliases reach the
	// index only when their pack is written, so FileByChecksum may not see
	// them yet.
	stored map[string]crypto.ID
	// failed: objects with a body that could not be stored; a checkpoint
	// marks them unfinished, so the next run reads them again.
	failed map[string]bool
	closed bool
	busy   sync.WaitGroup // jobs queued or running

	downloaded, linked, skipped, bytes atomic.Int64
}

type fileTarget struct{ object, id string }

type fileJob struct {
	object, id, field, key string
}

func newFileQueue(e *engine, ctx context.Context) *fileQueue {
	q := &fileQueue{e: e, ctx: ctx, group: repo.PeriodOf(e.state.Time), inflight: map[string][]fileTarget{}, stored: map[string]crypto.ID{}, failed: map[string]bool{}}
	q.cond = sync.NewCond(&q.mu)
	for i := 0; i < e.opts.Parallel.Files; i++ {
		go q.work()
	}
	return q
}

// fileKey is the body's identity (see above); "" when it has none.
func fileKey(p *objectPlan, id string, rec record.Record) string {
	if p.file.checksum != "" {
		if v := fieldValue(rec, p.file.checksum); v != "" {
			return "md5:" + v
		}
	}
	if p.modstamp != "" {
		if v := fieldValue(rec, p.modstamp); v != "" {
			return "rec:" + p.name + "/" + id + "/" + v
		}
	}
	return ""
}

// consider decides what a record of a file object needs: nothing (no
// body), a link to a body already held, or a download.
func (q *fileQueue) consider(ctx context.Context, w *repo.Writer, p *objectPlan, id string, rec record.Record) error {
	if p.file.size != "" {
		v := fieldValue(rec, p.file.size)
		n, err := strconv.ParseInt(v, 10, 64)
		if v == "" || (err == nil && n == 0) {
			return w.DeleteFile(ctx, p.name, id) // no body (any more)
		}
		if err == nil && q.e.opts.Files.MaxSize > 0 && n > q.e.opts.Files.MaxSize {
			q.skipped.Add(1)
			return nil
		}
	}
	key := fileKey(p, id, rec)
	if key != "" {
		fid, ok, err := q.e.r.FileByChecksum(key)
		if err != nil {
			return err
		}
		if ok {
			q.linked.Add(1)
			return w.LinkFile(ctx, p.name, id, fid)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	t := fileTarget{p.name, id}
	if fid, ok := q.stored[key]; ok && key != "" {
		q.linked.Add(1)
		return w.LinkFile(ctx, p.name, id, fid)
	}
	if key != "" {
		if waiting, ok := q.inflight[key]; ok {
			q.inflight[key] = append(waiting, t)
			return nil
		}
		q.inflight[key] = []fileTarget{t}
	}
	q.busy.Add(1)
	q.jobs = append(q.jobs, fileJob{object: p.name, id: id, field: p.file.body, key: key})
	q.cond.Signal()
	return nil
}

func (q *fileQueue) work() {
	for {
		q.mu.Lock()
		for len(q.jobs) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		q.fetch(j)
		q.busy.Done()
	}
}

func (q *fileQueue) fetch(j fileJob) {
	ctx := q.ctx
	targets := []fileTarget{{j.object, j.id}}
	if j.key != "" {
		q.mu.Lock()
		targets = q.inflight[j.key]
		q.mu.Unlock()
	}
	defer func() {
		if j.key != "" {
			q.mu.Lock()
			delete(q.inflight, j.key)
			q.mu.Unlock()
		}
	}()
	if ctx.Err() != nil {
		q.markFailed(targets)
		return
	}
	body, err := q.e.src.DownloadBlob(ctx, j.object, j.id, j.field)
	if sfapi.IsNotFound(err) {
		q.skipped.Add(1) // no body after all (deleted meanwhile, or null)
		return
	}
	if err != nil {
		q.markFailed(targets)
		q.e.fail(fmt.Errorf("downloading %s %s.%s: %w", j.object, j.id, j.field, err))
		return
	}
	defer body.Close()
	fid, n, err := q.e.r.SaveFile(ctx, q.group, body, j.key)
	if err != nil {
		q.markFailed(targets)
		q.e.fail(fmt.Errorf("storing %s %s.%s: %w", j.object, j.id, j.field, err))
		return
	}
	q.downloaded.Add(1)
	q.bytes.Add(n)
	q.mu.Lock()
	if j.key != "" {
		targets = q.inflight[j.key] // waiters may have joined during the download
		q.stored[j.key] = fid
	}
	q.mu.Unlock()
	for _, t := range targets {
		if !q.e.wr.send(ctx, fileLink{object: t.object, id: t.id, file: fid}) {
			return
		}
	}
}

func (q *fileQueue) markFailed(targets []fileTarget) {
	q.mu.Lock()
	for _, t := range targets {
		q.failed[t.object] = true
	}
	q.mu.Unlock()
}

// failedObjects returns the objects with a body not stored (quiet runs only).
func (q *fileQueue) failedObjects() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for o := range q.failed {
		out = append(out, o)
	}
	return out
}

// wait returns when no download is queued or running. Only call it when
// nothing can queue more (the writer loop is synced).
func (q *fileQueue) wait() { q.busy.Wait() }

func (q *fileQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *fileQueue) stats() FileStats {
	return FileStats{Downloaded: q.downloaded.Load(), Linked: q.linked.Load(), Skipped: q.skipped.Load(), Bytes: q.bytes.Load()}
}
