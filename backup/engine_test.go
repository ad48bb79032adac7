package backup

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/internal/orgtest"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var bg = context.Background()

// env is an emulated org and a repository.
type env struct {
	t      testing.TB
	srv    *sftest.Server
	client *sfapi.Client
	dir    string
	now    time.Time
}

func newEnv(t testing.TB, opts sftest.Options) *env {
	t.Helper()
	srv := sftest.NewServer(opts)
	t.Cleanup(srv.Close)
	return newEnvServer(t, srv)
}

// newEnvServer is newEnv for an org already served.
func newEnvServer(t testing.TB, srv *sftest.Server) *env {
	t.Helper()
	return &env{t: t, srv: srv, client: newClient(t, srv), dir: orgtest.NewRepo(t), now: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)}
}

// newClient connects to the emulator as a new process would.
func newClient(t testing.TB, srv *sftest.Server) *sfapi.Client { return orgtest.OrgClient(t, srv) }

// clientFor connects to the emulator at url with the given clock.
func clientFor(t testing.TB, url string, clock sfapi.Clock) *sfapi.Client {
	return orgtest.Client(t, url, clock)
}

func (e *env) open() *repo.Repository { return orgtest.Open(e.t, e.dir) }

// run takes a snapshot; each run's time is a day after the last.
func (e *env) run(opts Options) (*Result, error) { return e.runSrc(e.client, opts) }

// runSrc is run reading the org through src.
func (e *env) runSrc(src Source, opts Options) (*Result, error) {
	r := e.open()
	defer r.Close()
	e.now = e.now.Add(24 * time.Hour)
	at := e.now
	if opts.Now == nil {
		opts.Now = func() time.Time { return at }
	}
	return Run(bg, r, src, opts)
}

func (e *env) mustRun(opts Options) *Result {
	e.t.Helper()
	res, err := e.run(opts)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	return res
}

// verify asserts that snapshot s holds exactly the org's current state:
// every object, record and field, and a file for every record with a body.
func (e *env) verify(s *repo.Snapshot) {
	t := e.t
	t.Helper()
	r := e.open()
	defer r.Close()
	eng := &engine{opts: Options{}}
	eng.opts.setDefaults()
	objs, err := r.Objects(bg, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("snapshot holds no objects")
	}
	checked := 0
	for _, o := range objs {
		if o.Name == MetadataObject {
			continue // no describe: metadata_test.go checks it
		}
		d, err := e.client.Describe(bg, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := eng.planObject(d)
		if err != nil {
			t.Fatal(err)
		}
		type rec struct {
			id string
			r  record.Record
		}
		var want []rec
		var convErr error
		err = e.srv.Org.Records(o.Name, func(x sftest.Record) bool {
			if x.Deleted {
				return true
			}
			v, err := p.canon.FromValues(x.ID, x.Fields, nil)
			if err != nil {
				convErr = err
				return false
			}
			want = append(want, rec{x.ID, v})
			return true
		})
		if err != nil || convErr != nil {
			t.Fatal(err, convErr)
		}
		i := 0
		err = r.EachRecord(bg, s, o.Name, "", func(id string, got record.Record) error {
			if i >= len(want) {
				return fmt.Errorf("%s: snapshot has extra record %s", o.Name, id)
			}
			w := want[i]
			if w.id < id {
				return fmt.Errorf("%s: snapshot lacks record %s", o.Name, w.id)
			}
			if w.id > id {
				return fmt.Errorf("%s: snapshot has extra record %s", o.Name, id)
			}
			if !reflect.DeepEqual(w.r, got) {
				g, _ := got.MarshalJSON()
				wj, _ := w.r.MarshalJSON()
				return fmt.Errorf("%s %s differs:\n got  %s\n want %s", o.Name, id, g, wj)
			}
			i++
			return nil
		})
		if err == nil && i < len(want) {
			err = fmt.Errorf("%s: snapshot lacks %d records, first %s", o.Name, len(want)-i, want[i].id)
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Objects[o.Name].Records != uint64(len(want)) {
			t.Fatalf("%s: snapshot counts %d records, holds %d", o.Name, s.Objects[o.Name].Records, len(want))
		}
		if p.file != nil {
			files := 0
			err := r.EachFile(bg, s, o.Name, func(id string, f crypto.ID) error {
				files++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			bodies := 0
			for _, w := range want {
				if p.file.size == "" || (fieldValue(w.r, p.file.size) != "" && fieldValue(w.r, p.file.size) != "0") {
					bodies++
				}
			}
			if files != bodies {
				t.Fatalf("%s: %d files for %d records with a body", o.Name, files, bodies)
			}
		}
		checked += len(want)
	}
	t.Logf("verified %d objects, %d records", len(objs), checked)
}

func TestFullThenSynthetic(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 11, Records: 4000})
	res := e.mustRun(Options{})
	if res.Snapshot.Kind != repo.KindFull || res.Ref != "main" {
		t.Fatalf("first run: kind %s ref %q", res.Snapshot.Kind, res.Ref)
	}
	if res.Files.Downloaded == 0 {
		t.Fatal("no file body downloaded")
	}
	e.verify(res.Snapshot)

	// A day of changes: creates, updates, soft and hard deletes,
	// undeletes, and a schema change.
	cs := e.srv.Org.Churn(sftest.ChurnOptions{Seed: 3, Rate: 0.02, NewFields: 1})
	t.Logf("churn: %+v", cs)
	res2 := e.mustRun(Options{})
	if res2.Snapshot.Kind != repo.KindSynthetic || *res2.Snapshot.Parent != res.Snapshot.ID {
		t.Fatalf("second run: kind %s", res2.Snapshot.Kind)
	}
	e.verify(res2.Snapshot)
	if res2.Fetched >= res.Fetched/2 {
		t.Errorf("synthetic run fetched %d rows, the full one %d", res2.Fetched, res.Fetched)
	}
	if res2.Files.Downloaded >= res.Files.Downloaded {
		t.Errorf("synthetic run downloaded %d files, the full one %d", res2.Files.Downloaded, res.Files.Downloaded)
	}

	// A full snapshot of an unchanged org downloads no file, holds what
	// the synthetic one holds, and a second one writes nothing at all.
	res3 := e.mustRun(Options{Full: true})
	if res3.Files.Downloaded != 0 {
		t.Errorf("full run of an unchanged org downloaded %d files", res3.Files.Downloaded)
	}
	if n := res3.Added + res3.Changed + res3.Deleted; n != 0 {
		t.Errorf("full run of an unchanged org counts %d changes", n)
	}
	r := e.open()
	changes := 0
	if err := r.Diff(bg, res2.Snapshot, res3.Snapshot, func(c repo.Change) error { changes++; return nil }); err != nil {
		t.Fatal(err)
	}
	packs := len(r.Index().Packs())
	r.Close()
	if changes != 0 {
		t.Errorf("full run of an unchanged org differs from the synthetic one in %d places", changes)
	}
	res4 := e.mustRun(Options{Full: true})
	r = e.open()
	newPacks := len(r.Index().Packs()) - packs
	r.Close()
	if res4.Snapshot.Root != res3.Snapshot.Root || newPacks > 1 { // the root tree's one pack: the snapshot time differs
		t.Errorf("a second full run of an unchanged org wrote %d packs (root %s vs %s)", newPacks, res4.Snapshot.Root.Short(), res3.Snapshot.Root.Short())
	}
}

// TestResumeAfterStop: a run stopped half-way by the API budget brake
// saves a checkpoint; the next run fetches only the rest and commits the
// snapshot one uninterrupted run commits. Small chunks and a checkpoint
// after each make the stop land inside a large object too.
func TestResumeAfterStop(t *testing.T) {
	for _, limit := range []int64{60, 90, 140} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			org := sftest.Options{Seed: 5, Records: 6000}
			a := newEnv(t, org)
			opts := Options{ChunkRecords: 300, Parallel: Parallelism{Bulk: 2, REST: 2}}
			want := a.mustRun(opts)

			// b: the same org (same seed) backed up into the same
			// repository (so that trees compare), under another ref.
			org.APIDailyLimit = limit
			b := *a
			b.srv = sftest.NewServer(org)
			defer b.srv.Close()
			b.client = newClient(t, b.srv)
			b.now = a.now.Add(-24 * time.Hour)
			opts.Ref = "b"
			opts.CheckpointEvery = time.Nanosecond
			_, err := b.run(opts)
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("run with a spent budget: %v", err)
			}
			// Runs resume until one finishes: with a tight allocation each
			// stops again, so checkpoints are resumed from checkpoints.
			var res *Result
			runs := 1
			for res == nil {
				if runs > 30 {
					t.Fatal("no progress: 30 runs did not finish the snapshot")
				}
				b.srv.Org.ResetAPIUsage()
				if limit < 100 {
					b.srv.Org.SetAPIDailyLimit(100000)
				}
				b.client = newClient(t, b.srv)
				b.now = b.now.Add(-24 * time.Hour) // the same run, later
				res, err = b.run(opts)
				runs++
				if err != nil && !errors.Is(err, ErrStopped) {
					t.Fatal(err)
				}
			}
			t.Logf("%d runs", runs)
			if !res.Resumed {
				t.Fatal("the run did not resume the checkpoint")
			}
			if res.Snapshot.Root != want.Snapshot.Root || !reflect.DeepEqual(res.Snapshot.Objects, want.Snapshot.Objects) {
				t.Fatalf("resumed snapshot differs from the uninterrupted one:\n%v\n%v", res.Snapshot.Objects, want.Snapshot.Objects)
			}
			// (With the tightest allocation the first run may store no
			// object at all; the 30-run bound proves progress.)
			if res.Fetched > want.Fetched || (runs > 2 && res.Fetched == want.Fetched) {
				t.Fatalf("resumed run fetched %d rows, a whole run %d", res.Fetched, want.Fetched)
			}
			t.Logf("resumed run fetched %d of %d rows", res.Fetched, want.Fetched)
			b.srv.Org.SetAPIDailyLimit(1 << 40) // verify reads describes
			b.verify(res.Snapshot)
		})
	}
}
