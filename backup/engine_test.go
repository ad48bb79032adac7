package backup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var bg = context.Background()

// orgClock is the client's clock: the org's (so replication windows agree
// with the emulator's time), and sleeps that hardly wait (polling).
type orgClock struct{ o *sftest.Org }

func (c orgClock) Now() time.Time { return c.o.Now() }
func (c orgClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type halfRand struct{}

func (halfRand) Float64() float64 { return 0.5 }

// env is an emulated org and a repository.
type env struct {
	t      *testing.T
	srv    *sftest.Server
	client *sfapi.Client
	dir    string
	now    time.Time
}

func newEnv(t *testing.T, opts sftest.Options) *env {
	t.Helper()
	srv := sftest.NewServer(opts)
	t.Cleanup(srv.Close)
	c, err := sfapi.New(sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock: orgClock{srv.Org}, Rand: halfRand{},
		Retry: sfapi.RetryPolicy{MaxAttempts: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := repo.Init(bg, dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return &env{t: t, srv: srv, client: c, dir: dir, now: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)}
}

func (e *env) open() *repo.Repository {
	e.t.Helper()
	r, err := repo.Open(bg, e.dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// run takes a snapshot; each run's time is a day after the last.
func (e *env) run(opts Options) (*Result, error) {
	r := e.open()
	defer r.Close()
	e.now = e.now.Add(24 * time.Hour)
	at := e.now
	if opts.Now == nil {
		opts.Now = func() time.Time { return at }
	}
	return Run(bg, r, e.client, opts)
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
				return fmt.Errorf("%s %s differs:\n got  %s\n want %s", o.Name, id, got.AppendJSON(nil), w.r.AppendJSON(nil))
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

	// A full snapshot of an unchanged org writes no record blob and
	// downloads no file.
	r := e.open()
	before := r.WriteStats()
	r.Close()
	res3 := e.mustRun(Options{Full: true})
	if res3.Snapshot.Root != res2.Snapshot.Root {
		t.Errorf("a full read of an unchanged org changed the tree")
	}
	if res3.Files.Downloaded != 0 {
		t.Errorf("full run of an unchanged org downloaded %d files", res3.Files.Downloaded)
	}
	_ = before
}

// TestResumeAfterStop: a run stopped half-way (API budget) saves a
// checkpoint; the next run fetches only the rest and commits the snapshot
// one uninterrupted run commits.
func TestResumeAfterStop(t *testing.T) {
	mk := func() *env { return newEnv(t, sftest.Options{Seed: 5, Records: 3000}) }
	a, b := mk(), mk()
	want := a.mustRun(Options{CheckpointEvery: -1})

	stop := &stopAfter{Source: b.client, n: 6}
	r := b.open()
	b.now = b.now.Add(24 * time.Hour)
	at := b.now
	_, err := Run(bg, r, stop, Options{Now: func() time.Time { return at }, CheckpointEvery: time.Nanosecond, Parallel: Parallelism{Bulk: 1, REST: 1}})
	r.Close()
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped run: %v", err)
	}
	r = b.open()
	res, err := Run(bg, r, b.client, Options{Now: func() time.Time { return at.Add(time.Hour) }, CheckpointEvery: -1})
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed {
		t.Fatal("the run did not resume the checkpoint")
	}
	if res.Snapshot.Root != want.Snapshot.Root || !reflect.DeepEqual(res.Snapshot.Objects, want.Snapshot.Objects) {
		t.Fatalf("resumed snapshot differs from the uninterrupted one")
	}
	if res.Fetched >= want.Fetched {
		t.Fatalf("resumed run fetched %d rows, a whole run %d", res.Fetched, want.Fetched)
	}
	b.verify(res.Snapshot)
}

// stopAfter reports the API budget spent after n describes-or-queries.
type stopAfter struct {
	Source
	mu sync.Mutex
	n  int
}

func (s *stopAfter) Budget() sfapi.Budget { return s.Source.Budget() }

var _ = rand.N[int]
var _ = strings.Contains
