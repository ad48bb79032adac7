package backup

// End-to-end robustness of the engine against the emulator (issue 4's
// acceptance): after any mix of creates, updates, soft and hard deletes,
// undeletes, late commits and schema changes, the latest snapshot equals
// the org record for record and field for field — with injected faults
// (TestFaults), and after kill -9 at random points followed by a resumed
// run (TestKill9).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// ---- a synthetic chain ----

// lateObjects are objects late commits update (through Description).
var lateObjects = []string{"Account", "Contact", "Case", "Opportunity", "Lead"}

// liveIDs lists the Ids of an object's live records (not in the bin).
func liveIDs(t *testing.T, o *sftest.Org, object string) []string {
	t.Helper()
	var ids []string
	err := o.Records(object, func(x sftest.Record) bool {
		if !x.Deleted {
			ids = append(ids, x.ID)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// binIDs lists the records in the Recycle Bin, over every object.
func binIDs(t *testing.T, o *sftest.Org) []string {
	t.Helper()
	var ids []string
	for _, n := range o.Objects() {
		err := o.Records(n, func(x sftest.Record) bool {
			if x.Deleted {
				ids = append(ids, x.ID)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// dayStats is what the test did to the org on top of Churn.
type dayStats struct {
	churn                     sftest.ChurnStats
	late, undeleted, purged   int
	fieldAdded, fieldUpdated  int
	hiddenDeletes, reconciled bool
	// schema: objects given a new field today.
	schema map[string]bool
}

// dayOfChanges applies one seeded day to the org behind e: a Churn, then
// late commits stamped inside the overlap window before last's high-water
// marks, undeletes of records deleted before last, purges of live and
// binned records, and (when addField) a new field set on a few records.
func dayOfChanges(t *testing.T, e *env, rng *rand.Rand, day int, last *repo.Snapshot, addField bool, newFields int) dayStats {
	t.Helper()
	o := e.srv.Org
	var ds dayStats
	// Recorded before today's churn: records deleted in an earlier snapshot.
	bin := binIDs(t, o)
	ds.churn = o.Churn(sftest.ChurnOptions{Seed: rng.Int64(), Rate: 0.01 + 0.02*rng.Float64(), NewFields: newFields})
	ds.schema = map[string]bool{}
	for _, f := range ds.churn.NewFields {
		ds.schema[strings.Split(f, ".")[0]] = true
	}

	// Late commits: a transaction that began inside the overlap window
	// before the object's high-water mark commits now, stamped then.
	overlap := 10 * time.Minute // Options.Overlap's default
	for k := 0; k < 6; k++ {
		obj := pick(rng, lateObjects)
		hw, err := time.Parse(time.RFC3339Nano, last.Objects[obj].HighWater)
		if err != nil {
			t.Fatalf("%s: high-water mark %q: %v", obj, last.Objects[obj].HighWater, err)
		}
		at := hw.Add(-time.Duration(1+rng.IntN(int(overlap/time.Second)-61)) * time.Second)
		id := pick(rng, liveIDs(t, o, obj))
		if err := o.LateCommit(id, map[string]any{"Description": fmt.Sprintf("late commit, day %d #%d", day, k)}, at); err != nil {
			t.Fatalf("late commit of %s: %v", id, err)
		}
		ds.late++
	}
	// Undeletes of records an earlier snapshot saw deleted.
	rng.Shuffle(len(bin), func(i, j int) { bin[i], bin[j] = bin[j], bin[i] })
	for _, id := range bin {
		if ds.undeleted == 3 {
			break
		}
		if x, ok := o.Get(id); !ok || !x.Deleted {
			continue // purged or restored by today's churn
		}
		if err := o.Undelete(id); err == nil {
			ds.undeleted++
		}
	}
	// Hard deletes: live records, and one from the bin.
	for k := 0; k < 3; k++ {
		id := pick(rng, liveIDs(t, o, pick(rng, churnNames)))
		if err := o.Purge(id); err != nil {
			t.Fatalf("purge %s: %v", id, err)
		}
		ds.purged++
	}
	if bin := binIDs(t, o); len(bin) > 0 {
		if err := o.Purge(pick(rng, bin)); err != nil {
			t.Fatal(err)
		}
		ds.purged++
	}
	// A schema change, with values in the new field.
	if addField {
		obj := pick(rng, lateObjects)
		name := fmt.Sprintf("Robust_Day%d__c", day)
		if err := o.AddField(obj, name, "string", 40); err != nil {
			t.Fatal(err)
		}
		ds.fieldAdded++
		ds.schema[obj] = true
		ids := liveIDs(t, o, obj)
		for k := 0; k < 5; k++ {
			if err := o.Update(pick(rng, ids), map[string]any{name: fmt.Sprintf("v%d", k)}); err != nil {
				t.Fatal(err)
			}
			ds.fieldUpdated++
		}
	}
	// The snapshot starts a couple of minutes after the last write.
	// getDeleted works to the minute (Salesforce ignores seconds) and
	// cannot reach past now, so a hard delete in the minute a run starts
	// shows only in the next snapshot (whose window starts an overlap
	// before this one's high-water mark, so it does show).
	o.Advance(2 * time.Minute)
	return ds
}

// churnNames are objects purges pick from (a purged parent takes its
// master-detail children along: the snapshot must follow that too).
var churnNames = []string{"Account", "Contact", "Lead", "Case", "Task", "Opportunity", "Invoice__c", "Note"}

// recordChanges counts, per object, the record changes repo.Diff reports
// from parent to s: [added, changed, deleted].
func (e *env) recordChanges(parent, s *repo.Snapshot) map[string][3]uint64 {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	out := map[string][3]uint64{}
	err := r.Diff(bg, parent, s, func(c repo.Change) error {
		if c.What != "record" {
			return nil
		}
		n := out[c.Object]
		n[c.Kind-1]++
		out[c.Object] = n
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// checkStats asserts that s's per-object Added, Changed and Deleted are
// what a diff against its parent reports, and returns the totals, over
// all objects and over those not in skip.
func (e *env) checkStats(parent, s *repo.Snapshot, skip map[string]bool) (tot, rest [3]uint64) {
	e.t.Helper()
	diff := e.recordChanges(parent, s)
	names := map[string]bool{}
	for n := range diff {
		names[n] = true
	}
	for n := range s.Objects {
		names[n] = true
	}
	for n := range names {
		st, ok := s.Objects[n]
		got := [3]uint64{st.Added, st.Changed, st.Deleted}
		want := diff[n]
		if !ok && want[0]+want[1] > 0 {
			e.t.Errorf("%s: the diff adds or changes records of an object the snapshot lacks: %v", n, want)
		}
		if ok && got != want {
			e.t.Errorf("%s: snapshot counts added/changed/deleted %v, the diff against the parent %v", n, got, want)
		}
		for k := range tot {
			tot[k] += want[k]
			if !skip[n] {
				rest[k] += want[k]
			}
		}
	}
	return tot, rest
}

// hideDeleted is the org seen through a getDeleted that reports nothing
// (as when the deleted-records log lost entries): only an Id
// reconciliation can find hard deletes.
type hideDeleted struct{ Source }

func (h hideDeleted) GetDeleted(ctx context.Context, object string, start, end time.Time) (*sfapi.DeletedResult, error) {
	res, err := h.Source.GetDeleted(ctx, object, start, end)
	if err != nil {
		return nil, err
	}
	res.Records = nil
	return res, nil
}

// chain runs a full snapshot then days of changes (dayOfChanges), each
// followed by a synthetic snapshot that must equal the org and count the
// changes a diff finds. Day 2 adds a field through AddField, days 4 and on
// through Churn; day 3 reconciles with getDeleted blinded (its hard deletes
// are visible only to the Id scan).
func chain(t *testing.T, e *env, rows *rowCounter, seed uint64, days int, base Options) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	res := e.mustRun(base)
	if res.Snapshot.Kind != repo.KindFull {
		t.Fatalf("first run: kind %s", res.Snapshot.Kind)
	}
	e.verify(res.Snapshot)
	if tot, _ := e.checkStats(nil, res.Snapshot, nil); tot[0] != res.Snapshot.Records() || tot[1]+tot[2] != 0 {
		t.Errorf("full snapshot of %d records counts %v", res.Snapshot.Records(), tot)
	}
	last := res.Snapshot
	undeleted := 0
	defer func() {
		if !t.Failed() && days >= 3 && undeleted == 0 {
			t.Error("no record deleted in an earlier snapshot was undeleted")
		}
	}()
	for day := 1; day <= days; day++ {
		ds := dayOfChanges(t, e, rng, day, last, day == 2, day/4)
		undeleted += ds.undeleted
		opts := base
		var src Source = e.client
		if day == 3 {
			opts.Reconcile, ds.reconciled = true, true
			src, ds.hiddenDeletes = hideDeleted{e.client}, true
		}
		rows.n.Store(0)
		res, err := e.runSrc(src, opts)
		if err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		served := rows.n.Load()
		s := res.Snapshot
		if s.Kind != repo.KindSynthetic || s.Parent == nil || *s.Parent != last.ID {
			t.Fatalf("day %d: kind %s, parent %v, want synthetic on %s", day, s.Kind, s.Parent, last.ID.Short())
		}
		t.Logf("day %d: churn %+v, late %d, undeleted %d, purged %d, field %d/%d, reconcile %v", day,
			ds.churn, ds.late, ds.undeleted, ds.purged, ds.fieldAdded, ds.fieldUpdated, ds.reconciled)
		e.verify(s)
		tot, rest := e.checkStats(last, s, ds.schema)
		t.Logf("day %d: added %d changed %d deleted %d, fetched %d rows (%d served, Ids included) of %d records",
			day, tot[0], tot[1], tot[2], res.Fetched, served, s.Records())
		if res.Added != tot[0] || res.Changed != tot[1] || res.Deleted != tot[2] {
			t.Errorf("day %d: result counts %d/%d/%d, the diff %v", day, res.Added, res.Changed, res.Deleted, tot)
		}
		// Plausibility against what was done: every kind of change shows
		// (a create, an undelete or a purge of something new to the tree
		// cannot all cancel out over a day), and no more changes than the
		// org saw writes (each write touches one record, cascades aside),
		// except on objects given a new field: their records all gain it
		// (null), so each one counts as changed.
		c := ds.churn
		if c.Created+ds.undeleted > 0 && tot[0] == 0 {
			t.Errorf("day %d: %d creates and %d undeletes, no record added", day, c.Created, ds.undeleted)
		}
		if c.Updated+ds.late > 0 && tot[1] == 0 {
			t.Errorf("day %d: %d updates and %d late commits, no record changed", day, c.Updated, ds.late)
		}
		if c.Deleted+ds.purged > 0 && tot[2] == 0 {
			t.Errorf("day %d: %d deletes and %d purges, no record deleted", day, c.Deleted, ds.purged)
		}
		writes := c.Created + c.Updated + c.Deleted + c.Undeleted + c.Purged + c.BinEmptied + ds.late + ds.undeleted + ds.purged + ds.fieldUpdated
		if n := rest[0] + rest[1] + rest[2]; n > uint64(4*writes) {
			t.Errorf("day %d: %d record changes for %d writes", day, n, writes)
		}
		for n := range ds.schema {
			if st := s.Objects[n]; st.Added+st.Changed+st.Deleted > st.Records+st.Deleted {
				t.Errorf("day %d: %s after a schema change: %+v", day, n, st)
			}
		}
		// Without a schema change or a reconciliation (none is due within
		// a week of the full snapshot, which proved the Ids), a synthetic
		// run reads what changed, not the org.
		if served >= int64(s.Records())/4 && len(ds.schema) == 0 && !ds.reconciled {
			t.Errorf("day %d: synthetic run read %d rows (%d records fetched) of %d records", day, served, res.Fetched, s.Records())
		}
		last = s
	}
}

// TestSyntheticChain: several days of every kind of change, each followed
// by a synthetic snapshot that equals the org, with stats that equal the
// diff against the parent.
func TestSyntheticChain(t *testing.T) {
	e, rows := newCountingEnv(t, sftest.Options{Seed: 21, Records: 4000})
	chain(t, e, rows, 21, 5, Options{})
}

// TestFaults: the chain again with 5% of API requests failing (every kind
// sftest injects: 5xx, cut connections, slow answers, query timeouts,
// expired sessions, failed Bulk jobs, limit errors), for a few fault
// sequences. The client retries; every snapshot must still equal the org.
// The last sequence reads changes through Bulk (queryAll jobs) rather than
// REST, and large objects in several Id ranges: more jobs to fail.
func TestFaults(t *testing.T) {
	for _, fs := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(fs), func(t *testing.T) {
			e, rows := newCountingEnv(t, sftest.Options{Seed: 30 + fs, Records: 3000,
				Faults: sftest.FaultOptions{Rate: 0.05, Seed: fs, SlowDelay: 2 * time.Millisecond}})
			var opts Options
			if fs == 3 {
				opts = Options{BulkThreshold: 1, ChunkRecords: 150}
			}
			chain(t, e, rows, uint64(fs), 3, opts)
			counts := e.srv.Org.FaultCounts()
			n := 0
			for _, c := range counts {
				n += c
			}
			t.Logf("faults injected: %v", counts)
			if n < 10 {
				t.Fatalf("only %d faults injected: the test proves little", n)
			}
		})
	}
}

// ---- kill -9 ----

// killEnv carries a killSpec to the child process of TestKill9.
const killEnv = "ORGSNAP_TEST_KILL_CHILD"

// killSpec is what a child run does: a snapshot of the emulator at URL
// into the repository at Dir, moving Ref.
type killSpec struct {
	URL string    `json:"url"`
	Dir string    `json:"dir"`
	Ref string    `json:"ref"`
	Now time.Time `json:"now"` // the org's clock, still while nothing writes
}

// killOptions make checkpoints frequent (every few ms, between objects and
// between the Id ranges of a large one), so kills land before, between and
// after them. The engine's clock starts at the org's time and moves with
// the wall clock (checkpoints are due by it).
func killOptions(ref string, now time.Time) Options {
	start := time.Now()
	return Options{Ref: ref, ChunkRecords: 150, CheckpointEvery: 3 * time.Millisecond,
		Parallel: Parallelism{Bulk: 2, REST: 2}, Now: func() time.Time { return now.Add(time.Since(start)) }}
}

// fixedClock is the org's clock in a child process: the org is quiet
// during a run, so its time does not move.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
func (c fixedClock) Sleep(ctx context.Context, d time.Duration) error {
	return sftest.ClientClock{MaxSleep: time.Millisecond}.Sleep(ctx, d)
}

// childResult is what a child that finished prints.
type childResult struct {
	Snapshot string `json:"snapshot"`
	Fetched  int64  `json:"fetched"`
	Resumed  bool   `json:"resumed"`
}

const childMark = "KILL-CHILD-RESULT "

// TestKillHelper is the child process of TestKill9 (skipped otherwise).
func TestKillHelper(t *testing.T) {
	raw := os.Getenv(killEnv)
	if raw == "" {
		t.Skip("the child process of TestKill9")
	}
	var s killSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	c := clientFor(t, s.URL, fixedClock{s.Now})
	r, err := repo.Open(bg, s.Dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	opts := killOptions(s.Ref, s.Now)
	opts.Logger = stampLogger{time.Now()}
	res, err := Run(bg, r, c, opts)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(childResult{res.Snapshot.ID.String(), res.Fetched, res.Resumed})
	fmt.Println(childMark + string(out))
}

// stampLogger prints the engine's log lines with the time since start.
type stampLogger struct{ start time.Time }

func (l stampLogger) Info(msg string, args ...any) {
	fmt.Println(append([]any{time.Since(l.start).Round(time.Millisecond), msg}, args...)...)
}
func (l stampLogger) Warn(msg string, args ...any) { l.Info("WARN "+msg, args...) }

// child is a started child process.
type child struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startChild(t *testing.T, s killSpec) *child {
	t.Helper()
	raw, _ := json.Marshal(s)
	c := &child{done: make(chan error, 1)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.v", "-test.count=1")
	c.cmd.Env = append(os.Environ(), killEnv+"="+string(raw))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c
}

// result parses what a child that exited cleanly printed.
func (c *child) result(t *testing.T) childResult {
	t.Helper()
	out := c.out.String()
	i := strings.Index(out, childMark)
	if i < 0 {
		t.Fatalf("child printed no result:\n%s", out)
	}
	var res childResult
	if err := json.Unmarshal([]byte(strings.SplitN(out[i+len(childMark):], "\n", 2)[0]), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// runChild runs a child to the end.
func runChild(t *testing.T, s killSpec) childResult {
	t.Helper()
	c := startChild(t, s)
	if err := <-c.done; err != nil {
		t.Fatalf("child run: %v\n%s", err, c.out.String())
	}
	return c.result(t)
}

// rowCounter counts the rows the emulator serves: REST query pages
// (query, queryAll, queryMore) and Bulk result pages. Server-side, so the
// rows fetched by a process killed half-way count too.
type rowCounter struct{ n atomic.Int64 }

var queryPath = regexp.MustCompile(`(?i)^/services/data/v[0-9.]+/query(all)?(/|$)`)

func (rc *rowCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case queryPath.MatchString(p):
			tw := &teeWriter{ResponseWriter: w}
			h.ServeHTTP(tw, r)
			var page struct {
				Records []json.RawMessage `json:"records"`
			}
			if json.Unmarshal(tw.buf.Bytes(), &page) == nil {
				rc.n.Add(int64(len(page.Records)))
			}
		case strings.Contains(p, "/jobs/query/") && strings.HasSuffix(p, "/results"):
			h.ServeHTTP(w, r)
			n, _ := strconv.ParseInt(w.Header().Get("Sforce-NumberOfRecords"), 10, 64)
			rc.n.Add(n)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

// Flush and Hijack keep sftest's faults working through the wrapper (a
// cut connection is a hijacked one).
func (w *teeWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }
func (w *teeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

// newCountingEnv is newEnv with the rows the emulator serves counted.
func newCountingEnv(t *testing.T, opts sftest.Options) (*env, *rowCounter) {
	t.Helper()
	org := sftest.NewOrg(opts)
	rows := new(rowCounter)
	hs := httptest.NewServer(rows.wrap(org.Handler()))
	t.Cleanup(hs.Close)
	return newEnvServer(t, &sftest.Server{URL: hs.URL, Token: org.Token(), Org: org}), rows
}

// initRepo makes an empty repository.
func initRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r, err := repo.Init(bg, dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return dir
}

// check runs repo.Check (structure, and with readData every pack byte).
func (e *env) check(readData bool) *repo.CheckReport {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	rep, err := r.Check(bg, readData, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.OK() {
		e.t.Fatalf("check (read data %v): %+v", readData, rep.Problems)
	}
	return rep
}

// refSnapshot loads the snapshot a ref names (nil if none).
func (e *env) refSnapshot(ref string) *repo.Snapshot {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	id, _, err := r.Ref(bg, ref)
	if errors.Is(err, repo.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := r.LoadSnapshot(bg, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// resumePoint is the checkpoint the next run for ref resumes (nil if none).
func (e *env) resumePoint(ref string) (*repo.Snapshot, *runState) {
	e.t.Helper()
	parent := e.refSnapshot(ref)
	r := e.open()
	defer r.Close()
	ckpt, st, err := findCheckpoint(bg, r, ref, parent)
	if err != nil {
		e.t.Fatal(err)
	}
	return ckpt, st
}

// rootOf is the tree of the snapshot id names (zero for none).
func (e *env) rootOf(id *crypto.ID) crypto.ID {
	e.t.Helper()
	if id == nil {
		return crypto.ID{}
	}
	r := e.open()
	defer r.Close()
	s, err := r.LoadSnapshot(bg, *id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Root
}

// TestKill9: a snapshot run is killed with SIGKILL at random points, again
// and again, each kill resumed by the next run; then one runs to the end.
// The repository checks clean after every kill, the snapshot equals the
// org, and its tree is the one an uninterrupted run of the same org makes
// (run afterwards in the same repository under another ref, so that trees
// compare). First for a full snapshot, then for a synthetic one after a
// day of changes with a schema change. The children are this test binary
// re-executed (TestKillHelper) against the emulator served by this
// process.
func TestKill9(t *testing.T) {
	e, rows := newCountingEnv(t, sftest.Options{Seed: 41, Records: 4000})
	org := e.srv.Org
	scratch := initRepo(t) // for timing runs
	rng := rand.New(rand.NewPCG(41, 9))

	phase := func(name string) {
		now := org.Now()
		spec := killSpec{URL: e.srv.URL, Dir: e.dir, Ref: "main", Now: now}
		parent := e.refSnapshot("main")

		// How long an uninterrupted run takes, process start included,
		// and how many rows it reads: the same run into another
		// repository (which, like this one, holds the previous phase).
		rows.n.Store(0)
		t0 := time.Now()
		timing := runChild(t, killSpec{URL: e.srv.URL, Dir: scratch, Ref: "main", Now: now})
		took, oneRun := time.Since(t0), rows.n.Load()
		t.Logf("%s: an uninterrupted run takes %v and reads %d rows", name, took.Round(time.Millisecond), oneRun)

		// Kills at random points from 50 ms to the time a whole run
		// takes, in increasing order: each run resumes the last and is
		// let run longer, until one finishes before its kill.
		rows.n.Store(0)
		delays := make([]time.Duration, 6)
		for k := range delays {
			delays[k] = 50*time.Millisecond + time.Duration(rng.Float64()*float64(took-50*time.Millisecond))
		}
		slices.Sort(delays)
		// The run that finishes, a child or the one below, reads at most
		// what the checkpoint it resumed had not stored.
		checkResume := func(who string, fetched int64, resumed bool, ckpt *repo.Snapshot, st *runState) {
			t.Logf("%s: %s fetched %d rows, resumed %v", name, who, fetched, resumed)
			if ckpt != nil != resumed {
				t.Errorf("%s: %s: a checkpoint to resume: %v, resumed: %v", name, who, ckpt != nil, resumed)
			}
			if ckpt == nil || st.Kind != repo.KindFull {
				return
			}
			var done uint64
			for n, o := range st.Objects {
				if o.Done {
					done += ckpt.Objects[n].Records
				}
			}
			if fetched > timing.Fetched-int64(done) {
				t.Errorf("%s: %s fetched %d rows; the checkpoint held %d records of finished objects, a whole run fetches %d",
					name, who, fetched, done, timing.Fetched)
			}
		}
		runs, kills := 0, 0
		for _, delay := range delays {
			ckpt, st := e.resumePoint("main")
			c := startChild(t, spec)
			runs++
			var err error
			select {
			case err = <-c.done:
			case <-time.After(delay):
				if kerr := c.cmd.Process.Signal(syscall.SIGKILL); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
					t.Fatal(kerr)
				}
				err = <-c.done
			}
			if err == nil {
				t.Logf("%s: run %d finished before its kill at %v", name, runs, delay.Round(time.Millisecond))
				cr := c.result(t)
				checkResume(fmt.Sprintf("run %d", runs), cr.Fetched, cr.Resumed, ckpt, st)
				break // the snapshot is taken; the run below makes another, on it
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: child run failed: %v\n%s", name, err, c.out.String())
			}
			kills++
			t.Logf("%s: run %d killed at %v", name, runs, delay.Round(time.Millisecond))
			// Whatever the kill interrupted, the repository is sound.
			e.check(false)
		}
		t.Logf("%s: %d kills in %d runs", name, kills, runs)
		if name == "full" && kills == 0 {
			t.Fatalf("%s: no kill landed during a run", name)
		}

		// A last run, in this process: it resumes the last kill's
		// checkpoint, or (when a child finished) makes another snapshot
		// on the one that child made, of the same tree.
		ckpt, st := e.resumePoint("main")
		r := e.open()
		res, err := Run(bg, r, e.client, killOptions("main", now))
		r.Close()
		if err != nil {
			t.Fatalf("%s: final run: %v", name, err)
		}
		runs++
		checkResume("the last run", res.Fetched, res.Resumed, ckpt, st)
		// Resumed runs skip what is stored: all the runs together read
		// fewer rows than as many whole runs would.
		served := rows.n.Load()
		t.Logf("%s: the %d runs read %d rows (one uninterrupted run: %d)", name, runs, served, oneRun)
		if served >= int64(runs)*oneRun {
			t.Errorf("%s: %d runs read %d rows, as many as %d whole runs", name, runs, served, runs)
		}

		got := res.Snapshot
		if s := e.refSnapshot("main"); s == nil || s.ID != got.ID {
			t.Fatalf("%s: ref main does not name the final snapshot", name)
		}
		if parent != nil && (got.Kind != repo.KindSynthetic || got.Parent == nil) {
			t.Fatalf("%s: snapshot %s is %s, not synthetic on %s", name, got.ID.Short(), got.Kind, parent.ID.Short())
		}
		rep := e.check(true)
		t.Logf("%s: check: %d snapshots, %d packs, %d blobs, %d unreferenced", name, rep.Snapshots, rep.Packs, rep.Blobs, rep.Unreferenced)
		e.verify(got)

		// The uninterrupted run, in this repository under another ref.
		r = e.open()
		want, err := Run(bg, r, e.client, killOptions("straight", now))
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want.Snapshot.Root != got.Root {
			t.Fatalf("%s: the killed and resumed snapshot's tree %s differs from an uninterrupted run's %s",
				name, got.Root.Short(), want.Snapshot.Root.Short())
		}
		// Added, changed and deleted count against the parent: they agree
		// when the parents hold the same tree (they do not when a killed
		// run had already committed, and the final run made a second
		// snapshot on it).
		sameParent := e.rootOf(got.Parent) == e.rootOf(want.Snapshot.Parent)
		for n, st := range want.Snapshot.Objects {
			g := got.Objects[n]
			if !sameParent {
				g.Added, g.Changed, g.Deleted = st.Added, st.Changed, st.Deleted
			}
			if g != st {
				t.Errorf("%s: %s: %+v, uninterrupted %+v", name, n, got.Objects[n], st)
			}
		}
		if len(got.Objects) != len(want.Snapshot.Objects) {
			t.Errorf("%s: %d objects, uninterrupted %d", name, len(got.Objects), len(want.Snapshot.Objects))
		}
	}

	phase("full")
	last := e.refSnapshot("main")
	ds := dayOfChanges(t, e, rng, 1, last, true, 1)
	t.Logf("changes: %+v", ds)
	phase("synthetic")
}
