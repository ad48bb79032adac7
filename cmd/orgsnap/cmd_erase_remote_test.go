package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	s3be "github.com/orgsnap/orgsnap/repo/backend/s3"
	"github.com/orgsnap/orgsnap/repo/backend/s3/s3test"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
)

// Markers of the erasure tests: each is in exactly one record.
const (
	markerErased   = "MARKER-erased-9d41c7" // Contact 0035g00000Subject1, in every snapshot until erased
	markerAgedOut  = "MARKER-aged-5be02f"   // Contact 0035g00000AgedOut1: in the full snapshot of 2501 only
	markerAgedOut2 = "MARKER-aged2-e8a613"  // Contact 0035g00000AgedOut2: added in 2502, deleted in 2503
	markerOldValue = "MARKER-oldval-31c0aa" // Contact 0035g00000Changed01's Email in 2501, changed in 2502
)

// markedHistory writes four monthly snapshots (2501–2504) on ref main:
// filler Contacts changing every month, one data subject kept throughout,
// one record of the full snapshot deleted the month after, one changed the
// month after, one record added in 2502 and deleted in 2503.
func markedHistory(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var parent *repo.Snapshot
	put := func(w *repo.Writer, id, field, value string) {
		t.Helper()
		if err := w.PutRecord(ctx, "Contact", id, record.Record{{Name: field, Kind: record.String, Value: value}}); err != nil {
			t.Fatal(err)
		}
	}
	for m := 0; m < 4; m++ {
		w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Org: "00D000000000001", State: []byte(`{"ref":"main"}`),
			Time: time.Date(2025, time.Month(1+m), 10, 2, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if m == 0 || i%100 == m { // 1% a month: no rebase, every snapshot shares the first base

				put(w, fmt.Sprintf("0035g0000Filler%03d", i), "LastName", fmt.Sprintf("filler %d month %d %x", i, m, i*7919+m))
			}
		}
		switch m {
		case 0:
			put(w, "0035g00000Subject1", "Email", markerErased+"@example.com")
			put(w, "0035g00000AgedOut1", "Email", markerAgedOut+"@example.com")
			put(w, "0035g00000Changed01", "Email", markerOldValue+"@example.com")
		case 1:
			put(w, "0035g00000Changed01", "Email", "new-address@example.com")
			if err := w.DeleteRecord(ctx, "Contact", "0035g00000AgedOut1"); err != nil {
				t.Fatal(err)
			}
			put(w, "0035g00000AgedOut2", "Email", markerAgedOut2+"@example.com")
		case 2:
			if err := w.DeleteRecord(ctx, "Contact", "0035g00000AgedOut2"); err != nil {
				t.Fatal(err)
			}
		}
		s := commitMain(t, r, w)
		parent = s
	}
}

// holdersOf lists every place of a repository stored on be where one of
// the markers can be read: any blob of any pack (every frame decrypted and
// decompressed), any snapshot (decrypted), the audit log (decrypted), and
// the raw bytes of every file.
func holdersOf(t *testing.T, r *repo.Repository, be backend.Backend, markers ...string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	has := func(b []byte) string { // every marker b holds, space-separated
		var in []string
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				in = append(in, m)
			}
		}
		return strings.Join(in, " ")
	}
	key := r.Key()
	for _, ft := range backend.AllTypes {
		err := be.List(ctx, ft, func(fi backend.FileInfo) error {
			h := backend.Handle{Type: ft, Name: fi.Name}
			data, err := be.Load(ctx, h, 0, -1)
			if err != nil {
				return err
			}
			if m := has(data); m != "" {
				found = append(found, fmt.Sprintf("%s in the raw bytes of %v", m, h))
			}
			if ft != backend.Packs {
				return nil
			}
			tr, err := pack.ReadTrailer(key, data)
			if err != nil {
				return fmt.Errorf("%v: %w", h, err)
			}
			for _, f := range tr.Frames {
				plain, err := pack.OpenFrame(key, data[f.Offset:f.Offset+uint64(f.SealedLen)])
				if err != nil {
					return fmt.Errorf("%v: %w", h, err)
				}
				for _, b := range f.Blobs {
					if m := has(plain[b.Offset : b.Offset+b.Length]); m != "" {
						found = append(found, fmt.Sprintf("%s in blob %s of %v", m, b.ID.Short(), h))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	view := r.On(be)
	snaps, err := view.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if m := has([]byte(fmt.Sprintf("%+v", *s))); m != "" {
			found = append(found, fmt.Sprintf("%s in snapshot %s", m, s.ID.Short()))
		}
	}
	log, err := view.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if m := has(e.Detail); m != "" {
			found = append(found, fmt.Sprintf("%s in audit entry %s", m, e.Name))
		}
	}
	return found
}

// rawHolders lists the files under dir whose bytes hold a marker.
func rawHolders(t *testing.T, dir string, markers ...string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking (a server's or pebble's own cleanup): it holds nothing
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, m+" in the raw file "+p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestCLIErasureReachesRemote: a record erased (erase) or aged out
// (forget --keep-periods, prune) here is, after the next push, in no
// object of the remote — every pack's blobs decrypted, snapshots and
// audit log decrypted, every stored file's raw bytes scanned — on a
// directory remote and on a real S3 server (versitygw).
func TestCLIErasureReachesRemote(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	cases := []struct {
		name    string
		args    []string
		markers []string
		kept    []string // markers that must stay (not erased by this case)
	}{
		{"erase", []string{"erase", "--object", "Contact", "--id", "0035g00000Subject1"}, []string{markerErased}, []string{markerAgedOut, markerAgedOut2, markerOldValue}},
		{"forget", []string{"forget", "--keep-periods", "2", "--prune"}, []string{markerAgedOut, markerAgedOut2, markerOldValue}, []string{markerErased}},
	}
	for _, kind := range []string{"dir", "s3"} {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				tmp := t.TempDir()
				dir := filepath.Join(tmp, "repo")
				url, rawDir := filepath.Join(tmp, "nas"), filepath.Join(tmp, "nas")
				var s3args []string
				var openRemote func() backend.Backend
				if kind == "s3" {
					srv := s3test.Versity(t, false)
					t.Setenv("AWS_ACCESS_KEY_ID", srv.Config.AccessKeyID)
					t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Config.SecretAccessKey)
					url, rawDir = "s3://"+srv.Config.Bucket+"/backups/prod", srv.DataDir
					s3args = []string{"--endpoint", srv.Config.Endpoint, "--path-style"}
					openRemote = func() backend.Backend {
						cfg := srv.Config
						cfg.Prefix = "backups/prod"
						b, err := s3be.Open(context.Background(), cfg)
						if err != nil {
							t.Fatal(err)
						}
						return b
					}
				} else {
					openRemote = func() backend.Backend {
						b, err := local.Open(url, false)
						if err != nil {
							t.Fatal(err)
						}
						return b
					}
				}
				if out, code := run(t, "--repo", dir, "init"); code != exitOK {
					t.Fatalf("init: %d %s", code, out)
				}
				markedHistory(t, dir)
				for _, args := range [][]string{append(append([]string{"remote", "add"}, s3args...), "origin", url), {"push"}} {
					if out, code := run(t, append([]string{"--repo", dir}, args...)...); code != exitOK {
						t.Fatalf("%v: %d %s", args, code, out)
					}
				}
				all := append(append([]string{}, tc.markers...), tc.kept...)
				check := func(when string, want []string, wantNot []string) {
					t.Helper()
					r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("pw"), ReadOnly: true})
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					rb := openRemote()
					defer rb.Close()
					got := append(holdersOf(t, r, rb, all...), rawHolders(t, rawDir, all...)...)
					for _, m := range want {
						if !containsMarker(got, m) {
							t.Fatalf("%s: %s is not on the remote: the scan cannot see it (%v)", when, m, got)
						}
					}
					for _, m := range wantNot {
						for _, g := range got {
							if bytes.Contains([]byte(g), []byte(m)) {
								t.Errorf("%s: %s", when, g)
							}
						}
					}
				}
				check("before", all, nil)
				out, code := run(t, append([]string{"--repo", dir}, tc.args...)...)
				if code != exitOK {
					t.Fatalf("%v: %d %s", tc.args, code, out)
				}
				t.Logf("%v:\n%s", tc.args, out)
				if got := append(holdersOf(t, openRepoRO(t, dir), localBackend(t, dir), tc.markers...), rawHolders(t, dir, tc.markers...)...); len(got) > 0 {
					t.Fatalf("after %s, the local repository still holds: %v", tc.name, got)
				}
				if out, code = run(t, "--repo", dir, "push"); code != exitOK {
					t.Fatalf("push: %d %s", code, out)
				}
				t.Logf("push:\n%s", out)
				check("after push", tc.kept, tc.markers)
			})
		}
	}
}

func containsMarker(found []string, m string) bool {
	for _, f := range found {
		if bytes.Contains([]byte(f), []byte(m)) {
			return true
		}
	}
	return false
}

func openRepoRO(t *testing.T, dir string) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("pw"), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func localBackend(t *testing.T, dir string) backend.Backend {
	t.Helper()
	b, err := local.Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCLIPullScrubsErasedRecords: clones A and B of one repository. A
// erases a record; before A pushes, B — which still has the record, and
// could not know — takes a snapshot holding it and pushes first. A's push
// is then told to pull; A's pull admits B's snapshot (other machines'
// history is not refused) but rewrites it without the record and prunes:
// the record never comes back to A, and after A's next push the remote no
// longer holds it. B's later push is refused until B pulls (the remote
// has an erase B has not applied), and B's pull scrubs B's own snapshots.
func TestCLIPullScrubsErasedRecords(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	ctx := context.Background()
	tmp := t.TempDir()
	a, b, nas := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "nas")
	mustRun := func(want int, args ...string) string {
		t.Helper()
		app := newApp()
		var buf bytes.Buffer
		app.Writer = &buf
		err := runApp(context.Background(), app, append([]string{"orgsnap"}, args...))
		if code := exitCode(err); code != want {
			t.Fatalf("%v: exit %d, want %d: %v\n%s", args, code, want, err, buf.String())
		}
		return buf.String()
	}
	holders := func(dir string) []string {
		t.Helper()
		return append(holdersOf(t, openRepoRO(t, a), localBackend(t, dir), markerErased), rawHolders(t, dir, markerErased)...)
	}
	// snapshotOnB commits a snapshot on B's main: one filler changed, the
	// data subject still in the org.
	snapshotOnB := func(month int, filler string) *repo.Snapshot {
		t.Helper()
		rb, err := repo.Open(ctx, b, repo.Options{Password: []byte("pw")})
		if err != nil {
			t.Fatal(err)
		}
		defer rb.Close()
		head, version, err := rb.Ref(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		parent, err := rb.LoadSnapshot(ctx, head)
		if err != nil {
			t.Fatal(err)
		}
		w, err := rb.NewWriter(ctx, repo.WriterOptions{Parent: parent, Org: "00D000000000001", State: []byte(`{"ref":"main"}`),
			Time: time.Date(2025, time.Month(month), 10, 2, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		for id, email := range map[string]string{filler: "changed-on-b@example.com", "0035g00000Subject1": markerErased + ".b@example.com"} {
			if err := w.PutRecord(ctx, "Contact", id, record.Record{{Name: "Email", Kind: record.String, Value: email}}); err != nil {
				t.Fatal(err)
			}
		}
		s, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rb.SetRef(ctx, "main", s.ID, version); err != nil {
			t.Fatal(err)
		}
		return s
	}

	mustRun(exitOK, "--repo", a, "init")
	markedHistory(t, a)
	mustRun(exitOK, "--repo", a, "remote", "add", "origin", nas)
	mustRun(exitOK, "--repo", a, "push")
	mustRun(exitOK, "clone", nas, b)

	mustRun(exitOK, "--repo", a, "erase", "--object", "Contact", "--id", "0035g00000Subject1")
	sb := snapshotOnB(5, "0035g0000Filler007")
	mustRun(exitOK, "--repo", b, "push") // first: a fast-forward
	out := mustRun(exitRemoteAhead, "--repo", a, "push")
	t.Logf("push on A, after B's:\n%s", out)
	if len(holders(nas)) == 0 {
		t.Fatal("the remote does not hold the record B pushed: the test proves nothing")
	}
	aMain := func() crypto.ID {
		t.Helper()
		id, _, err := openRepoRO(t, a).Ref(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	rewriteOfParent := aMain() // A's rewrite of B's snapshot's parent

	out = mustRun(exitOK, "--repo", a, "pull")
	t.Logf("pull on A:\n%s", out)
	if got := holders(a); len(got) > 0 {
		t.Fatalf("the erased record came back to A with the pull: %v", got)
	}
	// B's snapshot is here, rewritten: its other change kept, its parent
	// A's rewrite of its parent, and A's main moved to it.
	func() {
		ra, err := repo.Open(ctx, a, repo.Options{Password: []byte("pw")})
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		snaps, err := ra.Snapshots(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var rewritten *repo.Snapshot
		for _, s := range snaps {
			if s.Original != nil && *s.Original == sb.ID {
				rewritten = s
			}
		}
		if rewritten == nil {
			t.Fatalf("B's snapshot %s was not admitted and rewritten", sb.ID.Short())
		}
		if rec, ok, err := ra.Record(ctx, rewritten, "Contact", "0035g0000Filler007"); err != nil || !ok || !strings.Contains(fmt.Sprint(rec), "changed-on-b") {
			t.Fatalf("B's change in the rewrite: %v %v %v", rec, ok, err)
		}
		if _, ok, err := ra.Record(ctx, rewritten, "Contact", "0035g00000Subject1"); err != nil || ok {
			t.Fatalf("the erased record is in the rewrite of B's snapshot: %v %v", ok, err)
		}
		if rewritten.Parent == nil || *rewritten.Parent != rewriteOfParent {
			t.Fatalf("the rewrite's parent is %v, want A's rewrite %s", rewritten.Parent, rewriteOfParent.Short())
		}
		if main, _, err := ra.Ref(ctx, "main"); err != nil || main != rewritten.ID {
			t.Fatalf("A's main is %v (%v), want the rewrite %s", main, err, rewritten.ID.Short())
		}
	}()
	mustRun(exitOK, "--repo", a, "check", "--read-data")

	out = mustRun(exitOK, "--repo", a, "push")
	t.Logf("push on A:\n%s", out)
	if !strings.Contains(out, "replaced") {
		t.Fatalf("the remote's main (B's snapshot) was not moved to its rewrite: %s", out)
	}
	if got := holders(nas); len(got) > 0 {
		t.Fatalf("after A's push the remote still holds the erased record: %v", got)
	}

	// B, still unaware, snapshots the record again: its push is refused
	// (nothing uploaded) until it pulls the erase.
	snapshotOnB(6, "0035g0000Filler008")
	mustRun(exitRemoteAhead, "--repo", b, "push")
	if got := holders(nas); len(got) > 0 {
		t.Fatalf("B's refused push put the erased record on the remote: %v", got)
	}
	out = mustRun(exitOK, "--repo", b, "pull")
	t.Logf("pull on B:\n%s", out)
	if got := holders(b); len(got) > 0 {
		t.Fatalf("B still holds the record A erased after pulling the erase: %v", got)
	}
	mustRun(exitOK, "--repo", b, "check", "--read-data")
	out = mustRun(exitOK, "--repo", b, "push")
	t.Logf("push on B:\n%s", out)
	if got := holders(nas); len(got) > 0 {
		t.Fatalf("after B's push the remote holds the erased record: %v", got)
	}
	// The remote is whole: a clone of it reads all its data.
	c := filepath.Join(tmp, "c")
	mustRun(exitOK, "clone", nas, c)
	mustRun(exitOK, "--repo", c, "check", "--read-data")
	mustRun(exitOK, "--repo", a, "pull")
	mustRun(exitOK, "--repo", a, "check", "--read-data")
}

// TestCLIPullAppliesRemovals: A forgets the oldest periods and prunes
// (aged-out records, old versions of changed ones), and pushes. B, a
// clone that still has those snapshots, cannot push them back (refused
// until it pulls); its pull removes them here too and prunes, and B's
// push then leaves the remote without the aged-out data.
func TestCLIPullAppliesRemovals(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	tmp := t.TempDir()
	a, b, nas := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "nas")
	aged := []string{markerAgedOut, markerAgedOut2, markerOldValue}
	holders := func(dir string) []string {
		t.Helper()
		return append(holdersOf(t, openRepoRO(t, a), localBackend(t, dir), aged...), rawHolders(t, dir, aged...)...)
	}
	for _, step := range []struct {
		want int
		args []string
	}{
		{exitOK, []string{"--repo", a, "init"}},
	} {
		if out, code := run(t, step.args...); code != step.want {
			t.Fatalf("%v: %d %s", step.args, code, out)
		}
	}
	markedHistory(t, a)
	steps := []struct {
		want int
		args []string
	}{
		{exitOK, []string{"--repo", a, "remote", "add", "origin", nas}},
		{exitOK, []string{"--repo", a, "push"}},
		{exitOK, []string{"clone", nas, b}},
		{exitOK, []string{"--repo", a, "forget", "--keep-periods", "2", "--prune"}},
		{exitOK, []string{"--repo", a, "push"}},
		{exitRemoteAhead, []string{"--repo", b, "push"}}, // the remote has A's forget: pull first
	}
	for _, step := range steps {
		if out, code := run(t, step.args...); code != step.want {
			t.Fatalf("%v: exit %d, want %d: %s", step.args, code, step.want, out)
		}
	}
	if got := holders(nas); len(got) > 0 {
		t.Fatalf("after A's forget and push, the remote holds: %v", got)
	}
	if len(holders(b)) == 0 {
		t.Fatal("B does not hold the aged-out records before its pull: the test proves nothing")
	}
	out, code := run(t, "--repo", b, "pull")
	// 2 forgotten, 2 replaced by prune's rewrite of the shared base.
	if code != exitOK || !strings.Contains(out, "removed 4 snapshots here") {
		t.Fatalf("pull on B: %d %s", code, out)
	}
	t.Logf("pull on B:\n%s", out)
	if got := holders(b); len(got) > 0 {
		t.Fatalf("after pulling A's forget, B still holds: %v", got)
	}
	for _, args := range [][]string{{"--repo", b, "check", "--read-data"}, {"--repo", b, "push"}} {
		if out, code := run(t, args...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, out)
		}
	}
	if got := holders(nas); len(got) > 0 {
		t.Fatalf("after B's push, the remote holds: %v", got)
	}
	if out, code := run(t, "--json", "--repo", b, "log", "main"); code != exitOK || strings.Count(out, `"id"`) != 2 {
		t.Fatalf("B's main after the pull: %d %s", code, out)
	}
}
