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
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// TestCLIRestore runs `orgsnap restore` against an emulated org the way
// the guide does: a deleted Account with its children planned (text and
// --json, nothing written), restored, then a restore that Salesforce
// partly refuses exits 6 with the failures in the results CSV, and
// --to-dir writes the restore set without any org.
func TestCLIRestore(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "repo-password")
	phoneRequired := false
	srv := sftest.NewServer(sftest.Options{Seed: 4, Records: 600, ValidationRules: []sftest.ValidationRule{{
		Object: "Contact", Name: "Phone_Required", Message: "A contact needs a phone number", ErrorField: "Phone",
		Fails: func(r sftest.Record) bool { return phoneRequired && r.Fields["Phone"] == nil }}}})
	defer srv.Close()
	org := srv.Org
	dir := filepath.Join(t.TempDir(), "repo")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	t.Setenv(envSFPassword, sftest.DefaultPassword)
	t.Setenv(envSFClientSecret, sftest.DefaultClientSecret)
	if out, code, err := runErr(t, "--repo", dir, "org", "add", "dev", "--login-url", srv.URL, "--username", "admin@orgsnap.test",
		"--client-id", sftest.DefaultClientID); code != exitOK {
		t.Fatalf("org add: %d %v %s", code, err, out)
	}
	if out, code, err := runErr(t, "--repo", dir, "snapshot"); code != exitOK {
		t.Fatalf("snapshot: %d %v %s", code, err, out)
	}

	// An Account with Contacts, deleted with them (soft: the Recycle Bin
	// keeps them), and one Contact purged (it comes back with a new Id).
	byAccount := map[string][]string{}
	org.Records("Contact", func(r sftest.Record) bool {
		if a, _ := r.Fields["AccountId"].(string); a != "" && !r.Deleted {
			byAccount[a] = append(byAccount[a], r.ID)
		}
		return true
	})
	var acct string
	for a, cs := range byAccount {
		if len(cs) >= 2 && (acct == "" || a < acct) {
			acct = a
		}
	}
	if acct == "" {
		t.Fatal("fixture: no Account with two Contacts")
	}
	contacts := byAccount[acct]
	for _, id := range append(contacts, acct) {
		if err := org.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := org.Purge(contacts[0]); err != nil {
		t.Fatal(err)
	}
	liveContacts := func() int { return int(org.Count("Contact", false)) }
	before := liveContacts()

	args := []string{"--repo", dir, "restore", "latest", "--object", "Account", "--id", acct, "--with-children"}
	out, code, err := runErr(t, append(args, "--dry-run")...)
	if code != exitOK || !strings.Contains(out, "order: Account → Contact") || !strings.Contains(out, "undelete") ||
		!strings.Contains(out, "insert          1  gone from the org: new Ids") {
		t.Fatalf("dry run: %d %v\n%s", code, err, out)
	}
	out, code, err = runErr(t, append([]string{"--json"}, append(args, "--dry-run")...)...)
	var plan struct {
		Plan struct {
			Order   []string `json:"order"`
			Objects []struct {
				Object   string `json:"object"`
				Records  int    `json:"records"`
				Insert   int    `json:"insert"`
				Undelete int    `json:"undelete"`
			} `json:"objects"`
		} `json:"plan"`
		Results []any `json:"results"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &plan) != nil || len(plan.Plan.Objects) < 2 || len(plan.Results) != 0 {
		t.Fatalf("dry run --json: %d %v\n%s", code, err, out)
	}
	if a, c := plan.Plan.Objects[0], plan.Plan.Objects[1]; a.Object != "Account" || a.Undelete != 1 ||
		c.Object != "Contact" || c.Records != len(contacts) || c.Insert != 1 || c.Undelete != len(contacts)-1 {
		t.Errorf("planned %+v and %+v; %d Contacts deleted, 1 of them purged", a, c, len(contacts))
	}
	if liveContacts() != before {
		t.Fatal("a dry run wrote")
	}

	out, code, err = runErr(t, args...)
	if code != exitOK || !strings.Contains(out, "restored: ") || !strings.Contains(out, " 0 failed") {
		t.Fatalf("restore: %d %v\n%s", code, err, out)
	}
	if got := liveContacts(); got != before+len(contacts) {
		t.Fatalf("%d Contacts live after the restore, want %d", got, before+len(contacts))
	}
	if a, ok := org.Get(acct); !ok || a.Deleted {
		t.Fatal("the Account is not back")
	}

	// Contacts without a phone purged, then a rule requiring one: the
	// restore inserts the others and exits 6.
	var ids []string
	noPhone, withPhone := 0, 0
	org.Records("Contact", func(r sftest.Record) bool {
		if !r.Deleted && r.Fields["Phone"] == nil && noPhone < 4 {
			ids = append(ids, r.ID)
			noPhone++
		} else if !r.Deleted && r.Fields["Phone"] != nil && withPhone < 6 {
			ids = append(ids, r.ID)
			withPhone++
		}
		return true
	})
	if noPhone == 0 {
		for _, id := range ids[:2] {
			if err := org.Update(id, map[string]any{"Phone": nil}); err != nil {
				t.Fatal(err)
			}
		}
		noPhone = 2
	}
	if out, code, err := runErr(t, "--repo", dir, "snapshot"); code != exitOK {
		t.Fatalf("snapshot: %d %v %s", code, err, out)
	}
	for _, id := range ids {
		if err := org.Delete(id); err != nil {
			t.Fatal(err)
		}
		if err := org.Purge(id); err != nil {
			t.Fatal(err)
		}
	}
	phoneRequired = true
	results := filepath.Join(t.TempDir(), "results.csv")
	out, code, err = runErr(t, "--repo", dir, "restore", "latest", "--object", "Contact", "--id", strings.Join(ids, ","), "--no-parents", "--results", results)
	if code != exitRestoreFailed || err == nil || !strings.Contains(out, "FIELD_CUSTOM_VALIDATION_EXCEPTION A contact needs a phone number") {
		t.Fatalf("restore with failures: exit %d, want %d (%v)\n%s", code, exitRestoreFailed, err, out)
	}
	b, rerr := os.ReadFile(results)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if n := strings.Count(string(b), "FIELD_CUSTOM_VALIDATION_EXCEPTION"); n != noPhone {
		t.Errorf("results CSV has %d failures, want %d:\n%s", n, noPhone, b)
	}

	// --to-dir: no org profile needed, nothing written to the org.
	to := filepath.Join(t.TempDir(), "set")
	count := liveContacts()
	out, code, err = runErr(t, "--repo", dir, "restore", "latest", "--object", "Contact", "--id", strings.Join(ids, ","), "--to-dir", to)
	if code != exitOK || !strings.Contains(out, "no org was read or written") {
		t.Fatalf("--to-dir: %d %v\n%s", code, err, out)
	}
	csvData, rerr := os.ReadFile(filepath.Join(to, "csv", "Contact.csv"))
	if rerr != nil || strings.Count(string(csvData), "\r\n") != len(ids)+1 {
		t.Fatalf("Contact.csv: %v\n%s", rerr, csvData)
	}
	if _, err := os.Stat(filepath.Join(to, "tree", "plan.json")); err != nil {
		t.Fatal(err)
	}
	if liveContacts() != count {
		t.Fatal("--to-dir wrote to the org")
	}
	// --where binds to the snapshot's fields (any letter case in --object).
	last := ""
	org.Records("Contact", func(r sftest.Record) bool {
		last, _ = r.Fields["LastName"].(string)
		return last == ""
	})
	want := 0 // the snapshot's Contacts of that name
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("repo-password")})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := r.ResolveRevision(context.Background(), "latest")
	if err == nil {
		err = r.EachRecord(context.Background(), latest, "Contact", "", func(_ string, rec record.Record) error {
			if f, _ := rec.Get("LastName"); f.Value == last {
				want++
			}
			return nil
		})
	}
	r.Close()
	if err != nil || want == 0 {
		t.Fatalf("%d Contacts named %q in the snapshot (%v)", want, last, err)
	}
	to = filepath.Join(t.TempDir(), "where")
	out, code, err = runErr(t, "--repo", dir, "restore", "latest", "--object", "contact", "--where", "LastName = '"+last+"'", "--to-dir", to)
	if code != exitOK {
		t.Fatalf("--where: %d %v\n%s", code, err, out)
	}
	csvData, rerr = os.ReadFile(filepath.Join(to, "csv", "Contact.csv"))
	if rerr != nil || strings.Count(string(csvData), "\r\n") != want+1 || !strings.Contains(string(csvData), ","+last+",") {
		t.Fatalf("Contact.csv for LastName %q (%d records): %v\n%s", last, want, rerr, csvData)
	}
	if _, code, err = runErr(t, "--repo", dir, "restore", "latest", "--object", "Contact", "--where", "NoSuchField = 1", "--to-dir", to); code != exitUsage {
		t.Fatalf("--where with an unknown field: exit %d (%v)", code, err)
	}
}
