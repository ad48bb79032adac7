package sftest

import (
	"bytes"
	"strings"
	"testing"
)

// TestDuplicateRules: a Contact with the Email of another live Contact is
// refused with DUPLICATES_DETECTED through Collections, single-record
// create and update, unless the request carries allowSave=true; a
// blocking rule refuses even then; a record in the Recycle Bin is no
// duplicate.
func TestDuplicateRules(t *testing.T) {
	s := NewServer(Options{Seed: 4, Records: 500, DuplicateRules: []DuplicateRule{
		{Object: "Contact", Name: "Same_Email", Fields: []string{"Email"}},
		{Object: "Lead", Name: "Same_Lead_Email", Fields: []string{"Email"}, Block: true},
	}})
	defer s.Close()
	org := s.Org
	first, err := org.Insert("Contact", map[string]any{"LastName": "One", "Email": "Dup@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	allow := []string{DuplicateRuleHeader, "allowSave=true; includeRecordDetails=false; runAsCurrentUser=false"}
	contact := func(last, email string) map[string]any {
		return map[string]any{"attributes": map[string]string{"type": "Contact"}, "LastName": last, "Email": email}
	}
	body := map[string]any{"allOrNone": false, "records": []any{contact("Two", "dup@example.com"), contact("Three", "other@example.com")}}
	var res []map[string]any
	_, _, b := call(t, s, "POST", v+"/composite/sobjects", body)
	jsonDecode(t, bytes.NewReader(b), &res)
	if len(res) != 2 || res[0]["success"] != false || !strings.Contains(string(b), `"statusCode":"DUPLICATES_DETECTED"`) || res[1]["success"] != true {
		t.Fatalf("collections without allowSave: %s", b)
	}
	st, _, b := call(t, s, "POST", v+"/sobjects/Contact", contact("Two", "DUP@example.com"))
	if st != 400 || !strings.Contains(string(b), "DUPLICATES_DETECTED") {
		t.Fatalf("create without allowSave: %d %s", st, b)
	}
	res = nil
	_, _, b = call(t, s, "POST", v+"/composite/sobjects", body, allow...)
	jsonDecode(t, bytes.NewReader(b), &res)
	if len(res) != 2 || res[0]["success"] != true {
		t.Fatalf("collections with allowSave: %s", b)
	}
	// An update into a duplicate, refused, then allowed.
	third := res[1]["id"].(string)
	st, _, b = call(t, s, "PATCH", v+"/sobjects/Contact/"+third, map[string]any{"Email": "dup@example.com"})
	if st != 400 || !strings.Contains(string(b), "DUPLICATES_DETECTED") {
		t.Fatalf("update without allowSave: %d %s", st, b)
	}
	if st, _, b = call(t, s, "PATCH", v+"/sobjects/Contact/"+third, map[string]any{"Email": "dup@example.com"}, allow...); st != 204 {
		t.Fatalf("update with allowSave: %d %s", st, b)
	}
	// A blocking rule ignores allowSave.
	if _, err := org.Insert("Lead", map[string]any{"LastName": "L", "Company": "C", "Email": "lead@example.com"}); err != nil {
		t.Fatal(err)
	}
	st, _, b = call(t, s, "POST", v+"/sobjects/Lead", map[string]any{"LastName": "L2", "Company": "C", "Email": "lead@example.com"}, allow...)
	if st != 400 || !strings.Contains(string(b), "DUPLICATES_DETECTED") {
		t.Fatalf("blocking rule: %d %s", st, b)
	}
	// Deleted records match no rule; null values match nothing.
	for _, id := range []string{first, res[0]["id"].(string), third} {
		if err := org.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := org.Insert("Contact", map[string]any{"LastName": "Again", "Email": "dup@example.com"}); err != nil {
		t.Fatalf("duplicate of deleted records: %v", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := org.Insert("Contact", map[string]any{"LastName": "No email"}); err != nil {
			t.Fatalf("null email: %v", err)
		}
	}
}

// TestInactiveOwners: with RejectInactiveOwners, setting OwnerId to an
// inactive user fails with INACTIVE_OWNER_OR_USER on insert and update;
// an active owner, or a write that leaves OwnerId alone, succeeds.
func TestInactiveOwners(t *testing.T) {
	s := NewServer(Options{Seed: 4, Records: 500, RejectInactiveOwners: true})
	defer s.Close()
	org := s.Org
	// Two users besides the admin: one is deactivated.
	var active, inactive string
	org.Records("User", func(r Record) bool {
		switch {
		case r.ID == org.AdminUserID():
		case active == "":
			active = r.ID
		case inactive == "":
			inactive = r.ID
		}
		return true
	})
	if err := org.Update(inactive, map[string]any{"IsActive": false}); err != nil {
		t.Fatal(err)
	}
	if err := org.Update(active, map[string]any{"IsActive": true}); err != nil {
		t.Fatal(err)
	}
	st, _, b := call(t, s, "POST", v+"/sobjects/Account", map[string]any{"Name": "Orphan", "OwnerId": inactive})
	if st != 400 || !strings.Contains(string(b), `"errorCode":"INACTIVE_OWNER_OR_USER"`) || !strings.Contains(string(b), inactive) {
		t.Fatalf("insert with an inactive owner: %d %s", st, b)
	}
	id, err := org.Insert("Account", map[string]any{"Name": "Owned", "OwnerId": active})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Update(id, map[string]any{"OwnerId": inactive}); err == nil || !strings.Contains(err.Error(), "inactive user") {
		t.Fatalf("update to an inactive owner: %v", err)
	}
	if err := org.Update(id, map[string]any{"Name": "Renamed"}); err != nil {
		t.Fatal(err)
	}
}
