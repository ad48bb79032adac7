package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

// TestCLIEraseWhereFollow: erase by filter with --follow also erases the
// Task whose WhoId points at the Contact (a lookup found in the stored
// describe), rewrites the snapshots, prunes, and check passes.
func TestCLIEraseWhereFollow(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	dir := filepath.Join(t.TempDir(), "repo")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	snaps := monthlyHistory(t, dir, 3)
	ctx := context.Background()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: snaps[2], Org: "00D000000000001", State: []byte(`{"ref":"main"}`)})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.PutSchema(ctx, "Task", []byte(`{"name":"Task","fields":[{"name":"Id","type":"id"},{"name":"Subject","type":"string"},{"name":"WhoId","type":"reference","referenceTo":["Contact","Lead"]}]}`)))
	must(w.PutSchema(ctx, "Contact", []byte(`{"name":"Contact","fields":[{"name":"Id","type":"id"},{"name":"LastName","type":"string"}]}`)))
	must(w.PutRecord(ctx, "Task", "00T5g00000Task0001", record.Record{{Name: "Subject", Kind: record.String, Value: "call about TASKMARKER"}, {Name: "WhoId", Kind: record.String, Value: "0035g00000Month001"}}))
	must(w.PutRecord(ctx, "Task", "00T5g00000Task0002", record.Record{{Name: "Subject", Kind: record.String, Value: "unrelated"}, {Name: "WhoId", Kind: record.String, Value: "0035g00000Month002"}}))
	s, err := w.Commit(ctx)
	must(err)
	_, v, _ := r.Ref(ctx, "main")
	must(r.SetRef(ctx, "main", s.ID, v))
	r.Close()

	out, code := run(t, "--repo", dir, "erase", "--object", "Contact", "--where", "LastName = 'month-1-subject'", "--follow", "--dry-run")
	if code != exitOK || !strings.Contains(out, "Contact: 1 records: 0035g00000Month001") || !strings.Contains(out, "Task: 1 records: 00T5g00000Task0001") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	out, code = run(t, "--repo", dir, "--json", "erase", "--object", "Contact", "--where", "LastName = 'month-1-subject'", "--follow")
	var res eraseOutput
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || res.Prune == nil || !res.Prune.Verified || len(res.Snapshots) != 3 {
		t.Fatalf("erase: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "check", "--read-data"); code != exitOK {
		t.Fatalf("check: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "cat", "record", "main", "Task", "00T5g00000Task0001"); code == exitOK {
		t.Fatalf("the Task is still there: %s", out)
	}
	if out, code := run(t, "--repo", dir, "cat", "record", "main", "Task", "00T5g00000Task0002"); code != exitOK || !strings.Contains(out, "unrelated") {
		t.Fatalf("the other Task: %d %s", code, out)
	}
	if _, code := run(t, "--repo", dir, "erase", "--object", "Contact", "--id", "short"); code != exitUsage {
		t.Fatalf("bad id: code %d", code)
	}
}

// TestCLIEraseSurvivesNoPull: a remote pushed before the erase still holds
// the record; after erase and prune, pull from it brings back neither the
// replaced snapshots nor the record, and a push removes them there.
func TestCLIEraseSurvivesNoPull(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	base := t.TempDir()
	dir, remoteDir := filepath.Join(base, "repo"), filepath.Join(base, "remote")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	monthlyHistory(t, dir, 3)
	for _, args := range [][]string{{"remote", "add", "nas", remoteDir}, {"push", "nas"}} {
		if out, code := run(t, append([]string{"--repo", dir}, args...)...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, out)
		}
	}
	if out, code := run(t, "--repo", dir, "erase", "--object", "Contact", "--id", "0035g00000Month001"); code != exitOK {
		t.Fatalf("erase: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "pull", "nas"); code != exitOK {
		t.Fatalf("pull: %d %s", code, out)
	}
	for _, rev := range []string{"main", "main~1"} {
		if out, code := run(t, "--repo", dir, "cat", "record", rev, "Contact", "0035g00000Month001"); code == exitOK {
			t.Fatalf("the erased record came back with the pull (%s): %s", rev, out)
		}
	}
	out, code := run(t, "--repo", dir, "--json", "snapshots")
	if code != exitOK || strings.Count(out, `"original"`) != 2 || strings.Count(out, `"id"`) != 3 {
		t.Fatalf("snapshots after pull: %s", out)
	}
	if out, code := run(t, "--repo", dir, "check", "--read-data"); code != exitOK {
		t.Fatalf("check: %d %s", code, out)
	}
}
