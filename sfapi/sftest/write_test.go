package sftest

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCRUDAndBlobs(t *testing.T) {
	s := NewServer(Options{Seed: 4, Records: 2000})
	defer s.Close()
	st, _, b := call(t, s, "POST", v+"/sobjects/Account", map[string]any{"Name": "Emu Corp", "NumberOfEmployees": 12, "Active__c": true, "SLA_Expiration__c": "2027-01-31"})
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	var cr struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	}
	jsonDecode(t, bytes.NewReader(b), &cr)
	var rec map[string]any
	getJSON(t, s, v+"/sobjects/Account/"+cr.ID+"?fields=Name,NumberOfEmployees,SLA_Expiration__c,Owner.Name", 200, &rec)
	if rec["Name"] != "Emu Corp" || rec["NumberOfEmployees"] != float64(12) || rec["SLA_Expiration__c"] != "2027-01-31" || rec["Owner"] == nil {
		t.Fatalf("get: %v", rec)
	}
	created, _ := s.Org.Get(cr.ID)
	if st, _, b := call(t, s, "PATCH", v+"/sobjects/Account/"+cr.ID[:15], map[string]any{"Phone": "555"}); st != 204 {
		t.Fatalf("patch: %d %s", st, b)
	}
	upd, _ := s.Org.Get(cr.ID)
	if upd.Fields["Phone"] != "555" || !upd.Fields["SystemModstamp"].(time.Time).After(created.Fields["SystemModstamp"].(time.Time)) ||
		upd.Fields["CreatedDate"] != created.Fields["CreatedDate"] {
		t.Fatalf("update stamps: %v -> %v", created.Fields["SystemModstamp"], upd.Fields["SystemModstamp"])
	}
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"Nope__c": 1}, "INVALID_FIELD"},
		{map[string]any{"Name": nil}, "REQUIRED_FIELD_MISSING"},
		{map[string]any{"Customer_Tier__c": "Diamond"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
		{map[string]any{"CreatedDate": "2020-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{map[string]any{"ParentId": "001Dn0000ZZZZZZ"}, "INVALID_CROSS_REFERENCE_KEY"},
	} {
		st, _, b := call(t, s, "PATCH", v+"/sobjects/Account/"+cr.ID, tc.body)
		if st != 400 || errCode(t, b) != tc.code {
			t.Errorf("%v: %d %s", tc.body, st, b)
		}
	}
	if st, _, b := call(t, s, "POST", v+"/sobjects/Contact", map[string]any{"FirstName": "X"}); st != 400 || errCode(t, b) != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("required on insert: %d %s", st, b)
	}
	if st, _, b := call(t, s, "GET", v+"/sobjects/Account/001Dn0000ZZZZZZAAA", nil); st != 404 && st != 400 {
		t.Fatalf("missing: %d %s", st, b)
	}
	if st, _, b := call(t, s, "GET", v+"/sobjects/Account/garbage", nil); st != 400 || errCode(t, b) != "MALFORMED_ID" {
		t.Fatalf("malformed: %d %s", st, b)
	}
	if st, _, _ := call(t, s, "DELETE", v+"/sobjects/Account/"+cr.ID, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, b := call(t, s, "DELETE", v+"/sobjects/Account/"+cr.ID, nil); st != 404 || errCode(t, b) != "ENTITY_IS_DELETED" {
		t.Fatalf("delete twice: %d %s", st, b)
	}
	// Upsert by external id: insert then update.
	st, _, b = call(t, s, "PATCH", v+"/sobjects/Account/Legacy_Id__c/EXT-1", map[string]any{"Name": "By Ext"})
	if st != 201 || !strings.Contains(string(b), `"created":true`) {
		t.Fatalf("upsert insert: %d %s", st, b)
	}
	st, _, b = call(t, s, "PATCH", v+"/sobjects/Account/Legacy_Id__c/EXT-1", map[string]any{"Name": "By Ext 2"})
	if st != 200 || !strings.Contains(string(b), `"created":false`) {
		t.Fatalf("upsert update: %d %s", st, b)
	}
	// Blobs: a generated ContentVersion streams its shared body; the
	// checksum is its MD5; a REST query returns the blob URL.
	var q queryResp
	getJSON(t, s, qpath("SELECT Id, VersionData, Checksum, ContentSize FROM ContentVersion LIMIT 5"), 200, &q)
	for _, r := range q.Records {
		url := r["VersionData"].(string)
		if url != v+"/sobjects/ContentVersion/"+r["Id"].(string)+"/VersionData" {
			t.Fatalf("blob url %s", url)
		}
		st, _, body := call(t, s, "GET", url, nil)
		sum := md5.Sum(body)
		if st != 200 || hex.EncodeToString(sum[:]) != r["Checksum"] || float64(len(body)) != r["ContentSize"] {
			t.Fatalf("blob: %d len %d sum %x vs %v", st, len(body), sum, r)
		}
	}
	// Shared bodies: many attachments, fewer distinct checksums.
	sums := map[string]int{}
	s.Org.Records("ContentVersion", func(r Record) bool { sums[r.Fields["Checksum"].(string)]++; return true })
	if len(sums) >= int(s.Org.GeneratedCount("ContentVersion")) {
		t.Fatalf("no shared file bodies: %d distinct of %d", len(sums), s.Org.GeneratedCount("ContentVersion"))
	}
	// Upload a new version with multipart; Attachment Body by JSON base64.
	var mp bytes.Buffer
	mp.WriteString("--B\r\nContent-Disposition: form-data; name=\"entity_content\"\r\nContent-Type: application/json\r\n\r\n{\"Title\":\"q1\",\"PathOnClient\":\"q1.txt\"}\r\n--B\r\nContent-Disposition: form-data; name=\"VersionData\"; filename=\"q1.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nhello file\r\n--B--\r\n")
	req, _ := http.NewRequest("POST", s.URL+v+"/sobjects/ContentVersion", &mp)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	resp, err := s.Client().Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("multipart: %v %v", err, resp)
	}
	jsonDecode(t, resp.Body, &cr)
	resp.Body.Close()
	cv, _ := s.Org.Get(cr.ID)
	if cv.Fields["ContentDocumentId"] == nil || cv.Fields["Checksum"] != fmt.Sprintf("%x", md5.Sum([]byte("hello file"))) || cv.Fields["FileExtension"] != "txt" {
		t.Fatalf("content version: %v", cv.Fields)
	}
	_, _, body := call(t, s, "GET", v+"/sobjects/ContentVersion/"+cr.ID+"/versiondata", nil)
	if string(body) != "hello file" {
		t.Fatalf("uploaded blob: %q", body)
	}
	acc := firstID(t, s.Org, "Account")
	st, _, b = call(t, s, "POST", v+"/sobjects/Attachment", map[string]any{"Name": "a.txt", "ParentId": acc, "Body": base64.StdEncoding.EncodeToString([]byte("attached"))})
	jsonDecode(t, bytes.NewReader(b), &cr)
	if _, _, body := call(t, s, "GET", v+"/sobjects/Attachment/"+cr.ID+"/Body", nil); string(body) != "attached" {
		t.Fatalf("attachment body: %q", body)
	}
}

func firstID(t testing.TB, o *Org, obj string) string {
	var id string
	o.Records(obj, func(r Record) bool {
		if !r.Deleted {
			id = r.ID
			return false
		}
		return true
	})
	return id
}

func TestCollectionsAndTree(t *testing.T) {
	s := NewServer(Options{Seed: 4, Records: 2000})
	defer s.Close()
	var res []map[string]any
	st, _, b := call(t, s, "POST", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		map[string]any{"attributes": map[string]string{"type": "Account"}, "Name": "C1"},
		map[string]any{"attributes": map[string]string{"type": "Contact"}, "FirstName": "No last name"},
	}})
	jsonDecode(t, bytes.NewReader(b), &res)
	if st != 200 || res[0]["success"] != false || !strings.Contains(string(b), "ALL_OR_NONE_OPERATION_ROLLED_BACK") || !strings.Contains(string(b), "REQUIRED_FIELD_MISSING") {
		t.Fatalf("allOrNone: %d %s", st, b)
	}
	var q queryResp
	getJSON(t, s, qpath("SELECT Id FROM Account WHERE Name = 'C1'"), 200, &q)
	if q.TotalSize != 0 {
		t.Fatal("rolled-back insert is visible")
	}
	_, _, b = call(t, s, "POST", v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		map[string]any{"attributes": map[string]string{"type": "Account"}, "Name": "C1"},
		map[string]any{"attributes": map[string]string{"type": "Contact"}, "FirstName": "No last name"},
		map[string]any{"attributes": map[string]string{"type": "Account"}, "Name": "C2"},
	}})
	res = nil
	jsonDecode(t, bytes.NewReader(b), &res)
	if res[0]["success"] != true || res[1]["success"] != false || res[2]["success"] != true {
		t.Fatalf("partial: %s", b)
	}
	id1, id2 := res[0]["id"].(string), res[2]["id"].(string)
	_, _, b = call(t, s, "PATCH", v+"/composite/sobjects", map[string]any{"records": []any{
		map[string]any{"attributes": map[string]string{"type": "Account"}, "id": id1, "Rating": "Hot"},
	}})
	if !strings.Contains(string(b), `"success":true`) {
		t.Fatalf("update: %s", b)
	}
	var recs []map[string]any
	getJSON(t, s, v+"/composite/sobjects/Account?ids="+id1+","+id2+",001Dn0000ZZZZZZAAA&fields=Id,Name,Rating", 200, &recs)
	if len(recs) != 3 || recs[0]["Rating"] != "Hot" || recs[2] != nil {
		t.Fatalf("retrieve: %v", recs)
	}
	_, _, b = call(t, s, "DELETE", v+"/composite/sobjects?ids="+id1+","+id2, nil)
	if strings.Count(string(b), `"success":true`) != 2 {
		t.Fatalf("delete: %s", b)
	}
	// Tree: parent with nested children, as `sf data import tree` sends.
	st, _, b = call(t, s, "POST", v+"/composite/tree/Account", map[string]any{"records": []any{
		map[string]any{"attributes": map[string]string{"type": "Account", "referenceId": "ref1"}, "Name": "Tree Co",
			"Contacts": map[string]any{"records": []any{
				map[string]any{"attributes": map[string]string{"type": "Contact", "referenceId": "ref2"}, "LastName": "Leaf"},
			}}},
	}})
	if st != 201 || !strings.Contains(string(b), `"hasErrors":false`) || !strings.Contains(string(b), "ref2") {
		t.Fatalf("tree: %d %s", st, b)
	}
	getJSON(t, s, qpath("SELECT Id, Account.Name FROM Contact WHERE LastName = 'Leaf'"), 200, &q)
	if q.TotalSize != 1 || q.Records[0]["Account"].(map[string]any)["Name"] != "Tree Co" {
		t.Fatalf("tree child: %v", q.Records)
	}
	n := s.Org.Count("Account", true)
	st, _, b = call(t, s, "POST", v+"/composite/tree/Account", map[string]any{"records": []any{
		map[string]any{"attributes": map[string]string{"type": "Account", "referenceId": "ok"}, "Name": "Fine"},
		map[string]any{"attributes": map[string]string{"type": "Account", "referenceId": "bad"}},
	}})
	if st != 400 || !strings.Contains(string(b), `"hasErrors":true`) || s.Org.Count("Account", true) != n {
		t.Fatalf("tree failure: %d %s", st, b)
	}
}

func TestRecycleBin(t *testing.T) {
	s := NewServer(Options{Seed: 6, Records: 3000})
	defer s.Close()
	o := s.Org
	inv := firstID(t, o, "Invoice__c")
	var lines queryResp
	getJSON(t, s, qpath("SELECT Id FROM Invoice_Line__c WHERE Invoice__c = '"+inv+"'"), 200, &lines)
	if lines.TotalSize == 0 {
		t.Fatal("invoice without lines")
	}
	if st, _, _ := call(t, s, "DELETE", v+"/sobjects/Invoice__c/"+inv, nil); st != 204 {
		t.Fatal(st)
	}
	// Cascade: lines are in the bin too; query hides them, queryAll shows them.
	var q queryResp
	getJSON(t, s, qpath("SELECT Id FROM Invoice_Line__c WHERE Invoice__c = '"+inv+"'"), 200, &q)
	if q.TotalSize != 0 {
		t.Fatalf("cascade: %d lines still live", q.TotalSize)
	}
	getJSON(t, s, v+"/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Invoice_Line__c WHERE Invoice__c = '"+inv+"' AND IsDeleted = true"), 200, &q)
	if q.TotalSize != lines.TotalSize {
		t.Fatalf("queryAll: %d deleted lines, want %d", q.TotalSize, lines.TotalSize)
	}
	// SOAP undelete restores the invoice and its lines.
	env := `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>` + s.Token + `</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:undelete><urn:ids>` + inv + `</urn:ids><urn:ids>` + firstID(t, o, "Account") + `</urn:ids></urn:undelete></soapenv:Body></soapenv:Envelope>`
	st, _, b := call(t, s, "POST", "/services/Soap/u/62.0", []byte(env), "Content-Type", "text/xml", "SOAPAction", "undelete")
	if st != 200 || !strings.Contains(string(b), "<id>"+inv+"</id><success>true</success>") || !strings.Contains(string(b), "UNDELETE_FAILED") {
		t.Fatalf("undelete: %d %s", st, b)
	}
	getJSON(t, s, qpath("SELECT Id FROM Invoice_Line__c WHERE Invoice__c = '"+inv+"'"), 200, &q)
	if q.TotalSize != lines.TotalSize {
		t.Fatalf("undelete cascade: %d of %d lines back", q.TotalSize, lines.TotalSize)
	}
	// Bad session on SOAP: a fault with sf:INVALID_SESSION_ID, HTTP 500.
	st, _, b = call(t, s, "POST", "/services/Soap/u/62.0", []byte(strings.Replace(env, s.Token, "bogus", 1)))
	if st != 500 || !regexp.MustCompile(`<faultcode>[a-zA-Z]+:INVALID_SESSION_ID</faultcode>`).Match(b) {
		t.Fatalf("SOAP session: %d %s", st, b)
	}
	// Purge: gone from queryAll, listed by getDeleted.
	o.Delete(inv)
	o.Advance(2 * time.Hour)
	if err := o.Purge(inv); err != nil {
		t.Fatal(err)
	}
	getJSON(t, s, v+"/queryAll?q="+url.QueryEscape("SELECT Id FROM Invoice__c WHERE Id = '"+inv+"'"), 200, &q)
	if q.TotalSize != 0 {
		t.Fatal("purged record in queryAll")
	}
	start := o.Now().Add(-24 * time.Hour).Format(time.RFC3339)
	end := o.Now().Add(time.Hour).Format(time.RFC3339)
	var del struct {
		DeletedRecords []struct{ ID string } `json:"deletedRecords"`
	}
	getJSON(t, s, v+"/sobjects/Invoice__c/deleted/?start="+url.QueryEscape(start)+"&end="+url.QueryEscape(end), 200, &del)
	if len(del.DeletedRecords) != 1 || del.DeletedRecords[0].ID != inv {
		t.Fatalf("getDeleted: %+v", del)
	}
	if _, ok := o.Get(inv); ok {
		t.Fatal("purged record still readable")
	}
	if err := o.Undelete(inv); err == nil {
		t.Fatal("undeleted a purged record")
	}
}

func TestReplicationAndLateCommit(t *testing.T) {
	s := NewServer(Options{Seed: 8, Records: 3000})
	defer s.Close()
	o := s.Org
	rng := func(path string, from, to time.Time) string {
		return v + path + "?start=" + url.QueryEscape(from.Format(time.RFC3339)) + "&end=" + url.QueryEscape(to.Format(time.RFC3339))
	}
	now := o.Now()
	var up struct {
		IDs               []string `json:"ids"`
		LatestDateCovered string   `json:"latestDateCovered"`
	}
	getJSON(t, s, rng("/sobjects/Account/updated/", now.AddDate(0, 0, -29), now), 200, &up)
	want := 0
	o.Records("Account", func(r Record) bool {
		if r.Fields["SystemModstamp"].(time.Time).After(now.AddDate(0, 0, -29).Add(-time.Second)) {
			want++
		}
		return true
	})
	if len(up.IDs) != want || want == 0 {
		t.Fatalf("getUpdated: %d ids, want %d", len(up.IDs), want)
	}
	errs := []struct{ path, code string }{
		{rng("/sobjects/Account/updated/", now.AddDate(0, 0, -40), now), "INVALID_REPLICATION_DATE"},
		{rng("/sobjects/Account/deleted/", now.AddDate(0, 0, -20), now), "INVALID_REPLICATION_DATE"},
		{rng("/sobjects/Account/updated/", now, now.Add(30*time.Second)), "INVALID_REPLICATION_DATE"},
		{rng("/sobjects/ContentDocumentLink/updated/", now.AddDate(0, 0, -1), now), "INVALID_TYPE_FOR_OPERATION"},
	}
	for _, e := range errs {
		st, _, b := call(t, s, "GET", e.path, nil)
		if st != 400 || errCode(t, b) != e.code {
			t.Errorf("%s: %d %s", e.path, st, b)
		}
	}
	old := maxReplicationIDs
	maxReplicationIDs = 3
	st, _, b := call(t, s, "GET", rng("/sobjects/Account/updated/", now.AddDate(0, 0, -29), now), nil)
	maxReplicationIDs = old
	if st != 400 || errCode(t, b) != "EXCEEDED_ID_LIMIT" {
		t.Fatalf("id limit: %d %s", st, b)
	}
	// Late commit: a backup's watermark passes T, then a write stamped before
	// T commits: SystemModstamp > watermark misses it, getUpdated with
	// latestDateCovered does not.
	acc := firstID(t, o, "Account")
	tx := o.BeginTx()
	txStart := o.Now()
	o.Advance(10 * time.Minute)
	other := firstID(t, o, "Contact")
	o.Update(other, map[string]any{"Title": "CEO"})
	var q queryResp
	getJSON(t, s, qpath("SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp DESC LIMIT 1"), 200, &q)
	watermark := q.Records[0]["SystemModstamp"].(string)
	getJSON(t, s, rng("/sobjects/Account/updated/", txStart.Add(-time.Hour), o.Now()), 200, &up)
	if cov, _ := time.Parse("2006-01-02T15:04:05.000-0700", up.LatestDateCovered); cov.After(txStart) {
		t.Fatalf("latestDateCovered %s passes an open transaction started %s", up.LatestDateCovered, txStart)
	}
	tx.Update(acc, map[string]any{"Rating": "Cold"})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rec, _ := o.Get(acc)
	if !rec.Fields["SystemModstamp"].(time.Time).Equal(txStart.Truncate(time.Second)) {
		t.Fatalf("late commit stamp %v, want %v", rec.Fields["SystemModstamp"], txStart)
	}
	wm, _ := time.Parse("2006-01-02T15:04:05.000-0700", watermark)
	getJSON(t, s, qpath("SELECT Id FROM Account WHERE SystemModstamp > "+wm.UTC().Format("2006-01-02T15:04:05Z")), 200, &q)
	for _, r := range q.Records {
		if r["Id"] == acc {
			t.Fatal("late commit visible above the watermark")
		}
	}
	getJSON(t, s, rng("/sobjects/Account/updated/", txStart.Add(-time.Minute), o.Now()), 200, &up)
	found := false
	for _, id := range up.IDs {
		found = found || id == acc
	}
	if !found {
		t.Fatal("getUpdated misses the late commit")
	}
	if err := o.LateCommit(acc, map[string]any{"Rating": "Hot"}, txStart.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestChurn(t *testing.T) {
	mk := func() *Org { return NewOrg(Options{Seed: 11, Records: 20000}) }
	a, b := mk(), mk()
	opts := ChurnOptions{Seed: 1, Rate: 0.02, NewFields: 1}
	sa, sb := a.Churn(opts), b.Churn(opts)
	if fmt.Sprint(sa) != fmt.Sprint(sb) {
		t.Fatalf("churn not deterministic: %v vs %v", sa, sb)
	}
	if sa.Created == 0 || sa.Updated == 0 || sa.Deleted == 0 || len(sa.NewFields) != 1 {
		t.Fatalf("churn did little: %+v", sa)
	}
	if !a.Now().Equal(DefaultBaseTime.Add(24 * time.Hour)) {
		t.Fatalf("clock after a day: %v", a.Now())
	}
	for _, obj := range []string{"Account", "Contact", "Task"} {
		var ra, rb []string
		a.Records(obj, func(r Record) bool { ra = append(ra, fmt.Sprint(r)); return true })
		b.Records(obj, func(r Record) bool { rb = append(rb, fmt.Sprint(r)); return true })
		if strings.Join(ra, "\n") != strings.Join(rb, "\n") {
			t.Fatalf("%s differs after identical churn", obj)
		}
	}
	// Changed records carry the day's stamps; the new field is described.
	changed := 0
	a.Records("Contact", func(r Record) bool {
		if r.Fields["SystemModstamp"].(time.Time).After(DefaultBaseTime) {
			changed++
		}
		return true
	})
	if changed == 0 {
		t.Fatal("no Contact stamped during the churn day")
	}
	obj, field, _ := strings.Cut(sa.NewFields[0], ".")
	if a.Object(obj).Field(field) == nil || !a.Object(obj).Modified.After(DefaultBaseTime) {
		t.Fatal("schema change not visible")
	}
	// More days: the Recycle Bin empties itself after 15 days.
	emptied := 0
	for d := 0; d < 17; d++ {
		emptied += a.Churn(ChurnOptions{Seed: int64(d), Rate: 0.005}).BinEmptied
	}
	if emptied == 0 {
		t.Fatal("Recycle Bin never emptied")
	}
}

func TestFaults(t *testing.T) {
	for _, k := range AllFaults {
		t.Run(string(k), func(t *testing.T) {
			s := NewServer(Options{Seed: 1, Records: 2000, Faults: FaultOptions{Rate: 1, Kinds: []FaultKind{k}, SlowDelay: time.Millisecond}})
			defer s.Close()
			path := qpath("SELECT Id, Name FROM Account")
			if k == FaultBulkFailed {
				j := createQueryJob(t, s, "query", "SELECT Id FROM Account")
				s.Org.SetFaults(FaultOptions{})
				if jj := waitJob(t, s, "query", j.ID); jj.State != "Failed" || jj.ErrorMessage == "" {
					t.Fatalf("bulk job: %+v", jj)
				}
				return
			}
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := s.Client().Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch k {
			case Fault503:
				if err != nil || resp.StatusCode != 503 {
					t.Fatalf("%v %v", err, resp)
				}
			case Fault500:
				if err != nil || resp.StatusCode != 500 || errCode(t, body) != "UNKNOWN_EXCEPTION" {
					t.Fatalf("%v %s", err, body)
				}
			case FaultReset:
				if err == nil {
					t.Fatalf("reset: read a whole body of %d bytes", len(body))
				}
			case FaultSlow:
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("slow: %v", err)
				}
			case FaultQueryTimeout:
				if resp.StatusCode != 400 || errCode(t, body) != "QUERY_TIMEOUT" {
					t.Fatalf("%s", body)
				}
			case FaultSession:
				if resp.StatusCode != 401 || errCode(t, body) != "INVALID_SESSION_ID" {
					t.Fatalf("%s", body)
				}
			case FaultLimit:
				if resp.StatusCode != 403 || errCode(t, body) != "REQUEST_LIMIT_EXCEEDED" {
					t.Fatalf("%s", body)
				}
			}
			// Faulted writes change nothing (except a slow one, which is served).
			before := s.Org.Count("Account", true)
			req, _ = http.NewRequest("POST", s.URL+v+"/sobjects/Account", strings.NewReader(`{"Name":"F"}`))
			req.Header.Set("Authorization", "Bearer "+s.Token)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := s.Client().Do(req); err == nil {
				resp.Body.Close()
			}
			after := s.Org.Count("Account", true)
			if applied := after != before; applied != (k == FaultSlow || k == FaultReset || k == FaultQueryTimeout) {
				t.Fatalf("faulted write applied=%v", applied)
			}
			if s.Org.FaultCounts()[k] == 0 {
				t.Fatal("fault not counted")
			}
		})
	}
	// Deterministic: the same seed faults the same requests.
	fates := func() string {
		s := NewServer(Options{Seed: 1, Records: 100, Faults: FaultOptions{Rate: 0.3, Seed: 42, Kinds: []FaultKind{Fault503, Fault500}}})
		defer s.Close()
		var b strings.Builder
		for i := 0; i < 40; i++ {
			st, _, _ := call(t, s, "GET", v+"/limits", nil)
			fmt.Fprint(&b, st, " ")
		}
		return b.String()
	}
	if a, b := fates(), fates(); a != b || !strings.Contains(a, "503") || !strings.Contains(a, "200") {
		t.Fatalf("fault sequence: %q vs %q", a, b)
	}
}

func TestMetadata(t *testing.T) {
	s := NewServer(Options{Seed: 1})
	defer s.Close()
	soapCall := func(body string) string {
		env := `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader><met:sessionId>` + s.Token + `</met:sessionId></met:SessionHeader></soapenv:Header><soapenv:Body>` + body + `</soapenv:Body></soapenv:Envelope>`
		st, _, b := call(t, s, "POST", "/services/Soap/m/62.0", []byte(env), "Content-Type", "text/xml", "SOAPAction", `""`)
		if st != 200 {
			t.Fatalf("%d %s", st, b)
		}
		return string(b)
	}
	if d := soapCall(`<met:describeMetadata><met:asOfVersion>62.0</met:asOfVersion></met:describeMetadata>`); !strings.Contains(d, "<xmlName>ApexClass</xmlName>") {
		t.Fatal(d)
	}
	if l := soapCall(`<met:listMetadata><met:queries><met:type>ApexClass</met:type></met:queries></met:listMetadata>`); strings.Count(l, "<type>ApexClass</type>") != 3 {
		t.Fatal(l)
	}
	r := soapCall(`<met:retrieve><met:retrieveRequest><met:apiVersion>62.0</met:apiVersion><met:singlePackage>true</met:singlePackage><met:unpackaged><types><members>*</members><name>ApexClass</name></types><types><members>Account</members><members>Invoice__c</members><name>CustomObject</name></types><types><members>Account-Account Layout</members><name>Layout</name></types></met:unpackaged></met:retrieveRequest></met:retrieve>`)
	id := regexp.MustCompile(`<id>([^<]+)</id>`).FindStringSubmatch(r)[1]
	c := soapCall(`<met:checkRetrieveStatus><met:asyncProcessId>` + id + `</met:asyncProcessId><met:includeZip>true</met:includeZip></met:checkRetrieveStatus>`)
	z := regexp.MustCompile(`<zipFile>([^<]+)</zipFile>`).FindStringSubmatch(c)
	if z == nil || !strings.Contains(c, "<status>Succeeded</status>") {
		t.Fatal(c)
	}
	raw, _ := base64.StdEncoding.DecodeString(z[1])
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	for _, want := range []string{"package.xml", "classes/AccountService.cls", "classes/AccountService.cls-meta.xml", "objects/Invoice__c.object", "layouts/Account-Account Layout.layout"} {
		if !names[want] {
			t.Errorf("zip lacks %s: %v", want, names)
		}
	}
}

// TestScale: a 10M-record org is cheap to create and to iterate; records
// are generated on demand, so memory stays flat whatever the size.
func TestScale(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o := NewOrg(Options{Seed: 1, Records: 10_000_000})
	var total int64
	for _, n := range o.Objects() {
		total += o.GeneratedCount(n)
	}
	if total < 9_000_000 {
		t.Fatalf("generated %d records", total)
	}
	// Iterate a slice of the largest object through the accessor and a
	// query cursor, holding nothing.
	n := 0
	o.Records("Contact", func(r Record) bool { n++; return n < 200_000 })
	o.mu.RLock()
	q, _ := o.parseSOQL("SELECT Id, Name, Email, Account.Name FROM Contact")
	c := o.open(q, false)
	p := o.scan(c, pos{}, 300_000, func(*row, *evalCtx) {})
	o.mu.RUnlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.total != o.GeneratedCount("Contact") || p.emitted != 300_000 {
		t.Fatalf("cursor total %d emitted %d", c.total, p.emitted)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Fatalf("heap grew %d MiB for a 10M-record org", grown>>20)
	}
}
