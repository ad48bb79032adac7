package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

// monthlyHistory commits one snapshot per month for n months (on ref
// main), each changing one Contact, and returns them oldest first.
func monthlyHistory(t *testing.T, dir string, n int) []*repo.Snapshot {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*repo.Snapshot
	var parent *repo.Snapshot
	for i := 0; i < n; i++ {
		at := time.Date(2025, time.Month(1+i), 10, 2, 0, 0, 0, time.UTC)
		w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Time: at, Org: "00D000000000001", State: []byte(`{"ref":"main"}`)})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("0035g00000Month%03d", i)
		if err := w.PutRecord(ctx, "Contact", id, record.Record{{Name: "LastName", Kind: record.String, Value: fmt.Sprintf("month-%d-subject", i)}}); err != nil {
			t.Fatal(err)
		}
		s := commitMain(t, r, w)
		out = append(out, s)
		parent = s
	}
	return out
}

func TestCLIForgetAndPrune(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	dir := filepath.Join(t.TempDir(), "repo")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	snaps := monthlyHistory(t, dir, 6)
	now = func() time.Time { return time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC) }
	defer func() { now = time.Now }()

	if out, code := run(t, "--repo", dir, "forget"); code != exitNoPolicy || !strings.Contains(out, "") {
		t.Fatalf("forget without a policy: code %d", code)
	}
	if _, code := run(t, "--repo", dir, "forget", "--keep-within", "3w"); code != exitUsage {
		t.Fatalf("bad duration: code %d", code)
	}
	out, code := run(t, "--repo", dir, "forget", "--keep-periods", "2", "--dry-run")
	if code != exitOK || strings.Count(out, "  remove ") != 4 || !strings.Contains(out, "period 2506") ||
		!strings.Contains(out, "named by ref main") || !strings.Contains(out, "no rule keeps it") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	if out, code := run(t, "--repo", dir, "--json", "snapshots"); code != exitOK || strings.Count(out, `"id"`) != 6 {
		t.Fatalf("a dry run removed snapshots: %s", out)
	}
	if out, code := run(t, "--repo", dir, "forget", "--keep-periods", "3", "--save-policy"); code != exitOK || !strings.Contains(out, "--keep-periods 3") {
		t.Fatalf("save policy: %d %s", code, out)
	}
	out, code = run(t, "--repo", dir, "--json", "forget", "--prune")
	var res forgetResult
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("forget with the saved policy: %d %s", code, out)
	}
	if res.Removed != 3 || res.Kept != 3 || res.Prune == nil || !res.Prune.Verified || res.Prune.BlobsErased == 0 {
		t.Fatalf("forget --prune: %+v", res)
	}
	for i, d := range res.Decisions {
		wantKeep := d.ID == snaps[5].ID.String() || d.ID == snaps[4].ID.String() || d.ID == snaps[3].ID.String()
		if d.Keep != wantKeep {
			t.Fatalf("decision %d: %+v", i, d)
		}
	}
	if out, code := run(t, "--repo", dir, "check", "--read-data"); code != exitOK {
		t.Fatalf("check after prune: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "prune"); code != exitOK || !strings.Contains(out, "erased:          0 blobs") || !strings.Contains(out, "verified:        ok") {
		t.Fatalf("second prune: %d %s", code, out)
	}
}

// commitMain commits w and moves the ref main to the snapshot (creating it
// if need be).
func commitMain(t *testing.T, r *repo.Repository, w *repo.Writer) *repo.Snapshot {
	t.Helper()
	ctx := context.Background()
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, version, err := r.Ref(ctx, "main")
	if err != nil && !errors.Is(err, repo.ErrNotFound) {
		t.Fatal(err)
	}
	if err := r.SetRef(ctx, "main", s.ID, version); err != nil {
		t.Fatal(err)
	}
	return s
}
