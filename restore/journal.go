package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// The journal makes inserts exactly-once across crashes.
//
// Updates and undeletes are idempotent (a second run reads the org and
// finds nothing left to do), inserts are not: a record inserted by a run
// that crashed before it learnt the new Id would be inserted again by the
// next. So every insert request is journaled in the repository (sealed
// settings "restore/<run>/<n>", one per request) in two steps:
//
//  1. before the request is sent, an intent: the object, the org time,
//     the fields sent, and for each record its old Id and a key (a hash of
//     the exact values sent); for Bulk, the ingest job's Id as soon as the
//     job exists and before its data is uploaded;
//  2. after the answer, the new Id of each record (empty when Salesforce
//     refused it), and the entry is marked done.
//
// Invariant: a record is sent in a new request only when no journal entry
// names it as created and every entry naming it is done. A run that finds
// an entry not done settles it first, from the org itself:
//
//   - a Bulk job is asked for its state: still Open means its data was
//     never processed (it is aborted and nothing was created); otherwise
//     its successful results (kept 7 days) give the new Ids, correlated by
//     the key of the echoed values;
//   - a Collections request leaves no trace but its records: the records of
//     the object created since the intent (minus a margin for clock skew)
//     are read, and each whose values hash to a pending key is taken as
//     that record (two records with identical values are interchangeable).
//
// Only then are the records still without a new Id sent again. Done
// entries also give later runs of the same restore the old→new Id map, so
// running a finished restore again inserts nothing.
//
// A run is identified by the snapshot, the target org and the selection,
// so repeating the command resumes; Options.Fresh forgets the journal.

// skew is how far before an intent's time a record it created may carry
// its CreatedDate (clock difference between this machine and the org).
const skew = 10 * time.Minute

type jbatch struct {
	Seq    int       `json:"seq"`
	Object string    `json:"object"`
	Sent   time.Time `json:"sent"`
	Job    string    `json:"job,omitempty"`
	Fields []string  `json:"fields"`
	Old    []string  `json:"old"`
	Keys   []string  `json:"keys"`
	New    []string  `json:"new,omitempty"`
	Done   bool      `json:"done"`
}

type journal struct {
	r       *repo.Repository
	run     string
	batches []*jbatch
	dry     bool
}

// runID names a restore by what it restores where.
func runID(o *Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00", o.Snapshot.ID, o.TargetOrg, o.CrossOrg)
	for _, t := range o.Targets {
		ids := append([]string(nil), t.IDs...)
		sort.Strings(ids)
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", t.Object, strings.Join(ids, ","), t.Where)
	}
	if o.ChangedSince != nil {
		fmt.Fprintf(h, "since %s\x00", o.ChangedSince.ID)
	}
	if o.Until != nil {
		fmt.Fprintf(h, "until %s\x00", o.Until.ID)
	}
	fmt.Fprintf(h, "%v\x00%v %d\x00%v\x00%v", o.Fields, o.WithChildren, o.Depth, o.NoParents, o.Mask)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (j *journal) name(seq int) string { return j.run + "/" + strconv.Itoa(seq) }

// load reads every entry of the run.
func (j *journal) load(ctx context.Context, fresh bool) error {
	for seq := 0; ; seq++ {
		data, err := j.r.LoadSetting(ctx, j.name(seq))
		if errors.Is(err, repo.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore journal: %w", err)
		}
		if fresh {
			if !j.dry {
				if err := j.r.DeleteSetting(ctx, j.name(seq)); err != nil {
					return err
				}
			}
			continue
		}
		var b jbatch
		if err := json.Unmarshal(data, &b); err != nil {
			return fmt.Errorf("restore journal entry %d: %w", seq, err)
		}
		j.batches = append(j.batches, &b)
	}
}

func (j *journal) save(ctx context.Context, b *jbatch) error {
	if j.dry {
		return nil
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := j.r.SaveSetting(ctx, j.name(b.Seq), data); err != nil {
		return fmt.Errorf("restore journal: %w", err)
	}
	return nil
}

func (j *journal) next(object string, sent time.Time) *jbatch {
	b := &jbatch{Seq: len(j.batches), Object: object, Sent: sent}
	j.batches = append(j.batches, b)
	return b
}

// replay applies done entries to the Id map and settles those that are
// not (see the invariant above).
func (e *engine) replay() error {
	for _, b := range e.j.batches {
		if !b.Done {
			if e.opts.DryRun {
				continue
			}
			if err := e.settle(b); err != nil {
				return fmt.Errorf("settling restore journal entry %d (%s): %w", b.Seq, b.Object, err)
			}
		}
		for i, n := range b.New {
			if n != "" {
				e.idmap[b.Old[i]] = n
			}
		}
	}
	return nil
}

// settle finds out which records of an unfinished insert were created.
func (e *engine) settle(b *jbatch) error {
	b.New = make([]string, len(b.Old))
	if b.Job != "" {
		job, err := e.org.IngestJob(e.ctx, b.Job)
		var ae *sfapi.APIError
		switch {
		case errors.As(err, &ae) && ae.StatusCode == 404, errors.Is(err, sfapi.ErrNotFound):
			// The job is gone (results are kept 7 days): fall back to the
			// org's records.
		case err != nil:
			return err
		case job.State == sfapi.JobOpen:
			if _, err := e.org.AbortIngestJob(e.ctx, b.Job); err != nil {
				return err
			}
			b.Done = true
			return e.j.save(e.ctx, b)
		default:
			if !job.Terminal() {
				if _, err := e.org.WaitIngestJob(e.ctx, b.Job, e.opts.Poll); err != nil && !(errors.Is(err, sfapi.ErrBulkJobFailed) || errors.Is(err, sfapi.ErrBulkJobAborted)) {
					return err
				}
			}
			res, err := e.org.IngestResults(e.ctx, b.Job)
			if err != nil {
				return err
			}
			d, err := e.org.Describe(e.ctx, b.Object)
			if err != nil {
				return err
			}
			e.matchIngest(b, d, res, nil)
			b.Done = true
			return e.j.save(e.ctx, b)
		}
	}
	d, err := e.org.Describe(e.ctx, b.Object)
	if err != nil {
		return err
	}
	var fields []sfapi.Field
	for _, n := range b.Fields {
		if f := d.Field(n); f != nil {
			fields = append(fields, *f)
		}
	}
	canon, err := backup.NewCanon(b.Object, fields)
	if err != nil {
		return err
	}
	pending := map[string][]int{}
	for i, k := range b.Keys {
		pending[k] = append(pending[k], i)
	}
	known := map[string]bool{}
	for _, n := range e.idmap {
		known[n] = true
	}
	for _, ob := range e.j.batches {
		for _, n := range ob.New {
			known[n] = true
		}
	}
	since := b.Sent.Add(-skew).UTC().Format("2006-01-02T15:04:05Z")
	q := "SELECT " + strings.Join(canon.Fields(), ", ") + " FROM " + b.Object + " WHERE CreatedDate >= " + since + " ORDER BY Id"
	it := e.org.Query(e.ctx, q, nil)
	for it.Next() {
		id, rec, err := canon.FromJSON(it.Record().Raw, nil)
		if err != nil {
			return err
		}
		if known[id] {
			continue
		}
		k := rowKey(sentOnly(rec, b.Fields))
		if idx := pending[k]; len(idx) > 0 {
			b.New[idx[0]] = id
			pending[k] = idx[1:]
			known[id] = true
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	b.Done = true
	return e.j.save(e.ctx, b)
}

// sentOnly keeps the fields named (rec and names sorted alike).
func sentOnly(rec record.Record, names []string) record.Record {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := rec[:0:0]
	for _, f := range rec {
		if want[f.Name] {
			out = append(out, f)
		}
	}
	return out
}
