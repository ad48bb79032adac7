package main

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// TestCLIFind: find returns exactly the records of the snapshot that match
// (the expected set is computed from the emulator's own records, not from
// the repository), --fields and --csv print what was asked, and bad
// filters exit 2 with a message that says what to fix.
func TestCLIFind(t *testing.T) {
	srv, dir, client := emulatorRepo(t, sftest.Options{Seed: 5, Records: 1200})
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(context.Background(), r, client, backup.Options{Now: srv.Org.Now}); err != nil {
		t.Fatal(err)
	}
	r.Close()

	// The org's live Contacts whose Email ends in "test.example" (LIKE is
	// case-insensitive) and whose LastName is Wilson or Rogers (so is =).
	var want []string
	srv.Org.Records("Contact", func(rec sftest.Record) bool {
		if rec.Deleted {
			return true
		}
		email, _ := rec.Fields["Email"].(string)
		last, _ := rec.Fields["LastName"].(string)
		if strings.HasSuffix(strings.ToLower(email), "test.example") && (last == "Wilson" || last == "Rogers") {
			id, _ := sfapi.To18(rec.ID)
			want = append(want, id)
		}
		return true
	})
	if len(want) == 0 {
		t.Fatal("the generated org has no matching Contact: pick another filter")
	}
	sort.Strings(want)
	out, code := run(t, "--repo", dir, "find", "--object", "Contact", "--where", "Email LIKE '%TEST.EXAMPLE' AND LastName IN ('wilson', 'ROGERS')", "--json")
	if code != exitOK {
		t.Fatalf("find: exit %d: %s", code, out)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Object string         `json:"object"`
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("find --json line %q: %v", line, err)
		}
		if last := m.Fields["LastName"]; m.Object != "Contact" || last != "Wilson" && last != "Rogers" {
			t.Fatalf("find --json line %q", line)
		}
		got = append(got, m.ID)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("find matched %d records %v, the org has %d: %v", len(got), got, len(want), want)
	}

	// --fields Id --csv: the Id column alone; --limit stops early.
	out, code = run(t, "--repo", dir, "find", "--object", "Contact", "--where", "LastName IN ('Wilson', 'Rogers')", "--fields", "Id", "--csv", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r", "")), "\n")
	if code != exitOK || len(lines) != 3 || lines[0] != "Id" || len(lines[1]) != 18 {
		t.Fatalf("find --fields Id --csv --limit 2: exit %d:\n%s", code, out)
	}
	out, code = run(t, "--repo", dir, "find", "--object", "Contact", "--fields", "LastName,email", "--csv", "--limit", "1")
	if code != exitOK || !strings.HasPrefix(out, "Id,LastName,Email\r\n") {
		t.Fatalf("find --fields LastName,email --csv: exit %d:\n%s", code, out)
	}

	// Bad input: exit 2, and the message says what to fix.
	for _, c := range []struct{ where, says string }{
		{"Email = ", "column"},
		{"Emial = 'a@b.com'", "Email"},
		{"CreatedDate > 'yesterday'", "CreatedDate"},
	} {
		out, code := run(t, "--repo", dir, "find", "--object", "Contact", "--where", c.where)
		err := findErr(t, dir, c.where)
		if code != exitUsage || !strings.Contains(err, c.says) {
			t.Errorf("find --where %q: exit %d, error %q (output %q); want exit %d mentioning %q", c.where, code, err, out, exitUsage, c.says)
		}
	}
}

// findErr is the error find reports for a filter.
func findErr(t *testing.T, dir, where string) string {
	t.Helper()
	app := newApp()
	err := runApp(context.Background(), app, []string{"orgsnap", "--repo", dir, "find", "--object", "Contact", "--where", where})
	if err == nil {
		return ""
	}
	return err.Error()
}
