package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/faulty"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/backend/retry"
	"github.com/orgsnap/orgsnap/repo/backend/s3/s3test"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
)

var ctx = context.Background()

var pw = []byte("pw")

func small(c *repo.Config) {
	c.Tree.MinNode, c.Tree.TargetNode, c.Tree.MaxNode, c.Tree.LeafValueWeight = 128, 512, 2048, 40
	c.InlineLimit = 120
	c.FrameSize = 4096
	c.PackSize = 1 << 16
}

func newRepo(t testing.TB) *repo.Repository {
	t.Helper()
	r, err := repo.Init(ctx, filepath.Join(t.TempDir(), "repo"), repo.Options{Password: pw, KDF: crypto.TestKDF, Tune: small})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func open(t testing.TB, dir string) *repo.Repository {
	t.Helper()
	r, err := repo.Open(ctx, dir, repo.Options{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// snap writes a snapshot on ref main with n random Accounts (seeded), on
// top of the ref's current snapshot, in period (the pack group).
func snap(t testing.TB, r *repo.Repository, seed int64, n int, period string) *repo.Snapshot {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var parent *repo.Snapshot
	id, version, err := r.Ref(ctx, "main")
	if err == nil {
		if parent, err = r.LoadSnapshot(ctx, id); err != nil {
			t.Fatal(err)
		}
	} else if !errors.Is(err, repo.ErrNotFound) {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Period: period, Time: time.Date(2026, 11, 1, 0, 0, int(seed), 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		rid := fmt.Sprintf("001%015d", rng.Intn(4*n))
		rec := record.Record{
			{Name: "Desc", Kind: record.String, Value: fmt.Sprintf("%016x%016x%016x", rng.Int63(), rng.Int63(), rng.Int63())},
			{Name: "Id", Kind: record.String, Value: rid},
			{Name: "Name", Kind: record.String, Value: fmt.Sprintf("acct-%x-%s", rng.Int63(), strings.Repeat("x", rng.Intn(300)))},
		}
		if err := w.PutRecord(ctx, "Account", rid, rec); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetRef(ctx, "main", s.ID, version); err != nil {
		t.Fatal(err)
	}
	return s
}

func dirRemote(t testing.TB) backend.Backend {
	b, err := local.Open(filepath.Join(t.TempDir(), "remote"), true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// remotes are the kinds of remote every scenario runs against.
func remotes(t *testing.T) map[string]func(t *testing.T) backend.Backend {
	return map[string]func(t *testing.T) backend.Backend{
		"dir":  func(t *testing.T) backend.Backend { return dirRemote(t) },
		"fake": func(t *testing.T) backend.Backend { return s3test.Fake(t).NewBackend(t) },
		"versitygw-tls": func(t *testing.T) backend.Backend {
			return s3test.Versity(t, true).NewBackend(t)
		},
	}
}

// records reads every record of a snapshot.
func records(t testing.TB, r *repo.Repository, s *repo.Snapshot) map[string]string {
	t.Helper()
	out := map[string]string{}
	objs, err := r.Objects(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		err := r.EachRecord(ctx, s, o.Name, "", func(id string, rec record.Record) error {
			out[o.Name+"/"+id] = rec.String()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func diffs(t testing.TB, r *repo.Repository, a, b *repo.Snapshot) []string {
	t.Helper()
	var out []string
	if err := r.Diff(ctx, a, b, func(c repo.Change) error {
		out = append(out, fmt.Sprintf("%v %s %s", c.Kind, c.Object, c.ID))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A pushed repository cloned elsewhere is the same repository: check
// --read-data passes, every snapshot holds the same records, and diffs
// between snapshots are the same as in the original.
func TestPushClone(t *testing.T) {
	for name, mk := range remotes(t) {
		t.Run(name, func(t *testing.T) {
			a := newRepo(t)
			var snaps []*repo.Snapshot
			for i := int64(1); i <= 3; i++ {
				snaps = append(snaps, snap(t, a, i, 300, "2611"))
			}
			rb := mk(t)
			tr, err := Push(ctx, a, "origin", rb, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Packs < 2 || tr.Snapshots != 3 || len(tr.Refs) != 1 || tr.Refs[0].Status != RefCreated {
				t.Fatalf("push: %+v", tr)
			}
			// A second push has nothing to send.
			tr, err = Push(ctx, a, "origin", rb, Options{})
			if err != nil || tr.Packs != 0 || tr.Snapshots != 0 || tr.Refs[0].Status != RefUpToDate {
				t.Fatalf("second push: %+v, %v", tr, err)
			}

			dir := filepath.Join(t.TempDir(), "clone")
			if _, err := Clone(ctx, rb, dir, Options{}); err != nil {
				t.Fatal(err)
			}
			b := open(t, dir)
			if err := FinishClone(ctx, b, Config{Name: "origin", URL: "file:///x"}); err != nil {
				t.Fatal(err)
			}
			rep, err := b.Check(ctx, true, nil)
			if err != nil || !rep.OK() {
				t.Fatalf("check --read-data of the clone: %+v, %v", rep, err)
			}
			for i, s := range snaps {
				sb, err := b.LoadSnapshot(ctx, s.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(records(t, a, s), records(t, b, sb)) {
					t.Fatalf("snapshot %s: records differ in the clone", s.ID.Short())
				}
				if d := diffs(t, b, s, sb); len(d) != 0 {
					t.Fatalf("snapshot %s diffs against itself: %v", s.ID.Short(), d)
				}
				if i > 0 && !reflect.DeepEqual(diffs(t, a, snaps[i-1], s), diffs(t, b, snaps[i-1], sb)) {
					t.Fatalf("diff %d→%d differs in the clone", i-1, i)
				}
			}
			if id, _, err := b.Ref(ctx, "main"); err != nil || id != snaps[2].ID {
				t.Fatalf("clone's main = %v, %v", id, err)
			}
			track, err := TrackingRefs(ctx, b, "origin")
			if err != nil || track["main"] != snaps[2].ID {
				t.Fatalf("tracking refs %v, %v", track, err)
			}
		})
	}
}

// Two pushes racing from two clones lose nothing: both snapshots reach the
// remote, one ref update wins, the other is told to pull; after a pull the
// loser's next snapshot on top of the winner's fast-forwards.
func TestRacingPushes(t *testing.T) {
	for name, mk := range remotes(t) {
		if name == "fake" {
			continue // gofakes3 does not serialise conditional writes
		}
		t.Run(name, func(t *testing.T) {
			origin := newRepo(t)
			base := snap(t, origin, 1, 200, "2611")
			rb := mk(t)
			if _, err := Push(ctx, origin, "origin", rb, Options{}); err != nil {
				t.Fatal(err)
			}
			clones := make([]*repo.Repository, 2)
			for i := range clones {
				dir := filepath.Join(t.TempDir(), fmt.Sprint("c", i))
				if _, err := Clone(ctx, rb, dir, Options{}); err != nil {
					t.Fatal(err)
				}
				clones[i] = open(t, dir)
			}
			mine := []*repo.Snapshot{snap(t, clones[0], 10, 150, "2612"), snap(t, clones[1], 20, 150, "2612")}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range clones {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = Push(ctx, clones[i], "origin", rb, Options{Parallel: 2})
				}()
			}
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if won >= 0 {
						t.Fatal("both pushes moved the ref")
					}
					won = i
				case !errors.Is(err, ErrRemoteAhead):
					t.Fatalf("push %d: %v", i, err)
				}
			}
			if won < 0 {
				t.Fatalf("no push won: %v", errs)
			}
			lost := 1 - won
			view := origin.On(rb)
			for _, s := range append(mine, base) {
				if _, err := view.LoadSnapshot(ctx, s.ID); err != nil {
					t.Fatalf("snapshot %s lost on the remote: %v", s.ID.Short(), err)
				}
			}
			if id, _, _ := view.Ref(ctx, "main"); id != mine[won].ID {
				t.Fatalf("remote main = %s, want the winner's %s", id.Short(), mine[won].ID.Short())
			}
			// The loser pulls: it gets the winner's snapshot, its own main
			// stays (the two diverged), the tracking ref shows the remote's.
			tr, err := Pull(ctx, clones[lost], "origin", rb, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Snapshots != 1 || tr.Refs[0].Status != RefDiverged {
				t.Fatalf("pull: %+v", tr)
			}
			if _, err := clones[lost].LoadSnapshot(ctx, mine[won].ID); err != nil {
				t.Fatal(err)
			}
			// Continuing from the winner's snapshot fast-forwards.
			if _, ver, err := clones[lost].Ref(ctx, "main"); err != nil {
				t.Fatal(err)
			} else if err := clones[lost].SetRef(ctx, "main", mine[won].ID, ver); err != nil {
				t.Fatal(err)
			}
			next := snap(t, clones[lost], 30, 50, "2612")
			tr, err = Push(ctx, clones[lost], "origin", rb, Options{})
			if err != nil || tr.Refs[0].Status != RefFastForward {
				t.Fatalf("push after pull: %+v, %v", tr, err)
			}
			if id, _, _ := view.Ref(ctx, "main"); id != next.ID {
				t.Fatalf("remote main = %s after fast-forward", id.Short())
			}
			// Every snapshot on the remote is whole.
			dir := filepath.Join(t.TempDir(), "check")
			if _, err := Clone(ctx, rb, dir, Options{}); err != nil {
				t.Fatal(err)
			}
			if rep, err := open(t, dir).Check(ctx, true, nil); err != nil || !rep.OK() || rep.Snapshots != 4 {
				t.Fatalf("check of the remote: %+v, %v", rep, err)
			}
		})
	}
}

// counting records the packs a backend really stored.
type counting struct {
	backend.Backend
	mu    sync.Mutex
	saved map[string]int
}

func (c *counting) Save(ctx context.Context, h backend.Handle, data []byte, o backend.SaveOptions) error {
	err := c.Backend.Save(ctx, h, data, o)
	if err == nil && h.Type == backend.Packs {
		c.mu.Lock()
		c.saved[h.Name]++
		c.mu.Unlock()
	}
	return err
}

// A push that dies halfway resumes: the second run uploads only the packs
// the first did not finish, and the result is whole.
func TestPushResumes(t *testing.T) {
	a := newRepo(t)
	snap(t, a, 1, 8000, "2611")
	var total int
	a.Backend().List(ctx, backend.Packs, func(backend.FileInfo) error { total++; return nil })
	if total < 10 {
		t.Fatalf("only %d packs: the test needs more", total)
	}
	store := &counting{Backend: dirRemote(t), saved: map[string]int{}}
	packSaves := 0
	var mu sync.Mutex
	dying := faulty.Wrap(store, func(n int, op faulty.Op, h backend.Handle) (bool, bool) {
		if op != faulty.OpSave || h.Type != backend.Packs {
			return false, false
		}
		mu.Lock()
		defer mu.Unlock()
		packSaves++
		return packSaves > total/2, false // the process "dies" halfway through the packs
	})
	noRetry := retry.Wrap(dying, retry.Policy{MaxAttempts: 1})
	if _, err := Push(ctx, a, "origin", noRetry, Options{Parallel: 3}); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("first push: %v, want the injected failure", err)
	}
	first := len(store.saved)
	if first == 0 || first >= total {
		t.Fatalf("first push stored %d of %d packs", first, total)
	}
	// The killed run's lock would block removals for an hour, not pushes.
	tr, err := Push(ctx, a, "origin", store, Options{Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Packs != total-first || tr.PacksPresent != first {
		t.Fatalf("resumed push uploaded %d packs and found %d; want %d and %d", tr.Packs, tr.PacksPresent, total-first, first)
	}
	for name, n := range store.saved {
		if n != 1 {
			t.Fatalf("pack %s uploaded %d times", name, n)
		}
	}
	if len(store.saved) != total {
		t.Fatalf("remote has %d of %d packs", len(store.saved), total)
	}
}

type removed struct{ snaps map[crypto.ID]bool }

func (r removed) SnapshotRemoved(_ context.Context, id crypto.ID) (bool, error) {
	return r.snaps[id], nil
}
func (r removed) PackRemoved(context.Context, string) (bool, error) { return false, nil }
func (r removed) KeyRemoved(context.Context, string) (bool, error)  { return false, nil }

// After the local repository drops a snapshot and the packs only it used,
// push removes both from the remote — and only them.
func TestPushMirrorsRemovals(t *testing.T) {
	a := newRepo(t)
	keep := snap(t, a, 1, 300, "2611")
	drop := snap(t, a, 2, 300, "2612") // its own pack group: its packs are its alone
	rb := dirRemote(t)
	if _, err := Push(ctx, a, "origin", rb, Options{}); err != nil {
		t.Fatal(err)
	}
	// What prune will do: drop the snapshot, its packs and their index
	// entries; move the ref back.
	_, ver, _ := a.Ref(ctx, "main")
	if err := a.SetRef(ctx, "main", keep.ID, ver); err != nil {
		t.Fatal(err)
	}
	lb := a.Backend()
	lb.Remove(ctx, backend.Handle{Type: backend.Snapshots, Name: drop.ID.String()})
	var gone []string
	lb.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		if strings.HasPrefix(fi.Name, "2612/") {
			gone = append(gone, fi.Name)
		}
		return nil
	})
	for _, n := range gone {
		lb.Remove(ctx, backend.Handle{Type: backend.Packs, Name: n})
	}
	if _, _, err := a.RepairIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}

	// Without the removal record the remote's extra snapshot is someone
	// else's: nothing is removed.
	tr, err := Push(ctx, a, "origin", rb, Options{Force: true})
	if err != nil || tr.RemovedPacks != 0 || tr.RemovalSkipped == "" {
		t.Fatalf("push without record: %+v, %v", tr, err)
	}
	tr, err = Push(ctx, a, "origin", rb, Options{Removed: removed{map[crypto.ID]bool{drop.ID: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.RemovedSnapshots != 1 || tr.RemovedPacks != len(gone) {
		t.Fatalf("removed %d snapshots and %d packs, want 1 and %d (%s)", tr.RemovedSnapshots, tr.RemovedPacks, len(gone), tr.RemovalSkipped)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	if _, err := Clone(ctx, rb, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	rep, err := open(t, dir).Check(ctx, true, nil)
	if err != nil || !rep.OK() || rep.Snapshots != 1 {
		t.Fatalf("remote after removal: %+v, %v", rep, err)
	}
}

type refuse struct{ id crypto.ID }

func (f refuse) Admit(_ context.Context, s *repo.Snapshot) (bool, error) { return s.ID != f.id, nil }

// The pull hook: a refused snapshot never becomes visible and the local
// ref does not move to it.
func TestPullFilter(t *testing.T) {
	a := newRepo(t)
	s1 := snap(t, a, 1, 100, "2611")
	rb := dirRemote(t)
	if _, err := Push(ctx, a, "origin", rb, Options{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	if _, err := Clone(ctx, rb, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	b := open(t, dir)
	s2 := snap(t, a, 2, 100, "2611")
	if _, err := Push(ctx, a, "origin", rb, Options{}); err != nil {
		t.Fatal(err)
	}
	tr, err := Pull(ctx, b, "origin", rb, Options{Filter: refuse{s2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Rejected != 1 || tr.Snapshots != 0 {
		t.Fatalf("pull: %+v", tr)
	}
	if _, err := b.LoadSnapshot(ctx, s2.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("refused snapshot is visible: %v", err)
	}
	if id, _, _ := b.Ref(ctx, "main"); id != s1.ID {
		t.Fatal("local main moved to a refused snapshot")
	}
	// Without the filter the same pull fast-forwards.
	tr, err = Pull(ctx, b, "origin", rb, Options{})
	if err != nil || tr.Snapshots != 1 || tr.Refs[0].Status != RefFastForward {
		t.Fatalf("pull: %+v, %v", tr, err)
	}
	if !reflect.DeepEqual(records(t, a, s2), records(t, b, s2)) {
		t.Fatal("pulled snapshot differs")
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct{ in, url, bucket, prefix string }{
		{"s3://bk/a/b/", "s3://bk/a/b/", "bk", "a/b"},
		{"s3://bk", "s3://bk", "bk", ""},
		{"file:///mnt/nas/x/", "file:///mnt/nas/x", "", ""},
		{"/mnt/nas", "file:///mnt/nas", "", ""},
	} {
		got, err := ParseURL(c.in)
		if err != nil || got.URL != c.url || got.S3.Bucket != c.bucket || got.S3.Prefix != c.prefix {
			t.Errorf("ParseURL(%q) = %+v, %v", c.in, got, err)
		}
	}
	for _, bad := range []string{"", "http://x", "s3:///nobucket", "file://host/x"} {
		if _, err := ParseURL(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("ParseURL(%q): %v, want ErrBadURL", bad, err)
		}
	}
}

// readOnly refuses every write, as storage does to read-only credentials.
type readOnly struct{ backend.Backend }

func (readOnly) Save(_ context.Context, h backend.Handle, _ []byte, _ backend.SaveOptions) error {
	return fmt.Errorf("save %v: %w", h, backend.ErrPermission)
}

func (readOnly) Remove(_ context.Context, h backend.Handle) error {
	return fmt.Errorf("remove %v: %w", h, backend.ErrPermission)
}

// Pull and clone work with read-only credentials: the remote refuses their
// lock, and they go on without it (and say so); push still fails, clearly.
func TestPullCloneReadOnly(t *testing.T) {
	a := newRepo(t)
	snap(t, a, 1, 200, "2611")
	rb := dirRemote(t)
	if _, err := Push(ctx, a, "origin", rb, Options{}); err != nil {
		t.Fatal(err)
	}
	ro := readOnly{rb}
	dir := filepath.Join(t.TempDir(), "clone")
	tr, err := Clone(ctx, ro, dir, Options{})
	if err != nil || !tr.Unlocked || tr.Snapshots != 1 {
		t.Fatalf("clone with read-only credentials: %+v, %v", tr, err)
	}
	b := open(t, dir)
	if err := FinishClone(ctx, b, Config{Name: "origin", URL: "file:///x"}); err != nil {
		t.Fatal(err)
	}
	s2 := snap(t, a, 2, 50, "2611")
	if _, err := Push(ctx, a, "origin", rb, Options{}); err != nil {
		t.Fatal(err)
	}
	tr, err = Pull(ctx, b, "origin", ro, Options{})
	if err != nil || !tr.Unlocked || tr.Snapshots != 1 {
		t.Fatalf("pull with read-only credentials: %+v, %v", tr, err)
	}
	if id, _, err := b.Ref(ctx, "main"); err != nil || id != s2.ID {
		t.Fatalf("main after the pull: %v %v", id, err)
	}
	if _, err := Push(ctx, b, "origin", ro, Options{}); !backend.IsPermission(err) {
		t.Fatalf("push with read-only credentials: %v", err)
	}
}
