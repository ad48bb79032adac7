package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/orgsnap/orgsnap/export"
	"github.com/orgsnap/orgsnap/export/exporttest"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// readCSVDir reads dir/<Object>.csv back as records (empty fields left
// out, as export writes nulls), by Id, with the header's field names.
func readCSVDir(t *testing.T, dir, object string) (map[string]map[string]string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, object+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	rows := map[string]map[string]string{}
	err = export.ReadCSV(f, func(row []string) error {
		if header == nil {
			header = slices.Clone(row)
			return nil
		}
		m := map[string]string{}
		for i, v := range row {
			if v != "" {
				m[header[i]] = v
			}
		}
		rows[row[0]] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, header
}

// want renders snapshot records as the CSV holds them: by field name,
// nulls left out, only the named fields (all when names is nil).
func want(rec record.Record, id string, names []string) map[string]string {
	m := map[string]string{"Id": id}
	for _, f := range rec {
		if f.Kind != record.Null && (names == nil || slices.Contains(names, f.Name)) {
			m[f.Name] = f.Value
		}
	}
	return m
}

// TestToDirHierarchy: --to-dir with Accounts and --with-children writes
// exactly the Accounts and their snapshot children, every field equal to
// the snapshot in the CSV; the tree plan imports into an empty emulated
// org with every Contact under the Account it had.
func TestToDirHierarchy(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 7, Records: 2000})
	s1, roots, _ := deleteHierarchy(e, 2, 4)
	r := e.open()
	defer r.Close()
	dir := t.TempDir()
	rep, err := ToDir(bg, r, Options{Snapshot: s1, Targets: []Target{{Object: "Account", IDs: roots}}, WithChildren: true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	isRoot := map[string]bool{}
	for _, id := range roots {
		isRoot[id] = true
	}
	// Expected: the roots and the child Account (self-lookup), and the
	// snapshot's Contacts, Opportunities and Cases under the roots (the
	// children this test checks object by object).
	expect := map[string]map[string]record.Record{}
	for obj, ref := range map[string]string{"Account": "ParentId", "Contact": "AccountId", "Opportunity": "AccountId", "Case": "AccountId"} {
		expect[obj] = map[string]record.Record{}
		r.EachRecord(bg, s1, obj, "", func(id string, rec record.Record) error {
			if f, _ := rec.Get(ref); isRoot[f.Value] || obj == "Account" && isRoot[id] {
				expect[obj][id] = rec
			}
			return nil
		})
	}
	for obj, recs := range expect {
		if rep.Records[obj] != len(recs) || len(recs) == 0 {
			t.Errorf("%s: %d records in the set, the snapshot has %d children", obj, rep.Records[obj], len(recs))
		}
		rows, _ := readCSVDir(t, filepath.Join(dir, "csv"), obj)
		if len(rows) != len(recs) {
			t.Errorf("%s.csv: %d rows, want %d", obj, len(rows), len(recs))
		}
		for id, rec := range recs {
			if got, w := fmt.Sprint(rows[id]), fmt.Sprint(want(rec, id, nil)); got != w {
				t.Errorf("%s %s: CSV %s, snapshot %s", obj, id, got, w)
			}
		}
	}

	// The tree plan into an empty org: references rebuilt.
	dst := sftest.NewServer(sftest.Options{Seed: 8})
	defer dst.Close()
	newID, err := exporttest.ImportTree(bg, (&env{t: t, srv: dst}).newClient(), filepath.Join(dir, "tree"))
	if err != nil {
		t.Fatal(err)
	}
	for id, rec := range expect["Contact"] {
		nid, ok := newID[export.RefID(id)]
		if !ok {
			t.Errorf("Contact %s was not imported", id)
			continue
		}
		got, _ := dst.Org.Get(nid)
		oa, _ := rec.Get("AccountId")
		na, _ := got.Fields["AccountId"].(string)
		if na == "" || na != newID[export.RefID(oa.Value)] {
			t.Errorf("Contact %s: imported under Account %q, was %s", id, na, oa.Value)
		}
	}
}

// TestToDirChangedFields: a --changed-since window with --fields writes
// the changed records only, with Id and the chosen field as it was before
// the window.
func TestToDirChangedFields(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 3, Records: 1500})
	org := e.srv.Org
	a := e.snapshot()
	var bad []string
	for i, c := range records(t, org, "Contact", func(sftest.Record) bool { return true }) {
		if i%10 == 0 {
			bad = append(bad, c.ID)
			if err := org.Update(c.ID, map[string]any{"Department": "Bad Load", "Title": "changed too"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := e.snapshot()
	r := e.open()
	defer r.Close()
	dir := t.TempDir()
	rep, err := ToDir(bg, r, Options{Snapshot: a, ChangedSince: a, Until: b, Fields: []string{"Contact.Department"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 1 || rep.Records["Contact"] != len(bad) {
		t.Fatalf("set %v, want %d Contacts", rep.Records, len(bad))
	}
	rows, header := readCSVDir(t, filepath.Join(dir, "csv"), "Contact")
	if fmt.Sprint(header) != "[Id Department]" {
		t.Errorf("header %v", header)
	}
	for _, id := range bad {
		rec, _, err := r.Record(bg, a, "Contact", id)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := fmt.Sprint(rows[id]), fmt.Sprint(want(rec, id, []string{"Department"})); got != w {
			t.Errorf("Contact %s: CSV %s, snapshot %s", id, got, w)
		}
	}
}
