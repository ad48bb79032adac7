package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

// run executes the CLI in-process and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	app := newApp()
	var buf bytes.Buffer
	app.Writer = &buf
	err := runApp(context.Background(), app, append([]string{"orgsnap"}, args...))
	return buf.String(), exitCode(err)
}

func TestCLIExitCodes(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	dir := filepath.Join(t.TempDir(), "repo")

	t.Setenv("ORGSNAP_PASSWORD", "right")
	if out, code := run(t, "--repo", dir, "snapshots"); code != exitNoRepository {
		t.Fatalf("no repo: code %d (%s)", code, out)
	}
	if out, code := run(t, "--repo", dir, "init"); code != exitOK || !strings.Contains(out, "created orgsnap repository") {
		t.Fatalf("init: code %d (%s)", code, out)
	}
	if _, code := run(t, "--repo", dir, "init"); code == exitOK {
		t.Fatal("second init succeeded")
	}
	// Put a snapshot in, through the library.
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("right")})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := r.NewWriter(context.Background(), repo.WriterOptions{Org: "00D000000000001"})
	if err := w.PutRecord(context.Background(), "Account", "001000000000001AAA", record.Record{
		{Name: "Amount", Kind: record.Number, Value: "12.50"}, {Name: "Name", Kind: record.String, Value: "A"}}); err != nil {
		t.Fatal(err)
	}
	s, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// While it is open, writers are refused with the "locked" code, but the
	// lock-free listing works.
	if out, code := run(t, "--repo", dir, "check"); code != exitLocked || !strings.Contains(out, "") {
		t.Fatalf("locked: code %d", code)
	}
	if out, code := run(t, "--repo", dir, "snapshots", "--oneline"); code != exitOK || !strings.Contains(out, s.ID.Short()) {
		t.Fatalf("snapshots while locked: %d %q", code, out)
	}
	r.Close()

	out, code := run(t, "--repo", dir, "--json", "snapshots")
	var list []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["id"] != s.ID.String() {
		t.Fatalf("snapshots --json: %d %q", code, out)
	}
	if out, code := run(t, "--repo", dir, "check", "--read-data"); code != exitOK || !strings.Contains(out, "no errors") {
		t.Fatalf("check: %d %q", code, out)
	}
	if out, code := run(t, "--repo", dir, "cat", "record", s.ID.Short(), "Account", "001000000000001AAA"); code != exitOK || !strings.Contains(out, "{\n  \"Amount\": 12.50,\n  \"Name\": \"A\"\n}") {
		t.Fatalf("cat record: %d %q", code, out)
	}
	if out, code := run(t, "--repo", dir, "--json", "stats"); code != exitOK || !strings.Contains(out, `"snapshots": 1`) {
		t.Fatalf("stats: %d %q", code, out)
	}
	if out, code := run(t, "--repo", dir, "repair", "index"); code != exitOK || !strings.Contains(out, "indexed") {
		t.Fatalf("repair index: %d %q", code, out)
	}
	t.Setenv("ORGSNAP_NEW_PASSWORD", "second")
	if out, code := run(t, "--repo", dir, "key", "add", "--label", "ops"); code != exitOK {
		t.Fatalf("key add: %d %q", code, out)
	}
	if out, code := run(t, "--repo", dir, "--json", "key", "list"); code != exitOK || strings.Count(out, `"id"`) != 2 {
		t.Fatalf("key list: %d %q", code, out)
	}
	t.Setenv("ORGSNAP_PASSWORD", "wrong")
	if _, code := run(t, "--repo", dir, "check"); code != exitWrongPassword {
		t.Fatalf("wrong password: code %d", code)
	}
	t.Setenv("ORGSNAP_PASSWORD", "second")
	if _, code := run(t, "--repo", dir, "check"); code != exitOK {
		t.Fatalf("second password: code %d", code)
	}
	if _, code := run(t, "--repo", dir, "cat", "bogus"); code != exitUsage {
		t.Fatalf("usage error: code %d", code)
	}
	if _, code := run(t, "--repo", dir, "snapshots", "--no-such-flag"); code != exitUsage {
		t.Fatalf("bad flag: code %d", code)
	}
}

func TestDemoRuns(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	out, code := run(t, "demo", "--records", "2000")
	if code != exitOK || !strings.Contains(out, "0 problems") || !strings.Contains(out, "changes in all") {
		t.Fatalf("demo: %d\n%s", code, out)
	}
}
