package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend/s3/s3test"
	"github.com/orgsnap/orgsnap/repo/record"
)

// addSnapshot commits one snapshot of n Accounts on main, through the library.
func addSnapshot(t *testing.T, dir string, seed, n int) {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var parent *repo.Snapshot
	id, ver, err := r.Ref(ctx, "main")
	if err == nil {
		parent, _ = r.LoadSnapshot(ctx, id)
	}
	w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Org: "00D000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		rid := fmt.Sprintf("001%012dAAA", seed*100000+i)
		if err := w.PutRecord(ctx, "Account", rid, record.Record{{Name: "Name", Kind: record.String, Value: fmt.Sprint("acct ", seed, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetRef(ctx, "main", s.ID, ver); err != nil {
		t.Fatal(err)
	}
}

// The remote verbs end to end, on a directory remote and on a real S3
// server (versitygw, credentials from the AWS environment variables).
func TestCLIRemotes(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			tmp := t.TempDir()
			a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
			url := filepath.Join(tmp, "nas")
			var s3args []string
			if kind == "s3" {
				srv := s3test.Versity(t, false)
				t.Setenv("AWS_ACCESS_KEY_ID", srv.Config.AccessKeyID)
				t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Config.SecretAccessKey)
				url = "s3://" + srv.Config.Bucket + "/backups/prod"
				s3args = []string{"--endpoint", srv.Config.Endpoint, "--path-style"}
			}
			if out, code := run(t, "--repo", a, "init"); code != exitOK {
				t.Fatalf("init: %d %s", code, out)
			}
			addSnapshot(t, a, 1, 500)
			if out, code := run(t, append(append([]string{"--repo", a, "remote", "add"}, s3args...), "origin", url)...); code != exitOK {
				t.Fatalf("remote add: %d %s", code, out)
			}
			if out, code := run(t, "--repo", a, "push"); code != exitOK || !strings.Contains(out, "1 snapshots to origin") || !strings.Contains(out, "created") {
				t.Fatalf("push: %d %s", code, out)
			}
			if out, code := run(t, "--repo", a, "ls-remote"); code != exitOK || !strings.Contains(out, "ref main") || !strings.Contains(out, "500 records") {
				t.Fatalf("ls-remote: %d %s", code, out)
			}
			if out, code := run(t, append(append([]string{"clone"}, s3args...), url, b)...); code != exitOK || !strings.Contains(out, "1 snapshots") {
				t.Fatalf("clone: %d %s", code, out)
			}
			if out, code := run(t, "--repo", b, "check", "--read-data"); code != exitOK {
				t.Fatalf("check of the clone: %d %s", code, out)
			}
			// Both sides take a snapshot; the second push is refused with
			// exit code 8 and told to pull.
			addSnapshot(t, a, 2, 100)
			addSnapshot(t, b, 3, 100)
			if out, code := run(t, "--repo", a, "push"); code != exitOK || !strings.Contains(out, "fast-forward") {
				t.Fatalf("push a: %d %s", code, out)
			}
			out, code := run(t, "--repo", b, "push", "origin")
			if code != exitRemoteAhead {
				t.Fatalf("racing push: code %d, want %d (%s)", code, exitRemoteAhead, out)
			}
			if out, code := run(t, "--repo", b, "pull"); code != exitOK || !strings.Contains(out, "1 snapshots from origin") || !strings.Contains(out, "rejected") {
				t.Fatalf("pull: %d %s", code, out)
			}
			if out, code := run(t, "--repo", b, "remote", "list"); code != exitOK || !strings.Contains(out, "origin/main") {
				t.Fatalf("remote list: %d %s", code, out)
			}
			if out, code := run(t, "--repo", b, "remote", "remove", "origin"); code != exitOK {
				t.Fatalf("remote remove: %d %s", code, out)
			}
			if _, code := run(t, "--repo", b, "push"); code == exitOK {
				t.Fatal("push without remotes succeeded")
			}
		})
	}
}
