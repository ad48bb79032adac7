package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// pushedRepo makes a repository with two snapshots on main, pushed to a
// directory remote named origin. It returns the repository and remote dirs.
func pushedRepo(t *testing.T) (dir, nas string) {
	t.Helper()
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	tmp := t.TempDir()
	dir, nas = filepath.Join(tmp, "repo"), filepath.Join(tmp, "nas")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	addSnapshot(t, dir, 1, 50)
	addSnapshot(t, dir, 2, 10)
	for _, args := range [][]string{{"remote", "add", "origin", nas}, {"push"}} {
		if out, code := run(t, append([]string{"--repo", dir}, args...)...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, out)
		}
	}
	return dir, nas
}

// Remote-tracking refs are revisions: origin/main in log, diff and show.
func TestCLIRemoteTrackingRevisions(t *testing.T) {
	dir, _ := pushedRepo(t)
	addSnapshot(t, dir, 3, 5) // main moves past origin/main
	logOf := func(rev string) string {
		t.Helper()
		out, code := run(t, "--repo", dir, "--json", "log", rev)
		if code != exitOK {
			t.Fatalf("log %s: %d %s", rev, code, out)
		}
		return out
	}
	origin, main := logOf("origin/main"), logOf("main")
	if strings.Count(origin, `"id"`) != 2 || strings.Count(main, `"id"`) != 3 {
		t.Fatalf("log origin/main should list the 2 pushed snapshots, log main 3:\n%s\n%s", origin, main)
	}
	if out, code := run(t, "--repo", dir, "--json", "log", "origin/main..main"); code != exitOK || strings.Count(out, `"id"`) != 1 {
		t.Fatalf("log origin/main..main: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "diff", "--stat", "origin/main", "main"); code != exitOK || !strings.Contains(out, "Account") {
		t.Fatalf("diff origin/main main: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "show", "origin/main~1"); code != exitOK || !strings.Contains(out, "50") {
		t.Fatalf("show origin/main~1: %d %s", code, out)
	}
	for _, rev := range []string{"origin/nosuch", "nosuch/main"} {
		if out, code := run(t, "--repo", dir, "log", rev); code != exitUsage {
			t.Fatalf("log %s: exit %d, want %d (unknown revision): %s", rev, code, exitUsage, out)
		}
	}
}

// erase --id takes the 15-character form of an Id and erases the record
// stored under its 18-character form.
func TestCLIErase15CharacterID(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	dir := filepath.Join(t.TempDir(), "repo")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	id15 := "003Dn0000000Q0u"
	id18, err := sfapi.To18(id15)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriterOptions{Org: "00D000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{id18, "003Dn0000000Q0vIAE"} {
		if err := w.PutRecord(ctx, "Contact", id, record.Record{{Name: "LastName", Kind: record.String, Value: "subject " + id}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetRef(ctx, "main", s.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.Close()
	out, code := run(t, "--repo", dir, "erase", "--object", "Contact", "--id", id15)
	if code != exitOK || !strings.Contains(out, "Contact: 1 records: "+id18) || !strings.Contains(out, "without 1 records") {
		t.Fatalf("erase --id %s: %d %s", id15, code, out)
	}
	if out, code := run(t, "--repo", dir, "cat", "record", "main", "Contact", id18); code == exitOK {
		t.Fatalf("the record is still there: %s", out)
	}
	if _, code := run(t, "--repo", dir, "erase", "--object", "Contact", "--id", "003Dn0000000Q0!"); code != exitUsage {
		t.Fatalf("a malformed 15-character Id: exit %d", code)
	}
}

// clone checks the password against the remote's key slots before it
// downloads anything.
func TestCLICloneChecksPasswordFirst(t *testing.T) {
	_, nas := pushedRepo(t)
	target := filepath.Join(t.TempDir(), "copy")
	t.Setenv("ORGSNAP_PASSWORD", "wrong")
	if out, code := run(t, "clone", nas, target); code != exitWrongPassword {
		t.Fatalf("clone with a wrong password: exit %d, want %d: %s", code, exitWrongPassword, out)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(filepath.Join(target, "packs"))
		t.Fatalf("a refused clone wrote %s (%d pack groups)", target, len(entries))
	}
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	if out, code := run(t, "clone", nas, target); code != exitOK || !strings.Contains(out, "2 snapshots") {
		t.Fatalf("clone: %d %s", code, out)
	}
}

// A key slot removed here is removed from the remote by the next push: its
// password no longer opens the remote (clone refuses it). A slot another
// machine added stays.
func TestCLIKeyRemovalReachesRemote(t *testing.T) {
	dir, nas := pushedRepo(t)
	t.Setenv("ORGSNAP_NEW_PASSWORD", "second")
	out, code := run(t, "--repo", dir, "--json", "key", "add")
	var added struct{ ID string }
	if code != exitOK || json.Unmarshal([]byte(out), &added) != nil || added.ID == "" {
		t.Fatalf("key add: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "push"); code != exitOK {
		t.Fatalf("push: %d %s", code, out)
	}
	// Another machine (a clone) adds a third slot and pushes it.
	other := filepath.Join(t.TempDir(), "other")
	if out, code := run(t, "clone", nas, other); code != exitOK {
		t.Fatalf("clone: %d %s", code, out)
	}
	t.Setenv("ORGSNAP_NEW_PASSWORD", "third")
	if out, code := run(t, "--repo", other, "key", "add"); code != exitOK {
		t.Fatalf("key add on the clone: %d %s", code, out)
	}
	if out, code := run(t, "--repo", other, "push"); code != exitOK {
		t.Fatalf("push of the clone: %d %s", code, out)
	}

	if out, code := run(t, "--repo", dir, "key", "remove", added.ID); code != exitOK {
		t.Fatalf("key remove: %d %s", code, out)
	}
	if out, code := run(t, "--repo", dir, "push"); code != exitOK || !strings.Contains(out, "removed 1 key slots") {
		t.Fatalf("push after key remove: %d %s", code, out)
	}
	for pw, want := range map[string]int{"second": exitWrongPassword, "third": exitOK, "pw": exitOK} {
		t.Setenv("ORGSNAP_PASSWORD", pw)
		if out, code := run(t, "clone", nas, filepath.Join(t.TempDir(), "c")); code != want {
			t.Fatalf("clone with password %q: exit %d, want %d: %s", pw, code, want, out)
		}
	}
}
