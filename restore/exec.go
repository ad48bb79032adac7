package restore

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Report is the outcome of a restore (or, for dry runs, its plan).
type Report struct {
	Plan    Plan     `json:"plan"`
	Results []Result `json:"results,omitempty"`
	// Counts by status (ok, failed, unchanged, skipped).
	OK        int    `json:"ok"`
	Failed    int    `json:"failed"`
	Unchanged int    `json:"unchanged"`
	Run       string `json:"run"` // the journal's name
	Resumed   bool   `json:"resumed,omitempty"`
}

// Run plans the restore and, unless opts.DryRun, executes it. It returns
// the report with ErrRecordsFailed when Salesforce refused records, and
// ErrStopped when the budget or an interrupt stopped it (run the same
// restore again to resume).
func Run(ctx context.Context, r *repo.Repository, org Org, opts Options) (*Report, error) {
	opts.setDefaults()
	if opts.Snapshot == nil {
		return nil, fmt.Errorf("%w: no snapshot", ErrBadSelection)
	}
	e := newEngine(ctx, r, org, org, opts)
	e.plan.Snapshot, e.plan.Time = opts.Snapshot.ID.String(), opts.Snapshot.Time
	e.plan.TargetOrg, e.plan.CrossOrg = opts.TargetOrg, opts.CrossOrg
	g, err := org.DescribeGlobal(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe the target org: %w", err)
	}
	e.prefixes = g.KeyPrefixes()
	e.j = &journal{r: r, run: "restore/" + runID(&e.opts), dry: opts.DryRun}
	if err := e.j.load(ctx, opts.Fresh); err != nil {
		return nil, err
	}
	rep := &Report{Run: e.j.run, Resumed: len(e.j.batches) > 0}
	if err := e.selectRecords(); err != nil {
		return nil, err
	}
	if err := e.describeSets(); err != nil {
		return nil, err
	}
	if err := e.crossOrgMaps(); err != nil {
		return nil, err
	}
	if err := e.addParents(); err != nil {
		return nil, err
	}
	if err := e.replay(); err != nil {
		return nil, err
	}
	e.computeOrder()
	for _, name := range e.order {
		e.noteFields(e.sets[name])
	}
	if opts.DryRun {
		err = e.planAll()
	} else {
		err = e.execute()
	}
	e.finishPlan()
	rep.Plan = e.plan
	rep.Results = e.results
	for _, res := range e.results {
		switch res.Status {
		case "ok":
			rep.OK++
		case "failed":
			rep.Failed++
		case "unchanged":
			rep.Unchanged++
		}
	}
	if err != nil {
		return rep, err
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("%w: %d of %d records failed (see the results)", ErrRecordsFailed, rep.Failed, len(e.results))
	}
	return rep, nil
}

func newEngine(ctx context.Context, r *repo.Repository, org Org, schema describer, opts Options) *engine {
	return &engine{ctx: ctx, org: org, schema: schema, r: r, opts: opts,
		ff: newFieldFilter(opts.Fields), mask: newFieldFilter(opts.Mask),
		sets: map[string]*objSet{}, idmap: map[string]string{}, failed: map[string]string{},
		planned: map[string]string{}, deferred: map[string][]*deferral{}, oplans: map[string]*ObjectPlan{}}
}

// brake stops the run at a request boundary when asked to or when the
// API budget is spent.
func (e *engine) brake() error {
	select {
	case <-e.opts.Interrupt:
		return fmt.Errorf("%w: interrupted", ErrStopped)
	default:
	}
	if err := e.org.Budget().Check(e.opts.BudgetPercent); err != nil {
		return fmt.Errorf("%w: %v", ErrStopped, err)
	}
	return e.ctx.Err()
}

func (e *engine) progress(format string, args ...any) {
	if e.opts.Progress != nil {
		e.opts.Progress(fmt.Sprintf(format, args...))
	}
}

func (e *engine) result(res Result) { e.results = append(e.results, res) }

func saveErrOf(errs []sfapi.ErrorItem) (string, string) {
	if len(errs) == 0 {
		return "UNKNOWN", "Salesforce gave no reason"
	}
	msg := errs[0].Message
	if len(errs[0].Fields) > 0 {
		msg += " [" + strings.Join(errs[0].Fields, ", ") + "]"
	}
	return errs[0].Code(), msg
}

// execute writes the set object by object in dependency order, then sets
// the references left for the second pass.
func (e *engine) execute() error {
	for _, name := range e.order {
		if err := e.restoreObject(e.sets[name]); err != nil {
			return err
		}
	}
	if err := e.secondPass(); err != nil {
		return err
	}
	return nil
}

func (e *engine) orgIDs(os *objSet) []string {
	ids := make([]string, 0, len(os.items))
	for _, it := range os.items {
		if t := e.targetID(it); t != "" {
			ids = append(ids, t)
		}
	}
	return ids
}

// restoreObject reads the object's records' state now (earlier objects'
// undeletes may have brought some back), then undeletes, inserts and
// updates.
func (e *engine) restoreObject(os *objSet) error {
	op := e.oplan(os.name)
	op.Records = len(os.items)
	state, err := e.fetchState(os, e.orgIDs(os))
	if err != nil {
		return err
	}
	undel, ins, live := e.classify(os, state)
	if len(undel) > 0 {
		e.progress("%s: undeleting %d records", os.name, len(undel))
		var back []string
		for start := 0; start < len(undel); start += sfapi.MaxCollection {
			chunk := undel[start:min(start+sfapi.MaxCollection, len(undel))]
			if err := e.brake(); err != nil {
				return err
			}
			ids := make([]string, len(chunk))
			for i, it := range chunk {
				ids[i] = e.targetID(it)
			}
			res, err := e.org.Undelete(e.ctx, ids)
			if err != nil {
				return fmt.Errorf("undelete %s: %w", os.name, err)
			}
			for i, it := range chunk {
				if i < len(res) && res[i].Success {
					op.Undelete++
					e.idmap[it.old] = ids[i]
					back = append(back, ids[i])
					e.result(Result{Object: os.name, OldID: it.old, NewID: ids[i], Action: "undelete", Status: "ok"})
					continue
				}
				code, msg := "UNKNOWN", "no result"
				if i < len(res) {
					code, msg = saveErrOf(res[i].Errors)
				}
				e.failed[it.old] = code
				e.result(Result{Object: os.name, OldID: it.old, Action: "undelete", Status: "failed", Error: code, Message: msg})
			}
		}
		// Undeleted records hold their Recycle Bin values; compare them.
		again, err := e.fetchState(os, back)
		if err != nil {
			return err
		}
		for _, it := range undel {
			if row, ok := again[e.targetID(it)]; ok && !row.deleted {
				live[it] = row
			}
		}
	}
	for it, row := range live {
		e.idmap[it.old] = row.id
	}
	if err := e.insertAll(os, ins); err != nil {
		return err
	}
	var ups []*change
	for _, it := range os.items {
		row, ok := live[it]
		if !ok {
			continue
		}
		ch := e.values(os, it, &row)
		ch.target = row.id
		if len(ch.deferred) > 0 {
			e.deferred[os.name] = append(e.deferred[os.name], &deferral{it: it, fields: ch.deferred})
		}
		if len(ch.fields) == 0 {
			if e.idmap[it.old] == it.old && !undeleted(e.results, it) {
				op.Unchanged++
				e.result(Result{Object: os.name, OldID: it.old, NewID: row.id, Action: "unchanged", Status: "unchanged"})
			}
			continue
		}
		ups = append(ups, ch)
	}
	return e.updateAll(os, ups, "update")
}

func undeleted(results []Result, it *item) bool {
	for i := len(results) - 1; i >= 0 && results[i].Object == it.obj; i-- {
		if results[i].OldID == it.old && results[i].Action == "undelete" {
			return true
		}
	}
	return false
}

// insertAll inserts records gone from the org, in journaled batches.
func (e *engine) insertAll(os *objSet, ins []*item) error {
	if len(ins) == 0 {
		return nil
	}
	op := e.oplan(os.name)
	var chs []*change
	for _, it := range ins {
		ch := e.values(os, it, nil)
		if ch.failCode != "" {
			e.failed[it.old] = ch.failCode
			e.result(Result{Object: os.name, OldID: it.old, Action: "insert", Status: "failed", Error: ch.failCode, Message: ch.failMsg})
			continue
		}
		chs = append(chs, ch)
	}
	if isFileObject(os.name) && !e.opts.NoFiles {
		return e.insertFiles(os, chs)
	}
	bulk := len(chs) > e.opts.BulkThreshold
	op.Via = e.via(len(chs))
	per := sfapi.MaxCollection
	if bulk {
		per = bulkBatch
	}
	e.progress("%s: inserting %d records", os.name, len(chs))
	for start := 0; start < len(chs); start += per {
		batch := chs[start:min(start+per, len(chs))]
		if err := e.brake(); err != nil {
			return err
		}
		if err := e.insertBatch(os, batch, bulk); err != nil {
			return err
		}
	}
	return nil
}

// bulkBatch is the most records one Bulk insert job (and one journal
// entry) carries: a journal entry must stay under the repository's 1 MiB
// setting size.
const bulkBatch = 5000

// insertBatch sends one journaled insert request (see journal.go).
func (e *engine) insertBatch(os *objSet, batch []*change, bulk bool) error {
	b := e.j.next(os.name, e.opts.Now())
	b.Fields = batch[0].fields
	for _, ch := range batch {
		b.Old = append(b.Old, ch.it.old)
		b.Keys = append(b.Keys, rowKey(ch.sent))
	}
	if err := e.j.save(e.ctx, b); err != nil {
		return err
	}
	b.New = make([]string, len(batch))
	errs := make([][2]string, len(batch))
	if bulk {
		job, err := e.org.CreateIngestJob(e.ctx, sfapi.IngestJobSpec{Object: os.name, Operation: "insert", LineEnding: "LF"})
		if err != nil {
			return fmt.Errorf("insert %s: %w", os.name, err)
		}
		b.Job = job.ID
		if err := e.j.save(e.ctx, b); err != nil {
			return err
		}
		res, err := e.runIngest(job.ID, csvOf(os, b.Fields, batch, "", true))
		if err != nil {
			return fmt.Errorf("insert %s: %w", os.name, err)
		}
		e.matchIngest(b, os.desc, res, errs)
	} else {
		recs := make([]sfapi.Fields, len(batch))
		for i, ch := range batch {
			recs[i] = apiFields(ch.sent)
		}
		res, err := e.org.CreateRecords(e.ctx, os.name, recs, sfapi.CollectionOptions{AllowDuplicates: e.opts.AllowDuplicates})
		if err != nil {
			// The journal entry stays open: the next run settles it.
			return fmt.Errorf("insert %s: %w", os.name, err)
		}
		for i, r := range res {
			if r.Success {
				b.New[i] = r.ID
			} else {
				errs[i][0], errs[i][1] = saveErrOf(r.Errors)
			}
		}
	}
	b.Done = true
	if err := e.j.save(e.ctx, b); err != nil {
		return err
	}
	op := e.oplan(os.name)
	var retry []*change
	for i, ch := range batch {
		if n := b.New[i]; n != "" {
			e.idmap[ch.it.old] = n
			op.Insert++
			e.result(Result{Object: os.name, OldID: ch.it.old, NewID: n, Action: "insert", Status: "ok", Fields: ch.deferredNote()})
			if len(ch.deferred) > 0 {
				e.deferred[os.name] = append(e.deferred[os.name], &deferral{it: ch.it, fields: ch.deferred})
			}
			continue
		}
		code, msg := errs[i][0], errs[i][1]
		if code == "" {
			code, msg = "NOT_PROCESSED", "Salesforce returned no result for this record"
		}
		if e.toFallbackOwner(os, ch, code) {
			retry = append(retry, ch)
			continue
		}
		e.failed[ch.it.old] = code
		e.result(Result{Object: os.name, OldID: ch.it.old, Action: "insert", Status: "failed", Error: code, Message: msg})
	}
	if len(retry) > 0 {
		return e.insertBatch(os, retry, bulk)
	}
	return nil
}

// toFallbackOwner prepares one more try for a record the org refused
// because the owner it was sent with is inactive (INACTIVE_OWNER_OR_USER),
// when a fallback owner is set: the record goes to that owner. It reports
// whether to retry (never twice: the fallback owner is then the owner).
func (e *engine) toFallbackOwner(os *objSet, ch *change, code string) bool {
	if code != "INACTIVE_OWNER_OR_USER" || e.owner == "" {
		return false
	}
	i := slices.IndexFunc(ch.sent, func(f record.Field) bool { return f.Name == "OwnerId" })
	if i < 0 || ch.sent[i].Value == e.owner {
		return false
	}
	ch.sent = slices.Clone(ch.sent)
	ch.sent[i].Kind, ch.sent[i].Value = record.String, e.owner
	e.oplan(os.name).FallbackOwner++
	return true
}

func (ch *change) deferredNote() []string { return nil }

// runIngest uploads, closes, waits for and reads one Bulk job.
func (e *engine) runIngest(jobID string, data []byte) (*sfapi.IngestResults, error) {
	if err := e.org.UploadIngestData(e.ctx, jobID, data); err != nil {
		if _, aerr := e.org.AbortIngestJob(context.WithoutCancel(e.ctx), jobID); aerr != nil {
			return nil, errors.Join(err, aerr)
		}
		return nil, err
	}
	if _, err := e.org.CloseIngestJob(e.ctx, jobID); err != nil {
		return nil, err
	}
	if _, err := e.org.WaitIngestJob(e.ctx, jobID, e.opts.Poll); err != nil && !errors.Is(err, sfapi.ErrBulkJobFailed) {
		return nil, err
	}
	return e.org.IngestResults(e.ctx, jobID)
}

// matchIngest correlates a Bulk insert's results with the journal entry by
// the key of the echoed values (Salesforce does not keep row order).
func (e *engine) matchIngest(b *jbatch, d *sfapi.SObjectDescribe, res *sfapi.IngestResults, errs [][2]string) {
	if len(b.New) != len(b.Old) {
		b.New = make([]string, len(b.Old))
	}
	pending := map[string][]int{}
	for i, k := range b.Keys {
		pending[k] = append(pending[k], i)
	}
	col := map[string]int{}
	for i, h := range res.Header {
		col[h] = i
	}
	keyOf := func(vals []string) string {
		var rec record.Record
		for _, n := range b.Fields {
			i, ok := col[n]
			if !ok || i >= len(vals) || vals[i] == "" {
				continue
			}
			if vals[i] == "#N/A" {
				rec = append(rec, record.Field{Name: n})
				continue
			}
			k := record.String
			if f := d.Field(n); f != nil {
				k = kindFor(f)
			}
			rec = append(rec, record.Field{Name: n, Kind: k, Value: vals[i]})
		}
		return rowKey(rec)
	}
	for _, row := range res.Successful {
		k := keyOf(row.Values)
		if idx := pending[k]; len(idx) > 0 {
			b.New[idx[0]] = row.ID
			pending[k] = idx[1:]
		}
	}
	if errs == nil {
		return
	}
	for _, row := range res.Failed {
		k := keyOf(row.Values)
		if idx := pending[k]; len(idx) > 0 {
			code, msg, _ := strings.Cut(row.Error, ":")
			msg = strings.TrimSuffix(strings.TrimSpace(msg), "--")
			errs[idx[0]] = [2]string{code, strings.TrimSpace(msg)}
			pending[k] = idx[1:]
		}
	}
}

// csvOf writes an ingest CSV: Id first for updates (idCol), then fields.
// A null is #N/A; on updates a field a row does not carry stays empty
// (unchanged).
func csvOf(os *objSet, fields []string, batch []*change, idCol string, insert bool) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := fields
	if !insert {
		head = append([]string{"Id"}, fields...)
	}
	w.Write(head)
	for _, ch := range batch {
		row := make([]string, 0, len(head))
		if !insert {
			row = append(row, ch.target)
		}
		for _, n := range fields {
			v, ok := ch.sent.Get(n)
			switch {
			case !ok:
				row = append(row, "")
			case v.Kind == record.Null:
				row = append(row, "#N/A")
			default:
				row = append(row, v.Value)
			}
		}
		w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}

func apiFields(rec record.Record) sfapi.Fields {
	m := make(sfapi.Fields, len(rec))
	for _, f := range rec {
		m[f.Name] = apiValue(f)
	}
	return m
}

// updateAll sends updates (Collections, or Bulk above the threshold).
// Updates are idempotent: a rerun reads the org and sends what is left.
func (e *engine) updateAll(os *objSet, ups []*change, action string) error {
	if len(ups) == 0 {
		return nil
	}
	op := e.oplan(os.name)
	e.progress("%s: updating %d records", os.name, len(ups))
	bulk := len(ups) > e.opts.BulkThreshold
	if bulk {
		op.Via = "bulk"
	}
	per := sfapi.MaxCollection
	if bulk {
		per = bulkBatch
	}
	var retry []*change
	for start := 0; start < len(ups); start += per {
		batch := ups[start:min(start+per, len(ups))]
		if err := e.brake(); err != nil {
			return err
		}
		errs := make([][2]string, len(batch))
		okay := make([]bool, len(batch))
		if bulk {
			names := unionFields(batch)
			res, err := e.bulkUpdate(os, names, batch)
			if err != nil {
				return err
			}
			byID := map[string]int{}
			for i, ch := range batch {
				byID[ch.target] = i
			}
			for _, r := range res.Successful {
				if i, ok := byID[r.ID]; ok {
					okay[i] = true
				}
			}
			for _, r := range res.Failed {
				if i, ok := byID[r.ID]; ok {
					code, msg, _ := strings.Cut(r.Error, ":")
					errs[i] = [2]string{code, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "--"))}
				}
			}
		} else {
			recs := make([]sfapi.Fields, len(batch))
			for i, ch := range batch {
				recs[i] = apiFields(ch.sent)
				recs[i]["Id"] = ch.target
			}
			res, err := e.org.UpdateRecords(e.ctx, os.name, recs, sfapi.CollectionOptions{AllowDuplicates: e.opts.AllowDuplicates})
			if err != nil {
				return fmt.Errorf("update %s: %w", os.name, err)
			}
			for i, r := range res {
				okay[i] = r.Success
				if !r.Success {
					errs[i][0], errs[i][1] = saveErrOf(r.Errors)
				}
			}
		}
		for i, ch := range batch {
			if okay[i] {
				if action == "update" {
					op.Update++
					for _, f := range ch.fields {
						op.count(&op.UpdateFields, f)
					}
				}
				e.result(Result{Object: os.name, OldID: ch.it.old, NewID: ch.target, Action: action, Status: "ok", Fields: ch.fields})
				continue
			}
			code, msg := errs[i][0], errs[i][1]
			if code == "" {
				code, msg = "NOT_PROCESSED", "Salesforce returned no result for this record"
			}
			if e.toFallbackOwner(os, ch, code) {
				retry = append(retry, ch)
				continue
			}
			e.result(Result{Object: os.name, OldID: ch.it.old, NewID: ch.target, Action: action, Status: "failed", Fields: ch.fields, Error: code, Message: msg})
		}
	}
	if len(retry) > 0 {
		return e.updateAll(os, retry, action)
	}
	return nil
}

func (e *engine) bulkUpdate(os *objSet, names []string, batch []*change) (*sfapi.IngestResults, error) {
	job, err := e.org.CreateIngestJob(e.ctx, sfapi.IngestJobSpec{Object: os.name, Operation: "update", LineEnding: "LF"})
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", os.name, err)
	}
	res, err := e.runIngest(job.ID, csvOf(os, names, batch, "Id", false))
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", os.name, err)
	}
	return res, nil
}

func unionFields(batch []*change) []string {
	seen := map[string]bool{}
	var out []string
	for _, ch := range batch {
		for _, f := range ch.sent {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// secondPass sets the references that pointed to records inserted later
// than the record holding them (self-lookups, cycles).
func (e *engine) secondPass() error {
	for _, name := range e.order {
		defs := e.deferred[name]
		if len(defs) == 0 {
			continue
		}
		os := e.sets[name]
		op := e.oplan(name)
		var ups []*change
		for _, d := range defs {
			t, ok := e.idmap[d.it.old]
			if !ok {
				continue
			}
			ch := &change{it: d.it, target: t}
			for _, f := range d.fields {
				v, _ := d.it.rec.Get(f)
				df := os.desc.Field(f)
				nv, st := e.resolve(df, v.Value)
				switch st {
				case refMapped, refSame:
					ch.sent = append(ch.sent, record.Field{Name: df.Name, Kind: record.String, Value: nv})
					ch.fields = append(ch.fields, df.Name)
					op.count(&op.Deferred, df.Name)
					e.plan.SecondPass++
				default:
					op.count(&op.Skipped, "lookup to a record that failed, left empty: "+df.Name)
				}
			}
			if len(ch.sent) > 0 {
				ups = append(ups, ch)
			}
		}
		if err := e.updateAll(os, ups, "relink"); err != nil {
			return err
		}
	}
	return nil
}
