package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// The acceptance test of diff and history: an emulated org goes through a
// scripted sequence of changes, a snapshot is taken after each step, and
// the expected changes between any two snapshots are computed from what
// the org held at each snapshot (read from the emulator, not from the
// repository): diff must report exactly those, and history exactly the
// versions of each record the script touched.

// orgState is what the test knows of the org at one snapshot.
type orgState struct {
	rev      string                    // the snapshot id
	records  map[string]map[string]any // watched Id → backed-up fields (nil: not in the org, or in the Recycle Bin)
	bodies   map[string]int            // watched file Id → body version (0: no body)
	projects map[string]bool           // live Project__c Ids (every record of the object whose schema changes)
	schema   map[string]bool           // Project__c fields
}

type scriptedOrg struct {
	t       *testing.T
	org     *sftest.Org
	client  *sfapi.Client
	dir     string
	watched map[string]string // Id → object
	bodyVer map[string]int    // file record Id → the body version the script last wrote
	fields  map[string][]string
	states  []orgState
}

func (so *scriptedOrg) backedUp(object string) []string {
	if f, ok := so.fields[object]; ok {
		return f
	}
	so.client.ForgetDescribes()
	d, err := so.client.Describe(context.Background(), object)
	if err != nil {
		so.t.Fatal(err)
	}
	var names []string
	for _, f := range d.Fields {
		if backup.Selectable(f) && !(f.Calculated && f.CalculatedFormula != "") && f.Name != "Id" {
			names = append(names, f.Name)
		}
	}
	so.fields[object] = names
	return names
}

// snapshot takes a snapshot a day after the last and records the org's
// state at that time.
func (so *scriptedOrg) snapshot() {
	t := so.t
	t.Helper()
	so.org.Advance(24 * time.Hour)
	st := orgState{records: map[string]map[string]any{}, bodies: map[string]int{}, projects: map[string]bool{}, schema: map[string]bool{}}
	for id, object := range so.watched {
		rec, ok := so.org.Get(id)
		if !ok || rec.Deleted {
			st.records[id] = nil
			continue
		}
		m := map[string]any{}
		for _, f := range so.backedUp(object) {
			m[f] = rec.Fields[f]
		}
		st.records[id] = m
		if v, ok := so.bodyVer[id]; ok {
			st.bodies[id] = v
		}
	}
	so.fields = map[string][]string{} // describes may change before the next snapshot
	for _, f := range so.backedUp("Project__c") {
		st.schema[f] = true
	}
	so.org.Records("Project__c", func(r sftest.Record) bool {
		if !r.Deleted {
			st.projects[r.ID] = true
		}
		return true
	})
	r, err := repo.Open(context.Background(), so.dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := backup.Run(context.Background(), r, so.client, backup.Options{Now: so.org.Now, Parallel: backup.Parallelism{Bulk: 1, REST: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st.rev = res.Snapshot.ID.String()
	so.states = append(so.states, st)
}

func (so *scriptedOrg) must(err error) {
	so.t.Helper()
	if err != nil {
		so.t.Fatal(err)
	}
}

func (so *scriptedOrg) insert(object string, fields map[string]any) string {
	so.t.Helper()
	id, err := so.org.Insert(object, fields)
	so.must(err)
	id, err = sfapi.To18(id)
	so.must(err)
	so.watched[id] = object
	return id
}

// liveIDs returns n live records of object not yet watched, and watches them.
func (so *scriptedOrg) liveIDs(object string, n int) []string {
	var ids []string
	so.org.Records(object, func(r sftest.Record) bool {
		if _, ok := so.watched[r.ID]; !ok && !r.Deleted {
			id, _ := sfapi.To18(r.ID)
			ids = append(ids, id)
			so.watched[id] = object
		}
		return len(ids) < n
	})
	if len(ids) < n {
		so.t.Fatalf("only %d live %s records", len(ids), object)
	}
	return ids
}

func body(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDiffAndHistoryOnScriptedOrg(t *testing.T) {
	srv, dir, client := emulatorRepo(t, sftest.Options{Seed: 21, Records: 1500})
	so := &scriptedOrg{t: t, org: srv.Org, client: client, dir: dir, watched: map[string]string{}, bodyVer: map[string]int{}, fields: map[string][]string{}}
	leads := so.liveIDs("Lead", 6) // 0-1 updated, 2 deleted and undeleted, 3 purged, 4-5 untouched
	atts := so.liveIDs("Attachment", 2)
	account := so.liveIDs("Account", 1)[0]
	for _, a := range atts {
		so.bodyVer[a] = 1 // generated with a body
	}
	so.snapshot() // 0: full

	// 1: creates, updates, a soft delete, a new file.
	newLead := so.insert("Lead", map[string]any{"LastName": "Scripted", "Company": "Orgsnap Test"})
	newLead2 := so.insert("Lead", map[string]any{"LastName": "Second", "Company": "Orgsnap Test"})
	so.must(so.org.Update(leads[0], map[string]any{"Title": "Chief Tester"}))
	so.must(so.org.Update(leads[1], map[string]any{"Title": "Tester", "Phone": "555-0100"}))
	so.must(so.org.Delete(leads[2]))
	newAtt := so.insert("Attachment", map[string]any{"Name": "notes.txt", "ParentId": account, "Body": body("first version")})
	so.bodyVer[newAtt] = 1
	so.snapshot()

	// 2: an undelete, a hard delete, a file changed, a field added.
	so.must(so.org.Undelete(leads[2]))
	so.must(so.org.Purge(leads[3]))
	so.must(so.org.Update(atts[0], map[string]any{"Body": body("a new body for the attachment")}))
	so.bodyVer[atts[0]] = 2
	so.must(so.org.AddField("Project__c", "Phase__c", "string", 40))
	so.snapshot()

	// 3: updates of a created and an undeleted record, a deletion of a
	// created one, a file deleted with its record.
	so.must(so.org.Update(newLead, map[string]any{"Company": "Orgsnap Testing Ltd"}))
	so.must(so.org.Update(leads[2], map[string]any{"Title": "Back again"}))
	so.must(so.org.Delete(newLead2))
	so.must(so.org.Delete(atts[1]))
	so.snapshot()

	// 4: nothing happens.
	so.snapshot()

	// 5: an undelete of a record created after the first snapshot, an
	// update of a field back to an earlier value, and a second body.
	so.must(so.org.Undelete(newLead2))
	so.must(so.org.Update(leads[0], map[string]any{"Title": nil}))
	so.must(so.org.Update(newAtt, map[string]any{"Body": body("second version, longer")}))
	so.bodyVer[newAtt] = 2
	so.snapshot()

	n := len(so.states)
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			if a == b {
				continue
			}
			// Name the snapshots in several revision forms.
			revA, revB := so.states[a].rev[:10], fmt.Sprintf("latest~%d", n-1-b)
			if (a+b)%2 == 0 {
				revA, revB = fmt.Sprintf("main~%d", n-1-a), so.states[b].rev
			}
			got := diffLines(t, dir, "diff", revA, revB)
			want := expectedDiff(so, so.states[a], so.states[b])
			if a == 1 && b == 2 {
				t.Logf("diff 1→2: %d changes, of which %d outside Project__c", len(want), len(want)-len(so.states[1].projects))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("diff %d→%d (%s %s):\n%s", a, b, revA, revB, setDiff(got, want))
			}
		}
	}
	// The default is latest against its parent; A..B is A against B.
	if got, want := diffLines(t, dir, "diff"), expectedDiff(so, so.states[n-2], so.states[n-1]); !reflect.DeepEqual(got, want) {
		t.Errorf("diff (default):\n%s", setDiff(got, want))
	}
	if got, want := diffLines(t, dir, "diff", "main~4..main~1"), expectedDiff(so, so.states[1], so.states[4]); !reflect.DeepEqual(got, want) {
		t.Errorf("diff main~4..main~1:\n%s", setDiff(got, want))
	}

	// history lists exactly the versions of each watched record.
	for id, object := range so.watched {
		arg := id
		if len(so.watched)%2 == 0 || object == "Lead" {
			arg = id[:15]
		}
		out, code := run(t, "--repo", dir, "--json", "history", arg)
		if code != exitOK {
			t.Fatalf("history %s: %d %s", arg, code, out)
		}
		var h struct {
			Object   string `json:"object"`
			Versions []struct {
				Snapshot string `json:"snapshot"`
				Kind     string `json:"kind"`
				Fields   []struct {
					Name string `json:"name"`
				} `json:"fields"`
			} `json:"versions"`
		}
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatal(err)
		}
		if h.Object != object {
			t.Errorf("history %s: object %s, want %s", id, h.Object, object)
		}
		var got []string
		for _, v := range h.Versions {
			var names []string
			for _, f := range v.Fields {
				names = append(names, f.Name)
			}
			got = append(got, v.Snapshot[:8]+" "+v.Kind+" "+strings.Join(names, ","))
		}
		if want := expectedHistory(so, id); !slices.Equal(got, want) {
			t.Errorf("history %s (%s):\n got  %q\n want %q", id, object, got, want)
		}
	}
}

// diffLines runs `orgsnap --json diff ARGS` and returns one string per
// change: object, what, id or field, kind, and the changed field names.
func diffLines(t *testing.T, dir string, args ...string) map[string]string {
	t.Helper()
	out, code := run(t, append([]string{"--repo", dir, "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("%v: exit %d: %s", args, code, out)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c struct {
			Object, What, ID, Field, Kind string
			Fields                        []struct{ Name string }
			OldType                       string `json:"old_type"`
			NewType                       string `json:"new_type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		key := c.Object + " " + c.What + " " + c.ID + c.Field
		var names []string
		for _, f := range c.Fields {
			names = append(names, f.Name)
		}
		v := c.Kind + " " + strings.Join(names, ",")
		if c.What == "field" {
			v = c.Kind + " " + c.OldType + ">" + c.NewType
		}
		if _, dup := got[key]; dup {
			t.Errorf("change reported twice: %s", key)
		}
		got[key] = v
	}
	return got
}

func kindOf(a, b bool) string {
	switch {
	case !a && b:
		return "added"
	case a && !b:
		return "deleted"
	}
	return "changed"
}

// expectedDiff is what diff from state a to state b must report, from the
// org's states alone.
func expectedDiff(so *scriptedOrg, a, b orgState) map[string]string {
	want := map[string]string{}
	for id, object := range so.watched {
		ra, rb := a.records[id], b.records[id]
		if ra == nil && rb == nil {
			continue
		}
		var names []string
		if ra != nil && rb != nil {
			for f := range rb {
				if !reflect.DeepEqual(ra[f], rb[f]) {
					names = append(names, f)
				}
			}
			sort.Strings(names)
			if len(names) == 0 {
				continue
			}
		}
		want[object+" record "+id] = kindOf(ra != nil, rb != nil) + " " + strings.Join(names, ",")
		if object == "Attachment" {
			va, vb := a.bodies[id], b.bodies[id]
			if ra == nil {
				va = 0
			}
			if rb == nil {
				vb = 0
			}
			if va != vb {
				want[object+" file "+id] = kindOf(va != 0, vb != 0) + " "
			}
		}
	}
	// A field added to Project__c: the schema says so.
	var added, removed []string
	for f := range b.schema {
		if !a.schema[f] {
			added = append(added, f)
		}
	}
	for f := range a.schema {
		if !b.schema[f] {
			removed = append(removed, f)
		}
	}
	for _, f := range added {
		want["Project__c field "+f] = "added >string(40)"
	}
	for _, f := range removed {
		want["Project__c field "+f] = "deleted string(40)>"
	}
	// The records gain (or lose) the field null: that is no change of a
	// record (a field one version lacks is null in it), so none is listed.
	return want
}

// expectedHistory is the list of versions history must print for id,
// newest first: "snapshot kind fields".
func expectedHistory(so *scriptedOrg, id string) []string {
	var out []string
	var last map[string]any
	lastBody := 0
	present, seen := false, false
	for _, st := range so.states {
		rec := st.records[id]
		var kind string
		var names []string
		diffFields := func() {
			for f := range rec {
				if !reflect.DeepEqual(last[f], rec[f]) {
					names = append(names, f)
				}
			}
			sort.Strings(names)
		}
		switch {
		case rec == nil && !present:
			continue
		case rec == nil:
			kind, present = "deleted", false
		case !seen:
			kind = "created"
		case !present:
			kind = "undeleted"
			diffFields()
		default:
			kind = "changed"
			diffFields()
			if len(names) == 0 && st.bodies[id] == lastBody {
				continue
			}
		}
		if rec != nil {
			present, seen, last, lastBody = true, true, rec, st.bodies[id]
		}
		out = append(out, st.rev[:8]+" "+kind+" "+strings.Join(names, ","))
	}
	slices.Reverse(out)
	return out
}

func setDiff(got, want map[string]string) string {
	var b strings.Builder
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !wok:
			fmt.Fprintf(&b, "  unexpected %s: %s\n", k, g)
		case !gok:
			fmt.Fprintf(&b, "  missing    %s: %s\n", k, w)
		case g != w:
			fmt.Fprintf(&b, "  wrong      %s: got %s, want %s\n", k, g, w)
		}
	}
	return b.String()
}
