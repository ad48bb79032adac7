package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/internal/orgtest"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var bg = context.Background()

// env is an emulated org, a client and a repository (as in backup's
// engine tests).
type env struct {
	t      testing.TB
	srv    *sftest.Server
	client *sfapi.Client
	dir    string
	now    time.Time
}

func newEnv(t testing.TB, opts sftest.Options) *env {
	t.Helper()
	srv := sftest.NewServer(opts)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, dir: orgtest.NewRepo(t), now: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)}
	e.client = e.newClient()
	return e
}

func (e *env) newClient() *sfapi.Client { return orgtest.OrgClient(e.t, e.srv) }

func (e *env) open() *repo.Repository { return orgtest.Open(e.t, e.dir) }

// snapshot takes a full snapshot (a day after the last).
func (e *env) snapshot() *repo.Snapshot {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	e.now = e.now.Add(24 * time.Hour)
	at := e.now
	res, err := backup.Run(bg, r, e.client, backup.Options{Full: true, Now: func() time.Time { return at },
		Poll: sfapi.PollOptions{Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	return res.Snapshot
}

func (e *env) restore(opts Options) (*Report, error) {
	r := e.open()
	defer r.Close()
	if opts.Now == nil {
		opts.Now = e.srv.Org.Now
	}
	opts.Poll = sfapi.PollOptions{Initial: time.Millisecond, Max: time.Millisecond}
	opts.TargetOrg = e.srv.Org.ID()
	return Run(bg, r, e.client, opts)
}

func records(t testing.TB, org *sftest.Org, object string, keep func(sftest.Record) bool) []sftest.Record {
	var out []sftest.Record
	if err := org.Records(object, func(r sftest.Record) bool {
		if !r.Deleted && keep(r) {
			out = append(out, r)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// resultMap is old Id → Id in the org after a restore.
func resultMap(rep *Report) map[string]string {
	m := map[string]string{}
	for _, r := range rep.Results {
		if r.NewID != "" {
			m[r.OldID] = r.NewID
		}
	}
	return m
}

// checkRestored asserts that every record of deleted is back in the org
// (under its old Id or the one idmap gives) with every writable field
// equal to snapshot s, and references pointing to the restored records.
func (e *env) checkRestored(s *repo.Snapshot, deleted map[string]string, idmap map[string]string) {
	t := e.t
	t.Helper()
	r := e.open()
	defer r.Close()
	mapped := func(id string) string {
		if n, ok := idmap[id]; ok {
			return n
		}
		return id
	}
	checked := 0
	for old, obj := range deleted {
		d, err := e.client.Describe(bg, obj)
		if err != nil {
			t.Fatal(err)
		}
		want, ok, err := r.Record(bg, s, obj, old)
		if err != nil || !ok {
			t.Fatalf("%s %s not in the snapshot: %v", obj, old, err)
		}
		got, ok := e.srv.Org.Get(mapped(old))
		if !ok || got.Deleted {
			t.Errorf("%s %s (now %s) is not back", obj, old, mapped(old))
			continue
		}
		var fields []sfapi.Field
		for _, f := range want {
			if df := d.Field(f.Name); df != nil && backup.Selectable(*df) && df.Name != "Id" {
				fields = append(fields, *df)
			}
		}
		canon, err := backup.NewCanon(obj, fields)
		if err != nil {
			t.Fatal(err)
		}
		vals := map[string]any{}
		for _, f := range fields {
			vals[f.Name] = got.Fields[f.Name]
		}
		have, err := canon.FromValues(got.ID, vals, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range want {
			df := d.Field(f.Name)
			if df == nil || !(df.Createable || df.Updateable) {
				continue // system fields: audit, formulas, auto-numbers
			}
			h, _ := have.Get(f.Name)
			w := f
			if df.Type == "reference" && w.Kind == record.String {
				w.Value = mapped(w.Value)
			}
			if h != w {
				t.Errorf("%s %s (now %s) field %s: got %v want %v", obj, old, got.ID, f.Name, h, w)
			}
		}
		checked++
	}
	t.Logf("checked %d restored records", checked)
}

// TestRestoreHierarchy: Accounts with Contacts, Opportunities (and line
// items), Cases, Tasks, Invoices (with their master-detail lines) and a
// child Account (self-lookup) are deleted, some hard-deleted; a restore of
// the Accounts with their children brings every record back equal to the
// snapshot, relationships included, and a second run does nothing.
// deleteHierarchy snapshots the org, then deletes n Accounts that have
// Contacts, Opportunities (with line items), Cases and Invoices (with
// their master-detail lines), their Tasks, and a child Account
// (self-lookup); then hard-deletes the first Account, the child and
// purge more of the rest (all when purge < 0). It returns the snapshot,
// the Accounts, and every deleted record's object by Id.
func deleteHierarchy(e *env, n, purge int) (*repo.Snapshot, []string, map[string]string) {
	t, org := e.t, e.srv.Org
	t.Helper()
	// Accounts with contacts, opportunities with line items, cases, tasks
	// and invoices with lines; plus a child account.
	has := func(object, field, id string) int {
		return len(records(t, org, object, func(r sftest.Record) bool { return str(r.Fields[field]) == id }))
	}
	var roots []string
	for _, a := range records(t, org, "Account", func(sftest.Record) bool { return true }) {
		if has("Contact", "AccountId", a.ID) > 0 && has("Opportunity", "AccountId", a.ID) > 0 && has("Case", "AccountId", a.ID) > 0 &&
			has("Invoice__c", "Account__c", a.ID) > 0 {
			roots = append(roots, a.ID)
		}
		if len(roots) == n {
			break
		}
	}
	if len(roots) < n {
		t.Fatalf("only %d suitable accounts", len(roots))
	}
	// A child account of roots[0] (self-lookup) that is deleted too.
	isRoot := map[string]bool{}
	for _, a := range roots {
		isRoot[a] = true
	}
	child := records(t, org, "Account", func(r sftest.Record) bool { return !isRoot[r.ID] })[5]
	if err := org.Update(child.ID, map[string]any{"ParentId": roots[0]}); err != nil {
		t.Fatal(err)
	}
	s1 := e.snapshot()

	deleted := map[string]string{}
	del := func(obj, id string) {
		if _, ok := deleted[id]; ok {
			return
		}
		if err := org.Delete(id); err != nil {
			t.Fatalf("delete %s %s: %v", obj, id, err)
		}
		deleted[id] = obj
	}
	in := map[string]bool{}
	for _, a := range roots {
		in[a] = true
	}
	in[child.ID] = true
	for _, obj := range []struct{ name, field string }{{"Contact", "AccountId"}, {"Opportunity", "AccountId"}, {"Case", "AccountId"}, {"Invoice__c", "Account__c"}} {
		for _, r := range records(t, org, obj.name, func(r sftest.Record) bool { return in[str(r.Fields[obj.field])] }) {
			in[r.ID] = true
		}
	}
	// Tasks on those accounts, contacts, opportunities and cases.
	tasks := records(t, org, "Task", func(r sftest.Record) bool { return in[str(r.Fields["WhatId"])] || in[str(r.Fields["WhoId"])] })
	// Master-detail children come with their masters: recorded to check.
	lines := records(t, org, "OpportunityLineItem", func(r sftest.Record) bool { return in[str(r.Fields["OpportunityId"])] })
	ilines := records(t, org, "Invoice_Line__c", func(r sftest.Record) bool { return in[str(r.Fields["Invoice__c"])] })
	if len(tasks) == 0 || len(lines) == 0 || len(ilines) == 0 {
		t.Fatalf("fixture lacks tasks (%d), line items (%d) or invoice lines (%d)", len(tasks), len(lines), len(ilines))
	}
	for _, r := range tasks {
		del("Task", r.ID)
	}
	for _, obj := range []string{"Case", "Contact", "Invoice__c", "Opportunity", "Account"} {
		for _, r := range records(t, org, obj, func(r sftest.Record) bool { return in[r.ID] }) {
			del(obj, r.ID)
		}
	}
	for _, r := range lines {
		deleted[r.ID] = "OpportunityLineItem"
	}
	for _, r := range ilines {
		deleted[r.ID] = "Invoice_Line__c"
	}
	// Hard-delete one root with part of its hierarchy, and the child
	// account: they come back with new Ids.
	hard := 0
	ids := make([]string, 0, len(deleted))
	for id := range deleted {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		obj := deleted[id]
		if id == roots[0] || id == child.ID || purge < 0 || (obj != "Account" && hard < purge && (obj == "Contact" || obj == "Opportunity" || obj == "Invoice__c" || obj == "Task")) {
			if _, ok := org.Get(id); !ok {
				continue // purged with its master
			}
			if err := org.Purge(id); err != nil {
				t.Fatalf("purge %s: %v", id, err)
			}
			if obj != "Account" {
				hard++
			}
		}
	}
	t.Logf("deleted %d records (%d tasks, %d line items, %d invoice lines), hard-deleted %d + 2 accounts", len(deleted), len(tasks), len(lines), len(ilines), hard)
	return s1, roots, deleted
}

func TestRestoreHierarchy(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 7, Records: 3000})
	org := e.srv.Org
	s1, roots, deleted := deleteHierarchy(e, 3, 12)

	opts := Options{Snapshot: s1, Targets: []Target{{Object: "Account", IDs: roots}}, WithChildren: true, Depth: 3}
	dry := opts
	dry.DryRun = true
	plan, err := e.restore(dry)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	var undel, ins int
	for _, op := range plan.Plan.Objects {
		undel += op.Undelete + op.WithParent
		ins += op.Insert
	}
	if undel+ins < len(deleted) || ins == 0 || undel == 0 {
		t.Fatalf("plan: %d undeletes and %d inserts for %d deleted records: %+v", undel, ins, len(deleted), plan.Plan.Objects)
	}
	if len(plan.Results) != 0 || org.Count("Account", false) != records2(t, org, "Account") {
		t.Fatal("a dry run wrote")
	}

	rep, err := e.restore(opts)
	if err != nil {
		for _, r := range rep.Results {
			if r.Status == "failed" {
				t.Logf("%+v", r)
			}
		}
		t.Fatalf("restore: %v", err)
	}
	idmap := resultMap(rep)
	e.checkRestored(s1, deleted, idmap)
	if rep.Plan.SecondPass == 0 {
		t.Error("the self-lookup of the hard-deleted child account needed no second pass")
	}

	// Nothing is duplicated: the org holds as many records as the
	// snapshot, object by object.
	s2 := e.snapshot()
	for _, obj := range []string{"Account", "Contact", "Opportunity", "OpportunityLineItem", "Case", "Task", "Invoice__c", "Invoice_Line__c"} {
		if s1.Objects[obj].Records != s2.Objects[obj].Records {
			t.Errorf("%s: %d records before, %d after the restore", obj, s1.Objects[obj].Records, s2.Objects[obj].Records)
		}
	}

	// A second run finds everything in place.
	again, err := e.restore(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again.Results {
		if r.Action != "unchanged" {
			t.Fatalf("second run: %+v", r)
		}
	}
}

func records2(t testing.TB, org *sftest.Org, object string) int64 {
	return int64(len(records(t, org, object, func(sftest.Record) bool { return true })))
}

var _ = errors.Is
var _ = fmt.Sprint
var _ = sort.Strings
var _ = strings.Cut

// TestRollbackBadLoad: a load set Department on 10% of Contacts while
// other fields changed legitimately, before and after the next snapshot;
// restoring Department from the snapshot before the load, for what
// changed in the load's window, reverts only that field, and keeps an
// edit made to it after the window.
func TestRollbackBadLoad(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 3, Records: 2500})
	org := e.srv.Org
	a := e.snapshot()
	contacts := records(t, org, "Contact", func(sftest.Record) bool { return true })
	before := map[string]sftest.Record{}
	for _, c := range contacts {
		before[c.ID] = c
	}
	var bad []string
	for i, c := range contacts {
		if i%10 == 0 {
			bad = append(bad, c.ID)
			if err := org.Update(c.ID, map[string]any{"Department": "Bad Load"}); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 { // a legitimate change in the same window
			if err := org.Update(c.ID, map[string]any{"Title": fmt.Sprintf("Title %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := e.snapshot()
	// After the window: someone fixes one record by hand, and edits others.
	fixed := bad[1]
	if err := org.Update(fixed, map[string]any{"Department": "Legal"}); err != nil {
		t.Fatal(err)
	}
	if err := org.Update(bad[2], map[string]any{"MobilePhone": "(555) 010-2000"}); err != nil {
		t.Fatal(err)
	}
	afterB := map[string]sftest.Record{}
	for _, c := range records(t, org, "Contact", func(sftest.Record) bool { return true }) {
		afterB[c.ID] = c
	}

	rep, err := e.restore(Options{Snapshot: a, ChangedSince: a, Until: b, Fields: []string{"Contact.Department"}})
	if err != nil {
		t.Fatal(err)
	}
	updated := 0
	for _, r := range rep.Results {
		if r.Action == "update" {
			updated++
			if len(r.Fields) != 1 || r.Fields[0] != "Department" {
				t.Errorf("update of %s wrote %v", r.OldID, r.Fields)
			}
		}
	}
	if updated != len(bad)-1 {
		t.Errorf("%d records updated, want %d", updated, len(bad)-1)
	}
	for _, c := range records(t, org, "Contact", func(sftest.Record) bool { return true }) {
		want := before[c.ID].Fields["Department"]
		if c.ID == fixed {
			want = "Legal"
		}
		if c.Fields["Department"] != want {
			t.Errorf("%s Department = %v, want %v", c.ID, c.Fields["Department"], want)
		}
		for _, f := range []string{"Title", "MobilePhone", "Phone", "LastName"} {
			if c.Fields[f] != afterB[c.ID].Fields[f] {
				t.Errorf("%s %s = %v, changed from %v", c.ID, f, c.Fields[f], afterB[c.ID].Fields[f])
			}
		}
	}
	var buf strings.Builder
	rep.Plan.WriteText(&buf)
	if !strings.Contains(buf.String(), "changed in the org after") {
		t.Errorf("the plan does not report the field edited after the window:\n%s", buf.String())
	}
}

// TestValidationFailuresReported: a validation rule added after the
// snapshot rejects some restored records; each is reported with
// Salesforce's error, the others are restored, and every selected record
// has a result.
func TestValidationFailuresReported(t *testing.T) {
	active := false
	rule := sftest.ValidationRule{Object: "Contact", Name: "Phone_Required", Message: "A contact needs a phone number", ErrorField: "Phone",
		Fails: func(r sftest.Record) bool { return active && r.Fields["Phone"] == nil }}
	e := newEnv(t, sftest.Options{Seed: 5, Records: 2500, ValidationRules: []sftest.ValidationRule{rule}})
	org := e.srv.Org
	s := e.snapshot()
	var ids []string
	noPhone := 0
	for _, c := range records(t, org, "Contact", func(sftest.Record) bool { return true }) {
		if len(ids) == 60 {
			break
		}
		ids = append(ids, c.ID)
		if c.Fields["Phone"] == nil {
			noPhone++
		}
		if err := org.Delete(c.ID); err != nil {
			t.Fatal(err)
		}
		if err := org.Purge(c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if noPhone == 0 || noPhone == len(ids) {
		t.Fatalf("fixture: %d of %d contacts lack a phone", noPhone, len(ids))
	}
	active = true
	rep, err := e.restore(Options{Snapshot: s, Targets: []Target{{Object: "Contact", IDs: ids}}, NoParents: true})
	if !errors.Is(err, ErrRecordsFailed) {
		t.Fatalf("restore: %v", err)
	}
	seen := map[string]bool{}
	failed, inserted := 0, 0
	for _, r := range rep.Results {
		seen[r.OldID] = true
		if r.Action == "insert" && r.Status == "ok" {
			inserted++
		}
		if r.Status == "failed" {
			failed++
			if r.Error != "FIELD_CUSTOM_VALIDATION_EXCEPTION" || !strings.Contains(r.Message, "needs a phone") {
				t.Errorf("failure of %s: %s %s", r.OldID, r.Error, r.Message)
			}
		}
	}
	if failed != noPhone || rep.Failed != noPhone || inserted != len(ids)-noPhone {
		t.Errorf("%d failed (report %d), %d inserted; want %d failed", failed, rep.Failed, inserted, noPhone)
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("no result for %s", id)
		}
	}
	var csvOut strings.Builder
	if err := WriteResultsCSV(&csvOut, rep.Results); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(csvOut.String(), "FIELD_CUSTOM_VALIDATION_EXCEPTION"); n != noPhone {
		t.Errorf("results CSV names %d validation failures, want %d", n, noPhone)
	}
}
