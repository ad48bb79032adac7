package sftest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTo18(t *testing.T) {
	for _, tc := range [][2]string{
		{"001D000000IqhSL", "001D000000IqhSLIAZ"}, {"001D000000IRFma", "001D000000IRFmaIAH"},
		{"750R0000000zw4y", "750R0000000zw4yIAA"}, {"068D00000000pgO", "068D00000000pgOIAQ"},
		{"0036000000QKv5T", "0036000000QKv5TAAT"}, {"70130000001tcyI", "70130000001tcyIAAQ"},
		{"001550V000WOQZi", "001550V000WOQZiACP"}, {"AaaAABbbBBCccCC", "AaaAABbbBBCccCCZZZ"},
		{"ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"}, {"a0D30000001n7Pi", "a0D30000001n7PiEAI"},
	} {
		if got := To18(tc[0]); got != tc[1] {
			t.Errorf("To18(%s) = %s, want %s", tc[0], got, tc[1])
		}
	}
	for n := int64(0); n < 100000; n += 7919 {
		id := makeID("a01", idCounter+n)
		if string(appendID(nil, "a01", idCounter+n)) != id {
			t.Fatalf("appendID differs from makeID")
		}
		for _, in := range []string{id, id[:15], strings.ToLower(id), strings.ToUpper(id)} {
			p, got, ok := parseID(in)
			if !ok || p != "a01" || got != idCounter+n {
				t.Fatalf("parseID(%s) = %s %d %v", in, p, got, ok)
			}
		}
		if next := makeID("a01", idCounter+n+1); !(next[:15] > id[:15]) {
			t.Fatalf("Ids not ordered: %s !> %s", next, id)
		}
	}
}

// TestDeterminism: the same seed and options give byte-identical answers;
// another seed gives different data.
func TestDeterminism(t *testing.T) {
	run := func(seed int64) []byte {
		s := NewServer(Options{Seed: seed, Records: 3000})
		defer s.Close()
		var all []byte
		for _, obj := range s.Org.Objects() {
			st, _, b := call(t, s, "GET", qpath("SELECT FIELDS(ALL) FROM "+obj+" LIMIT 200"), nil)
			if st != 200 {
				t.Fatalf("%s: %d %s", obj, st, b)
			}
			all = append(all, b...)
		}
		return all
	}
	a, b, c := run(7), run(7), run(8)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different results")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same results")
	}
}

func TestVersionsResourcesLimits(t *testing.T) {
	s := NewServer(Options{Seed: 1, APIDailyLimit: 50})
	defer s.Close()
	resp, err := http.Get(s.URL + "/services/data/")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Sforce-Limit-Info") != "" {
		t.Fatalf("versions: %v %v", err, resp)
	}
	var res map[string]string
	getJSON(t, s, v, 200, &res)
	if !strings.Contains(res["identity"], "/id/"+s.Org.ID()+"/") || res["sobjects"] != v+"/sobjects" {
		t.Fatalf("resources: %v", res)
	}
	var lim map[string]map[string]int64
	getJSON(t, s, v+"/limits", 200, &lim)
	if lim["DailyApiRequests"]["Max"] != 50 || lim["DailyApiRequests"]["Remaining"] != 48 {
		t.Fatalf("limits: %v", lim["DailyApiRequests"])
	}
	if st, _, b := call(t, s, "GET", "/services/data/v99.0/limits", nil); st != 404 || errCode(t, b) != "NOT_FOUND" {
		t.Fatalf("bad version: %d %s", st, b)
	}
	if st, _, _ := call(t, s, "GET", "/services/data/v20.0/limits", nil); st != 410 {
		t.Fatalf("retired version: %d", st)
	}
	for i := 0; i < 60; i++ {
		st, h, b := call(t, s, "GET", v+"/limits", nil)
		if h.Get("Sforce-Limit-Info") == "" {
			t.Fatal("no Sforce-Limit-Info")
		}
		if st == 403 {
			if errCode(t, b) != "REQUEST_LIMIT_EXCEEDED" {
				t.Fatalf("limit: %s", b)
			}
			return
		}
	}
	t.Fatal("daily limit never enforced")
}

func TestAuth(t *testing.T) {
	s := NewServer(Options{Seed: 1})
	defer s.Close()
	post := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(s.URL+"/services/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		jsonDecode(t, resp.Body, &m)
		return resp.StatusCode, m
	}
	ok := []url.Values{
		{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "username": {adminUsername}, "password": {DefaultPassword}},
		{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {DefaultRefreshToken}},
		{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}},
		{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {fakeJWT(DefaultClientID, adminUsername)}},
	}
	for _, f := range ok {
		st, m := post(f)
		tok, _ := m["access_token"].(string)
		if st != 200 || !strings.HasPrefix(tok, s.Org.ID()[:15]+"!") || m["token_type"] != "Bearer" || m["instance_url"] != s.URL {
			t.Fatalf("%s: %d %v", f.Get("grant_type"), st, m)
		}
		s2 := *s
		s2.Token = tok
		getJSON(t, &s2, "/services/oauth2/userinfo", 200, nil)
	}
	bad := []struct {
		f    url.Values
		code string
	}{
		{url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "username": {adminUsername}, "password": {"nope"}}, "invalid_grant"},
		{url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {"stale"}}, "invalid_grant"},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"who"}, "client_secret": {"x"}}, "invalid_client_id"},
		{url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {fakeJWT(DefaultClientID, "eve@example.com")}}, "invalid_grant"},
		{url.Values{"grant_type": {"authorization_code"}}, "unsupported_grant_type"},
	}
	for _, b := range bad {
		st, m := post(b.f)
		if st != 400 || m["error"] != b.code {
			t.Fatalf("%v: %d %v", b.f, st, m)
		}
	}
	// Expired sessions: 401 INVALID_SESSION_ID with WWW-Authenticate.
	s.Org.ExpireSessions()
	st, h, b := call(t, s, "GET", v+"/limits", nil)
	if st != 401 || errCode(t, b) != "INVALID_SESSION_ID" || h.Get("WWW-Authenticate") != "Token" {
		t.Fatalf("expired: %d %s", st, b)
	}
}

func TestDescribe(t *testing.T) {
	s := NewServer(Options{Seed: 1, Records: 1000})
	defer s.Close()
	var g struct {
		Sobjects []map[string]any `json:"sobjects"`
	}
	getJSON(t, s, v+"/sobjects", 200, &g)
	byName := map[string]map[string]any{}
	for _, o := range g.Sobjects {
		byName[o["name"].(string)] = o
	}
	for _, want := range []string{"Account", "Contact", "Lead", "Opportunity", "OpportunityLineItem", "Case", "Task", "Event", "User",
		"Campaign", "CampaignMember", "Product2", "Pricebook2", "PricebookEntry", "ContentVersion", "ContentDocument",
		"ContentDocumentLink", "Attachment", "Document", "Note", "RecordType", "Organization", "Invoice__c", "Invoice_Line__c", "Project__c"} {
		if byName[want] == nil {
			t.Errorf("describeGlobal lacks %s", want)
		}
	}
	if byName["Account"]["keyPrefix"] != "001" || byName["ContentDocumentLink"]["replicateable"] != false || byName["Invoice__c"]["custom"] != true {
		t.Fatalf("flags: %v", byName["Account"])
	}
	var d struct {
		Fields             []map[string]any `json:"fields"`
		ChildRelationships []map[string]any `json:"childRelationships"`
		RecordTypeInfos    []map[string]any `json:"recordTypeInfos"`
	}
	st, h, b := call(t, s, "GET", v+"/sobjects/Task/describe", nil)
	if st != 200 {
		t.Fatal(st)
	}
	jsonDecode(t, bytes.NewReader(b), &d)
	f := fieldByName(d.Fields, "WhatId")
	if f == nil || len(f["referenceTo"].([]any)) < 3 || f["polymorphicForeignKey"] != true || f["relationshipName"] != "What" {
		t.Fatalf("WhatId: %v", f)
	}
	// 304 with If-Modified-Since.
	if st, _, _ := call(t, s, "GET", v+"/sobjects/Task/describe", nil, "If-Modified-Since", h.Get("Last-Modified")); st != 304 {
		t.Fatalf("If-Modified-Since: %d", st)
	}
	getJSON(t, s, v+"/sobjects/Invoice_Line__c/describe", 200, &d)
	if f := fieldByName(d.Fields, "Invoice__c"); f["cascadeDelete"] != true || f["nillable"] != false {
		t.Fatalf("master-detail: %v", f)
	}
	if f := fieldByName(d.Fields, "Line_Total__c"); f["calculated"] != true || f["calculatedFormula"] == nil {
		t.Fatalf("formula: %v", f)
	}
	getJSON(t, s, v+"/sobjects/Account/describe", 200, &d)
	if f := fieldByName(d.Fields, "BillingCity"); f["compoundFieldName"] != "BillingAddress" {
		t.Fatalf("compound: %v", f)
	}
	if f := fieldByName(d.Fields, "BillingAddress"); f["type"] != "address" || f["soapType"] != "urn:address" {
		t.Fatalf("address: %v", f)
	}
	if len(d.RecordTypeInfos) != 3 {
		t.Fatalf("record types: %v", d.RecordTypeInfos)
	}
	found := false
	for _, c := range d.ChildRelationships {
		found = found || c["childSObject"] == "Contact" && c["relationshipName"] == "Contacts"
	}
	if !found {
		t.Fatal("Account has no Contacts child relationship")
	}
	getJSON(t, s, v+"/sobjects/Project__c/describe", 200, &d)
	if f := fieldByName(d.Fields, "Site__c"); f["type"] != "location" {
		t.Fatalf("geolocation: %v", f)
	}
	if f := fieldByName(d.Fields, "Parent_Project__c"); f["referenceTo"].([]any)[0] != "Project__c" {
		t.Fatalf("self lookup: %v", f)
	}
	if st, _, b := call(t, s, "GET", v+"/sobjects/Nope__c/describe", nil); st != 404 || errCode(t, b) != "NOT_FOUND" {
		t.Fatalf("unknown object: %d %s", st, b)
	}
}

func fieldByName(fs []map[string]any, name string) map[string]any {
	for _, f := range fs {
		if f["name"] == name {
			return f
		}
	}
	return nil
}

func TestSOQL(t *testing.T) {
	s := NewServer(Options{Seed: 3, Records: 5000})
	defer s.Close()
	o := s.Org
	// Reference answers computed through the Go accessor.
	count := func(obj string, pred func(Record) bool) int {
		n := 0
		o.Records(obj, func(r Record) bool {
			if !r.Deleted && pred(r) {
				n++
			}
			return true
		})
		return n
	}
	str := func(r Record, f string) string { s, _ := r.Fields[f].(string); return s }
	now := o.Now()
	cases := []struct {
		q    string
		want int
	}{
		{"SELECT Id FROM Account", count("Account", func(Record) bool { return true })},
		{"select id from account where Industry = 'Banking'", count("Account", func(r Record) bool { return str(r, "Industry") == "Banking" })},
		{"SELECT Id FROM Account WHERE Industry = 'banking'", count("Account", func(r Record) bool { return str(r, "Industry") == "Banking" })},
		{"SELECT Id FROM Account WHERE Industry != 'Banking'", count("Account", func(r Record) bool { return str(r, "Industry") != "Banking" })},
		{"SELECT Id FROM Account WHERE Industry IN ('Banking', 'Retail')", count("Account", func(r Record) bool { return str(r, "Industry") == "Banking" || str(r, "Industry") == "Retail" })},
		{"SELECT Id FROM Account WHERE Industry NOT IN ('Banking', 'Retail')", count("Account", func(r Record) bool { return str(r, "Industry") != "Banking" && str(r, "Industry") != "Retail" })},
		{"SELECT Id FROM Account WHERE Industry = null", count("Account", func(r Record) bool { return r.Fields["Industry"] == nil })},
		{"SELECT Id FROM Account WHERE Name LIKE 'acme%'", count("Account", func(r Record) bool { return strings.HasPrefix(str(r, "Name"), "Acme") })},
		{"SELECT Id FROM Account WHERE Name LIKE '%Foods%' AND (Rating = 'Hot' OR Rating = 'Warm')", count("Account", func(r Record) bool {
			return strings.Contains(str(r, "Name"), "Foods") && (str(r, "Rating") == "Hot" || str(r, "Rating") == "Warm")
		})},
		{"SELECT Id FROM Account WHERE NOT (Rating = 'Hot')", count("Account", func(r Record) bool { return str(r, "Rating") != "Hot" })},
		{"SELECT Id FROM Account WHERE AnnualRevenue > 1000000000", count("Account", func(r Record) bool { f, ok := r.Fields["AnnualRevenue"].(float64); return ok && f > 1e9 })},
		{"SELECT Id FROM Account WHERE NumberOfEmployees >= 5000", count("Account", func(r Record) bool { n, ok := r.Fields["NumberOfEmployees"].(int64); return ok && n >= 5000 })},
		{"SELECT Id FROM Account WHERE Active__c = false", count("Account", func(r Record) bool { return r.Fields["Active__c"] == false })},
		{"SELECT Id FROM Account WHERE CreatedDate > 2025-06-01T00:00:00Z", count("Account", func(r Record) bool {
			return r.Fields["CreatedDate"].(time.Time).After(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
		})},
		{"SELECT Id FROM Account WHERE CreatedDate > 2025-06-01T02:00:00+02:00", count("Account", func(r Record) bool {
			return r.Fields["CreatedDate"].(time.Time).After(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
		})},
		{"SELECT Id FROM Account WHERE SystemModstamp >= LAST_N_DAYS:30", count("Account", func(r Record) bool {
			return !r.Fields["SystemModstamp"].(time.Time).Before(now.AddDate(0, 0, -30))
		})},
		{"SELECT Id FROM Contact WHERE Birthdate < 1980-01-01", count("Contact", func(r Record) bool { d, ok := r.Fields["Birthdate"].(time.Time); return ok && d.Year() < 1980 })},
		{"SELECT Id FROM Contact WHERE Account.Industry = 'Banking'", -1},
		{"SELECT Id FROM Task WHERE CreatedDate = TODAY", 0},
		{"SELECT Id FROM Account LIMIT 7", 7},
		{"SELECT Id FROM Account ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 5", 10},
		{"SELECT COUNT() FROM Contact", count("Contact", func(Record) bool { return true })},
	}
	for _, tc := range cases {
		var r queryResp
		getJSON(t, s, qpath(tc.q), 200, &r)
		if tc.want >= 0 && r.TotalSize != tc.want {
			t.Errorf("%s: totalSize %d, want %d", tc.q, r.TotalSize, tc.want)
		}
	}
	// ORDER BY: check the order itself.
	recs, _ := queryAllPages(t, s, qpath("SELECT Id, Name, AnnualRevenue FROM Account ORDER BY AnnualRevenue DESC NULLS LAST, Name"))
	last := 1e300
	nulls := false
	for _, r := range recs {
		f, ok := r["AnnualRevenue"].(float64)
		if !ok {
			nulls = true
			continue
		}
		if nulls || f > last {
			t.Fatalf("bad order at %v", r)
		}
		last = f
	}
	// Keyset pagination on Id.
	var first queryResp
	getJSON(t, s, qpath("SELECT Id FROM Contact ORDER BY Id LIMIT 5"), 200, &first)
	lastID := first.Records[4]["Id"].(string)
	var nxt queryResp
	getJSON(t, s, qpath(fmt.Sprintf("SELECT Id FROM Contact WHERE Id > '%s' ORDER BY Id LIMIT 5", lastID[:15])), 200, &nxt)
	if len(nxt.Records) != 5 || nxt.Records[0]["Id"].(string) <= lastID {
		t.Fatalf("keyset: %v after %s", nxt.Records, lastID)
	}
	// Dotted parents come back nested.
	var dot queryResp
	getJSON(t, s, qpath("SELECT Id, Account.Name, Account.Owner.Name FROM Contact WHERE AccountId != null LIMIT 1"), 200, &dot)
	acc, _ := dot.Records[0]["Account"].(map[string]any)
	if acc == nil || acc["Name"] == nil || acc["Owner"].(map[string]any)["Name"] == nil {
		t.Fatalf("dotted: %v", dot.Records[0])
	}

	errs := []struct{ q, code string }{
		{"SELEKT Id FROM Account", "MALFORMED_QUERY"},
		{"SELECT Id FROM", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account WHERE", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account WHERE Name = 'x' AND Name = 'y' OR Name = 'z'", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account LIMIT x", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account WHERE Name ~ 'x'", "MALFORMED_QUERY"},
		{"SELECT Id, FROM Account", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account ORDER Name", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account extra", "MALFORMED_QUERY"},
		{"SELECT FIELDS(ALL) FROM Account", "MALFORMED_QUERY"},
		{"SELECT Bacon__c FROM Account LIMIT 2", "INVALID_FIELD"},
		{"SELECT Id FROM Account WHERE Nope = 1", "INVALID_FIELD"},
		{"SELECT Foo.Name FROM Contact", "INVALID_FIELD"},
		{"SELECT Id FROM Nope__c", "INVALID_TYPE"},
		{"SELECT Id FROM Account WHERE CreatedDate > '2020-01-01'", "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Account WHERE CreatedDate > 2020-01-01", "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Account OFFSET 5000", "NUMBER_OUTSIDE_VALID_RANGE"},
	}
	for _, e := range errs {
		st, _, b := call(t, s, "GET", qpath(e.q), nil)
		if st != 400 || errCode(t, b) != e.code {
			t.Errorf("%s: %d %s, want %s", e.q, st, b, e.code)
		}
	}
	_, _, b := call(t, s, "GET", qpath("SELECT Bacon__c FROM Account LIMIT 2"), nil)
	if !strings.Contains(string(b), `\n       ^\nERROR at Row:1:Column:8\nNo such column 'Bacon__c' on entity 'Account'`) {
		t.Fatalf("caret message: %s", b)
	}
}

func TestQueryMore(t *testing.T) {
	s := NewServer(Options{Seed: 2, Records: 20000})
	defer s.Close()
	path := qpath("SELECT Id, Name, Account.Name FROM Contact")
	var r queryResp
	st, _, b := call(t, s, "GET", path, nil, "Sforce-Query-Options", "batchSize=300")
	if st != 200 {
		t.Fatal(st)
	}
	jsonDecode(t, bytes.NewReader(b), &r)
	n := len(r.Records)
	if n != 300 || r.Done || !strings.HasPrefix(r.NextRecordsURL, v+"/query/01g") {
		t.Fatalf("first page: %d %v %s", n, r.Done, r.NextRecordsURL)
	}
	seen := map[string]bool{}
	for _, rec := range r.Records {
		seen[rec["Id"].(string)] = true
	}
	for !r.Done {
		next := r.NextRecordsURL
		r = queryResp{}
		_, _, b := call(t, s, "GET", next, nil, "Sforce-Query-Options", "batchSize=300")
		jsonDecode(t, bytes.NewReader(b), &r)
		for _, rec := range r.Records {
			if seen[rec["Id"].(string)] {
				t.Fatalf("duplicate %v", rec["Id"])
			}
			seen[rec["Id"].(string)] = true
		}
		if r.Done && strings.Contains(string(b), "nextRecordsUrl") {
			t.Fatal("last page carries nextRecordsUrl")
		}
	}
	if len(seen) != r.TotalSize || int64(len(seen)) != s.Org.GeneratedCount("Contact") {
		t.Fatalf("read %d, totalSize %d", len(seen), r.TotalSize)
	}
	if st, _, b := call(t, s, "GET", v+"/query/01gDn00000000ZZZZZ-300", nil); st != 400 || errCode(t, b) != "INVALID_QUERY_LOCATOR" {
		t.Fatalf("bad locator: %d %s", st, b)
	}
	// columns=true
	var cm struct {
		ColumnMetadata []map[string]any `json:"columnMetadata"`
		EntityName     string           `json:"entityName"`
	}
	getJSON(t, s, path+"&columns=true", 200, &cm)
	if cm.EntityName != "Contact" || len(cm.ColumnMetadata) != 3 || cm.ColumnMetadata[2]["columnName"] != "Account" {
		t.Fatalf("columnMetadata: %+v", cm)
	}
}

// TestTimestampsInRange: in a large org the newest generated records were
// created within the last hour; their modification times once overflowed
// to dates millions of years away. Every generated datetime stays between
// the start of the history and the org's now.
func TestTimestampsInRange(t *testing.T) {
	o := NewOrg(Options{Seed: 1, Records: 1000000})
	lo, hi := o.Now().AddDate(-4, 0, 0), o.Now()
	for _, obj := range []string{"Account"} {
		n := 0
		err := o.Records(obj, func(r Record) bool {
			n++
			for _, f := range []string{"CreatedDate", "LastModifiedDate", "SystemModstamp"} {
				ts, ok := r.Fields[f].(time.Time)
				if !ok || ts.Before(lo) || ts.After(hi) {
					t.Fatalf("%s %s.%s = %v, outside [%v, %v]", obj, r.ID, f, r.Fields[f], lo, hi)
				}
			}
			return true
		})
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
	}
}
