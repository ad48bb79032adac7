package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// TestAllowDuplicates: a purged Contact whose Email another Contact took
// since is refused by the org's duplicate rule (DUPLICATES_DETECTED,
// reported, exit as failed); with AllowDuplicates the same restore saves
// it.
func TestAllowDuplicates(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 11, Records: 1500, DuplicateRules: []sftest.DuplicateRule{
		{Object: "Contact", Name: "Contact_Email", Fields: []string{"Email"}}}})
	org := e.srv.Org
	withEmail := records(t, org, "Contact", func(r sftest.Record) bool { return r.Fields["Email"] != nil })
	if len(withEmail) < 3 {
		t.Fatalf("fixture: %d Contacts with an Email", len(withEmail))
	}
	s := e.snapshot()
	var ids []string
	for _, c := range withEmail[:3] {
		ids = append(ids, to18(t, c.ID))
		if err := org.Purge(c.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Someone re-entered the first one by hand since.
	if _, err := org.Insert("Contact", map[string]any{"LastName": "Re-entered", "Email": withEmail[0].Fields["Email"]}); err != nil {
		t.Fatal(err)
	}
	opts := Options{Snapshot: s, Targets: []Target{{Object: "Contact", IDs: ids}}, NoParents: true}
	rep, err := e.restore(opts)
	if !errors.Is(err, ErrRecordsFailed) || rep.Failed != 1 || rep.OK != 2 {
		t.Fatalf("restore: %v, %d failed, %d ok", err, rep.Failed, rep.OK)
	}
	for _, r := range rep.Results {
		if r.Status == "failed" && (r.OldID != ids[0] || r.Error != "DUPLICATES_DETECTED") {
			t.Errorf("failure %+v; want %s refused as a duplicate", r, ids[0])
		}
	}
	opts.AllowDuplicates = true
	rep, err = e.restore(opts)
	if err != nil {
		t.Fatalf("restore --allow-duplicates: %v", err)
	}
	n := resultMap(rep)[ids[0]]
	if got, ok := org.Get(n); n == "" || !ok || got.Fields["Email"] != withEmail[0].Fields["Email"] {
		t.Fatalf("the duplicate was not saved: %+v", rep.Results)
	}
}

// TestFallbackOwnerSameOrg: in the same org, records whose owner has been
// deactivated since the snapshot are refused (INACTIVE_OWNER_OR_USER);
// with a fallback owner they are saved under it, every other field as in
// the snapshot, and the plan says so.
func TestFallbackOwnerSameOrg(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 12, Records: 1500, RejectInactiveOwners: true})
	org := e.srv.Org
	admin := org.AdminUserID()
	users := records(t, org, "User", func(r sftest.Record) bool { return r.ID != admin && r.Fields["IsActive"] == true })
	if len(users) < 2 {
		t.Fatalf("fixture: %d active users", len(users))
	}
	leaver, stays := users[0].ID, users[1].ID
	var ids []string
	for i, c := range records(t, org, "Contact", func(sftest.Record) bool { return true })[:6] {
		owner := stays
		if i%2 == 0 {
			owner = leaver
		}
		if err := org.Update(c.ID, map[string]any{"OwnerId": owner}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, to18(t, c.ID))
	}
	s := e.snapshot()
	for _, id := range ids {
		if err := org.Purge(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := org.Update(leaver, map[string]any{"IsActive": false}); err != nil {
		t.Fatal(err)
	}
	opts := Options{Snapshot: s, Targets: []Target{{Object: "Contact", IDs: ids}}, NoParents: true}
	rep, err := e.restore(opts)
	if !errors.Is(err, ErrRecordsFailed) || rep.Failed != 3 {
		t.Fatalf("restore without a fallback owner: %v, %d failed", err, rep.Failed)
	}
	for _, r := range rep.Results {
		if r.Status == "failed" && r.Error != "INACTIVE_OWNER_OR_USER" {
			t.Errorf("failure %+v", r)
		}
	}
	// The same restore again, with a fallback owner: it resumes (the
	// records saved the first time are not inserted again).
	newIDs := resultMap(rep)
	opts.FallbackOwner = "admin@orgsnap.test"
	rep, err = e.restore(opts)
	if err != nil {
		t.Fatalf("restore with a fallback owner: %v", err)
	}
	for old, n := range resultMap(rep) {
		if prev, dup := newIDs[old]; dup && prev != n { // a second pass may update one
			t.Errorf("%s inserted twice", old)
		}
		newIDs[old] = n
	}
	r := e.open()
	defer r.Close()
	for i, id := range ids {
		got, ok := org.Get(newIDs[id])
		if !ok || got.Deleted {
			t.Errorf("%s not restored", id)
			continue
		}
		want := stays
		if i%2 == 0 {
			want = admin
		}
		if got.Fields["OwnerId"] != want {
			t.Errorf("%s: owner %v, want %s", id, got.Fields["OwnerId"], want)
		}
		snap, _, _ := r.Record(bg, s, "Contact", id)
		if f, _ := snap.Get("LastName"); got.Fields["LastName"] != f.Value {
			t.Errorf("%s: LastName %v, snapshot %s", id, got.Fields["LastName"], f.Value)
		}
	}
	var buf strings.Builder
	rep.Plan.WriteText(&buf)
	if !strings.Contains(buf.String(), "owner           3  inactive owner replaced by the fallback owner") {
		t.Errorf("plan:\n%s", buf.String())
	}
}
