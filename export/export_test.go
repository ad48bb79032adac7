package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/export/exporttest"
	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var bg = context.Background()

type halfRand struct{}

func (halfRand) Float64() float64 { return 0.5 }

func clientFor(t testing.TB, srv *sftest.Server) *sfapi.Client {
	t.Helper()
	c, err := sfapi.New(sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock: sftest.ClientClock{Org: srv.Org, MaxSleep: time.Millisecond}, Rand: halfRand{},
		Retry: sfapi.RetryPolicy{MaxAttempts: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshotOrg backs up a generated emulator org and returns the open
// repository and its snapshot.
func snapshotOrg(t testing.TB, records int) (*repo.Repository, *repo.Snapshot) {
	t.Helper()
	srv := sftest.NewServer(sftest.Options{Seed: 5, Records: records})
	t.Cleanup(srv.Close)
	// Values that need CSV quoting and JSON escaping, which the generator
	// does not make.
	for _, v := range []map[string]any{
		{"Name": `Smith, "Junior" & Co`, "Description": " line one\r\nline two, with \"quotes\" \t"},
		{"Name": "Ünïcödé ☃ \u2028", "Description": "trailing space "},
	} {
		if _, err := srv.Org.Insert("Account", v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	r, err := repo.Init(bg, dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	res, err := backup.Run(bg, r, clientFor(t, srv), backup.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, res.Snapshot
}

// TestCSVRoundTrip: every object of a generated org exported as CSV reads
// back as the snapshot, record for record and field for field, and every
// file body is written out byte for byte.
func TestCSVRoundTrip(t *testing.T) {
	r, s := snapshotOrg(t, 3000)
	dir := t.TempDir()
	results, err := Run(bg, r, s, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ResolveObjects(bg, r, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(objs) || len(objs) < 10 {
		t.Fatalf("%d results for %d objects", len(results), len(objs))
	}
	quoted, files := 0, 0
	for _, res := range results {
		obj, err := r.Object(bg, s, res.Object)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(res.Records) != obj.Records {
			t.Errorf("%s: exported %d records of %d", res.Object, res.Records, obj.Records)
		}
		f, err := os.Open(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(f)
		f.Close()
		quoted += bytes.Count(raw, []byte(`"`))
		next, stop := pull(t, r, s, res.Object)
		var header []string
		bodyCol := -1
		rows := 0
		err = ReadCSV(bytes.NewReader(raw), func(row []string) error {
			if header == nil {
				header = append([]string(nil), row...)
				if header[0] != "Id" {
					return fmt.Errorf("header starts with %q", header[0])
				}
				if obj.Files > 0 {
					bodyCol = len(header) - 1
				}
				return nil
			}
			if len(row) != len(header) {
				return fmt.Errorf("row %d has %d fields, header %d", rows+1, len(row), len(header))
			}
			id, rec, ok := next()
			if !ok {
				return fmt.Errorf("extra row %s", row[0])
			}
			rows++
			if row[0] != id {
				return fmt.Errorf("row %d: Id %s, snapshot %s", rows, row[0], id)
			}
			held := 0
			for i := 1; i < len(header); i++ {
				if i == bodyCol {
					continue
				}
				want := ""
				if fv, ok := rec.Get(header[i]); ok {
					held++
					want = fv.Value
				}
				if row[i] != want {
					return fmt.Errorf("%s.%s: CSV %q, snapshot %q", id, header[i], row[i], want)
				}
			}
			if held != len(rec) {
				return fmt.Errorf("%s: the CSV has %d of the record's %d fields", id, held, len(rec))
			}
			if bodyCol >= 0 && row[bodyCol] != "" {
				files++
				fid, ok, err := r.File(bg, s, res.Object, id)
				if err != nil || !ok {
					return fmt.Errorf("%s: a body path %q but no stored file (%v)", id, row[bodyCol], err)
				}
				rd, _, err := r.OpenFile(bg, fid)
				if err != nil {
					return err
				}
				want, _ := io.ReadAll(rd)
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(row[bodyCol])))
				if err != nil || !bytes.Equal(got, want) {
					return fmt.Errorf("%s: body %s differs from the stored file (%v)", id, row[bodyCol], err)
				}
			}
			return nil
		})
		stop()
		if err != nil {
			t.Fatalf("%s: %v", res.Object, err)
		}
		if uint64(rows) != obj.Records {
			t.Errorf("%s: CSV has %d rows, snapshot %d records", res.Object, rows, obj.Records)
		}
		if res.Files != int(obj.Files) {
			t.Errorf("%s: %d files written, %d stored", res.Object, res.Files, obj.Files)
		}
	}
	if quoted == 0 || files == 0 {
		t.Errorf("the org exercised no quoting (%d quotes) or no files (%d)", quoted, files)
	}
	t.Logf("%d objects, %d quote characters, %d files", len(results), quoted, files)
}

// pull iterates a snapshot object's records one at a time.
func pull(t testing.TB, r *repo.Repository, s *repo.Snapshot, object string) (next func() (string, record.Record, bool), stop func()) {
	type item struct {
		id  string
		rec record.Record
	}
	ch := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		r.EachRecord(bg, s, object, "", func(id string, rec record.Record) error {
			select {
			case ch <- item{id, rec}:
				return nil
			case <-done:
				return context.Canceled
			}
		})
	}()
	return func() (string, record.Record, bool) {
			it, ok := <-ch
			return it.id, it.rec, ok
		}, func() {
			close(done)
			for range ch {
			}
		}
}

func TestCSVQuoting(t *testing.T) {
	var b bytes.Buffer
	w, err := NewCSV(&b, []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.Record{{Name: "A", Kind: record.String, Value: "x,\"y\"\r\nz"}, {Name: "B", Kind: record.Null}, {Name: "C", Kind: record.String, Value: " pad"}}
	w.Write("001000000000001AAA", rec)
	w.Write("001000000000002AAA", nil)
	w.Write("001000000000003AAA", rec[1:]) // a record without A
	w.Flush()
	want := "Id,A,B,C\r\n001000000000001AAA,\"x,\"\"y\"\"\r\nz\",,\" pad\"\r\n001000000000002AAA,,,\r\n001000000000003AAA,,,\" pad\"\r\n"
	if b.String() != want {
		t.Fatalf("CSV:\n%q\nwant\n%q", b.String(), want)
	}
	var rows [][]string
	if err := ReadCSV(&b, func(row []string) error { rows = append(rows, append([]string(nil), row...)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[1][1] != rec[0].Value || rows[1][3] != " pad" || rows[2][3] != "" {
		t.Fatalf("read back %q", rows)
	}
	for _, bad := range []string{"a,\"b\n", "a,b\"c\n", "\"a\"b\n", "a\rb\n"} {
		if err := ReadCSV(strings.NewReader(bad), func([]string) error { return nil }); err == nil {
			t.Errorf("ReadCSV(%q) accepted malformed CSV", bad)
		}
	}
}

// TestTreeImportsIntoEmulator: a tree export of related objects, posted to
// an empty org's /composite/tree the way `sf data import tree` does
// (references resolved from earlier files' results), recreates the records
// and their relationships.
func TestTreeImportsIntoEmulator(t *testing.T) {
	r, s := snapshotOrg(t, 3000)
	dir := t.TempDir()
	where, err := filter.Parse("Id != null") // every record; exercises binding per object
	if err != nil {
		t.Fatal(err)
	}
	results, err := Run(bg, r, s, Options{Dir: dir, Format: FormatTree, Objects: []string{"contact", "Account"}, Where: where})
	if err != nil {
		t.Fatal(err)
	}
	var plan []PlanEntry
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 2 || plan[0].SObject != "Account" || plan[1].SObject != "Contact" || !plan[1].ResolveRefs {
		t.Fatalf("plan %s", b)
	}

	dst := sftest.NewServer(sftest.Options{Seed: 6})
	defer dst.Close()
	c := clientFor(t, dst)
	for _, e := range plan {
		if len(e.Files) < 2 {
			t.Errorf("%s: %d files; the org has more than %d", e.SObject, len(e.Files), TreeBatch)
		}
		for _, name := range e.Files { // one tree request each: at most 200 records
			b, err := os.ReadFile(filepath.Join(dir, name))
			if n := strings.Count(string(b), `"referenceId":`); err != nil || n > TreeBatch {
				t.Fatalf("%s: %d records (%v)", name, n, err)
			}
		}
	}
	newID, err := exporttest.ImportTree(bg, c, dir) // referenceId → new Id
	if err != nil {
		t.Fatal(err)
	}
	// Every Contact came over, with its Account's name reachable through
	// the new relationship exactly when the original had an Account.
	counts := map[string]int{}
	for _, res := range results {
		counts[res.Object] = res.Records
	}
	got := int(dst.Org.Count("Contact", false))
	if got != counts["Contact"] {
		t.Fatalf("target org has %d Contacts, exported %d", got, counts["Contact"])
	}
	oldByRef := map[string]record.Record{}
	accName := map[string]string{}
	r.EachRecord(bg, s, "Account", "", func(id string, rec record.Record) error {
		f, _ := rec.Get("Name")
		accName[id] = f.Value
		return nil
	})
	r.EachRecord(bg, s, "Contact", "", func(id string, rec record.Record) error {
		oldByRef[newID[RefID(id)]] = rec
		return nil
	})
	newAccName := map[string]string{}
	dst.Org.Records("Account", func(x sftest.Record) bool {
		newAccName[x.ID], _ = x.Fields["Name"].(string)
		return true
	})
	withAccount := 0
	err = dst.Org.Records("Contact", func(x sftest.Record) bool {
		old, ok := oldByRef[x.ID]
		if !ok {
			t.Errorf("Contact %s was not exported", x.ID)
			return false
		}
		for _, f := range []string{"LastName", "Email", "Title"} {
			ov, _ := old.Get(f)
			nv, _ := x.Fields[f].(string)
			if ov.Value != nv {
				t.Errorf("Contact %s.%s: %q, exported %q", x.ID, f, nv, ov.Value)
			}
		}
		oa, _ := old.Get("AccountId")
		na, _ := x.Fields["AccountId"].(string)
		if (oa.Value == "") != (na == "") || oa.Value != "" && accName[oa.Value] != newAccName[na] {
			t.Errorf("Contact %s: Account %q (%q), exported %q (%q)", x.ID, na, newAccName[na], oa.Value, accName[oa.Value])
		}
		if na != "" {
			withAccount++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if withAccount == 0 {
		t.Error("no Contact kept its Account")
	}
	t.Logf("imported %d Accounts, %d Contacts (%d with an Account)", counts["Account"], counts["Contact"], withAccount)
}

// TestTreeFileBodies: Attachments exported in the tree format carry their
// bodies inline (base64); imported into an empty emulated org under the
// Accounts exported with them, each has its body byte for byte and the
// new Account as its parent.
func TestTreeFileBodies(t *testing.T) {
	r, s := snapshotOrg(t, 3000)
	dir := t.TempDir()
	onAccount := func(object, id string, rec record.Record) (record.Record, bool) {
		f, _ := rec.Get("ParentId")
		return rec, object != "Attachment" || strings.HasPrefix(f.Value, "001")
	}
	results, err := Run(bg, r, s, Options{Dir: dir, Format: FormatTree, Objects: []string{"Account", "Attachment"}, Select: onAccount})
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, res := range results {
		files += res.Files
	}
	dst := sftest.NewServer(sftest.Options{Seed: 6})
	defer dst.Close()
	c := clientFor(t, dst)
	newID, err := exporttest.ImportTree(bg, c, dir)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = r.EachRecord(bg, s, "Attachment", "", func(id string, rec record.Record) error {
		if _, ok := onAccount("Attachment", id, rec); !ok {
			return nil
		}
		fid, ok, err := r.File(bg, s, "Attachment", id)
		if err != nil || !ok {
			return fmt.Errorf("attachment %s has no body in the snapshot (%v)", id, err)
		}
		rd, _, err := r.OpenFile(bg, fid)
		if err != nil {
			return err
		}
		want, _ := io.ReadAll(rd)
		nid := newID[RefID(id)]
		blob, err := c.DownloadBlob(bg, "Attachment", nid, "Body")
		if err != nil {
			return fmt.Errorf("attachment %s (now %q): %w", id, nid, err)
		}
		got, err := io.ReadAll(blob)
		blob.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("attachment %s: %d bytes imported (%v), snapshot %d", id, len(got), err, len(want))
		}
		parent, _ := rec.Get("ParentId")
		if x, _ := dst.Org.Get(nid); x.Fields["ParentId"] != newID[RefID(parent.Value)] {
			t.Errorf("attachment %s: parent %v, want the new Account %s", id, x.Fields["ParentId"], newID[RefID(parent.Value)])
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 || checked != files {
		t.Fatalf("%d attachments checked, %d bodies exported", checked, files)
	}
	t.Logf("%d attachment bodies imported through the tree files", checked)
}
