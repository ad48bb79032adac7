package sftest

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

type jobInfo struct {
	ID                     string  `json:"id"`
	State                  string  `json:"state"`
	Object                 string  `json:"object"`
	NumberRecordsProcessed int64   `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int64   `json:"numberRecordsFailed"`
	APIVersion             float64 `json:"apiVersion"`
	ContentURL             string  `json:"contentUrl"`
	ErrorMessage           string  `json:"errorMessage"`
}

func createQueryJob(t testing.TB, s *Server, op, soql string) jobInfo {
	t.Helper()
	st, _, b := call(t, s, "POST", v+"/jobs/query", map[string]string{"operation": op, "query": soql})
	if st != 200 {
		t.Fatalf("create job: %d %s", st, b)
	}
	var j jobInfo
	jsonDecode(t, strings.NewReader(string(b)), &j)
	return j
}

func waitJob(t testing.TB, s *Server, kind, id string) jobInfo {
	t.Helper()
	for i := 0; i < 20; i++ {
		var j jobInfo
		getJSON(t, s, v+"/jobs/"+kind+"/"+id, 200, &j)
		if j.State == "JobComplete" || j.State == "Failed" || j.State == "Aborted" {
			return j
		}
	}
	t.Fatal("job never finished")
	return jobInfo{}
}

// readResults fetches every results page, checking the paging headers.
func readResults(t testing.TB, s *Server, id string, maxRecords int) (header []string, rows [][]string, pages int) {
	t.Helper()
	loc := ""
	for {
		path := v + "/jobs/query/" + id + "/results?maxRecords=" + strconv.Itoa(maxRecords)
		if loc != "" {
			path += "&locator=" + loc
		}
		st, h, b := call(t, s, "GET", path, nil)
		if st != 200 {
			t.Fatalf("results: %d %s", st, b)
		}
		r := csv.NewReader(strings.NewReader(string(b)))
		all, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if header == nil {
			header = all[0]
		} else if strings.Join(all[0], ",") != strings.Join(header, ",") {
			t.Fatalf("page header %v != %v", all[0], header)
		}
		if n, _ := strconv.Atoi(h.Get("Sforce-NumberOfRecords")); n != len(all)-1 {
			t.Fatalf("Sforce-NumberOfRecords %s, rows %d", h.Get("Sforce-NumberOfRecords"), len(all)-1)
		}
		rows = append(rows, all[1:]...)
		pages++
		loc = h.Get("Sforce-Locator")
		if loc == "null" {
			return
		}
		if loc == "" {
			t.Fatal("no Sforce-Locator")
		}
	}
}

func TestBulkQuery(t *testing.T) {
	s := NewServer(Options{Seed: 5, Records: 20000, BulkPolls: 2})
	defer s.Close()
	soql := "SELECT Id, Name, Account.Name, Birthdate, HasOptedOutOfEmail, CreatedDate, Description FROM Contact"
	j := createQueryJob(t, s, "query", soql)
	if j.State != "UploadComplete" || j.Object != "Contact" || !strings.HasPrefix(j.ID, "750") {
		t.Fatalf("created: %+v", j)
	}
	// Results before completion are refused.
	if st, _, _ := call(t, s, "GET", v+"/jobs/query/"+j.ID+"/results", nil); st != 400 {
		t.Fatalf("early results: %d", st)
	}
	var polled jobInfo
	getJSON(t, s, v+"/jobs/query/"+j.ID, 200, &polled)
	if polled.State != "InProgress" {
		t.Fatalf("second poll: %s", polled.State)
	}
	done := waitJob(t, s, "query", j.ID)
	want := s.Org.GeneratedCount("Contact")
	if done.State != "JobComplete" || done.NumberRecordsProcessed != want {
		t.Fatalf("done: %+v want %d", done, want)
	}
	header, rows, pages := readResults(t, s, j.ID, 700)
	if int64(len(rows)) != want || pages != int(want+699)/700 {
		t.Fatalf("rows %d pages %d", len(rows), pages)
	}
	if strings.Join(header, ",") != "Id,Name,Account.Name,Birthdate,HasOptedOutOfEmail,CreatedDate,Description" {
		t.Fatalf("header %v", header)
	}
	// Same rows as REST, formatted the Bulk way.
	rest, _ := queryAllPages(t, s, qpath(soql))
	for i, r := range rest {
		row := rows[i]
		if row[0] != r["Id"] || row[1] != r["Name"] {
			t.Fatalf("row %d: %v vs %v", i, row, r)
		}
		if r["Birthdate"] == nil && row[3] != "" || r["Birthdate"] != nil && row[3] != r["Birthdate"] {
			t.Fatalf("date: %q vs %v", row[3], r["Birthdate"])
		}
		if row[4] != "true" && row[4] != "false" {
			t.Fatalf("boolean %q", row[4])
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", row[5]); err != nil {
			t.Fatalf("datetime %q", row[5])
		}
		if acc, _ := r["Account"].(map[string]any); acc != nil && row[2] != acc["Name"] {
			t.Fatalf("parent %q vs %v", row[2], acc)
		}
	}
	// Locators are re-usable: page 2 twice gives the same bytes.
	_, h, p1 := call(t, s, "GET", v+"/jobs/query/"+j.ID+"/results?maxRecords=500&locator="+encodeLocator(500), nil)
	_, _, p2 := call(t, s, "GET", v+"/jobs/query/"+j.ID+"/results?maxRecords=500&locator="+encodeLocator(500), nil)
	if string(p1) != string(p2) || h.Get("Sforce-Locator") != encodeLocator(1000) {
		t.Fatal("re-fetched page differs")
	}
	// resultPages lists result URLs.
	var rp struct {
		ResultPages []map[string]string `json:"resultPages"`
		Done        bool                `json:"done"`
	}
	getJSON(t, s, v+"/jobs/query/"+j.ID+"/resultPages?maxRecords=1000", 200, &rp)
	if len(rp.ResultPages) != 4 || !rp.Done || rp.ResultPages[1]["resultUrl"] != v+"/jobs/query/"+j.ID+"/results?maxRecords=1000&locator="+encodeLocator(1000) {
		t.Fatalf("resultPages: %+v", rp)
	}
	// Results with another API version: 409.
	if st, _, _ := call(t, s, "GET", "/services/data/v61.0/jobs/query/"+j.ID+"/results", nil); st != 409 {
		t.Fatalf("version mismatch: %d", st)
	}
	// Abort a finished job: 400; delete it: 204; then 404.
	if st, _, b := call(t, s, "PATCH", v+"/jobs/query/"+j.ID, map[string]string{"state": "Aborted"}); st != 400 || errCode(t, b) != "INVALIDJOBSTATE" {
		t.Fatalf("abort done job: %d %s", st, b)
	}
	if st, _, _ := call(t, s, "DELETE", v+"/jobs/query/"+j.ID, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, b := call(t, s, "GET", v+"/jobs/query/"+j.ID, nil); st != 404 || errCode(t, b) != "NOT_FOUND" {
		t.Fatalf("deleted job: %d %s", st, b)
	}
	// Abort a running job, refuse deleting a running job.
	j2 := createQueryJob(t, s, "query", "SELECT Id FROM Account")
	if st, _, b := call(t, s, "DELETE", v+"/jobs/query/"+j2.ID, nil); st != 400 || errCode(t, b) != "API_ERROR" {
		t.Fatalf("delete running: %d %s", st, b)
	}
	var ab jobInfo
	st, _, b := call(t, s, "PATCH", v+"/jobs/query/"+j2.ID, map[string]string{"state": "Aborted"})
	jsonDecode(t, strings.NewReader(string(b)), &ab)
	if st != 200 || ab.State != "Aborted" {
		t.Fatalf("abort: %d %s", st, b)
	}
	var list struct {
		Records []jobInfo `json:"records"`
		Done    bool      `json:"done"`
	}
	getJSON(t, s, v+"/jobs/query", 200, &list)
	if len(list.Records) != 1 || !list.Done {
		t.Fatalf("list: %+v", list)
	}
	// Create-time rejections.
	for _, q := range []struct{ soql, code string }{
		{"SELECT Id, BillingAddress FROM Account", "API_ERROR"},
		{"SELECT Id, VersionData FROM ContentVersion", "API_ERROR"},
		{"SELECT Id FROM TaskStatus", "INVALIDENTITY"},
		{"SELECT COUNT() FROM Account", "API_ERROR"},
		{"SELECT Id FROM Account WHERE", "MALFORMED_QUERY"},
		{"SELECT Nope FROM Account", "INVALID_FIELD"},
	} {
		st, _, b := call(t, s, "POST", v+"/jobs/query", map[string]string{"operation": "query", "query": q.soql})
		if st != 400 || errCode(t, b) != q.code {
			t.Errorf("%s: %d %s", q.soql, st, b)
		}
	}
	// An empty result: header only, Sforce-Locator null.
	j3 := createQueryJob(t, s, "query", "SELECT Id, Name FROM Account WHERE Name = 'no such account'")
	waitJob(t, s, "query", j3.ID)
	_, h3, b3 := call(t, s, "GET", v+"/jobs/query/"+j3.ID+"/results", nil)
	if string(b3) != "\"Id\",\"Name\"\n" || h3.Get("Sforce-Locator") != "null" || h3.Get("Sforce-NumberOfRecords") != "0" {
		t.Fatalf("empty results: %q %v", b3, h3)
	}
}

func TestBulkQueryAllAndGzip(t *testing.T) {
	s := NewServer(Options{Seed: 5, Records: 5000})
	defer s.Close()
	var ids []string
	s.Org.Records("Account", func(r Record) bool { ids = append(ids, r.ID); return len(ids) < 3 })
	for _, id := range ids {
		if err := s.Org.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	n := s.Org.GeneratedCount("Account")
	q := createQueryJob(t, s, "query", "SELECT Id, IsDeleted FROM Account")
	qa := createQueryJob(t, s, "queryAll", "SELECT Id, IsDeleted FROM Account")
	if j := waitJob(t, s, "query", q.ID); j.NumberRecordsProcessed != n-3 {
		t.Fatalf("query: %d", j.NumberRecordsProcessed)
	}
	if j := waitJob(t, s, "query", qa.ID); j.NumberRecordsProcessed != n {
		t.Fatalf("queryAll: %d", j.NumberRecordsProcessed)
	}
	_, rows, _ := readResults(t, s, qa.ID, 100000)
	del := 0
	for _, r := range rows {
		if r[1] == "true" {
			del++
		}
	}
	if del != 3 {
		t.Fatalf("deleted rows in queryAll: %d", del)
	}
	// gzip on request (the Go client would transparently decompress: ask
	// explicitly to see the header).
	req, _ := http.NewRequest("GET", s.URL+v+"/jobs/query/"+q.ID+"/results", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("no gzip")
	}
}

func TestBulkIngest(t *testing.T) {
	s := NewServer(Options{Seed: 9, Records: 2000, ValidationRules: []ValidationRule{{
		Object: "Account", Name: "No_Test", Message: "Name cannot contain TEST", ErrorField: "Name",
		Fails: func(r Record) bool { n, _ := r.Fields["Name"].(string); return strings.Contains(n, "TEST") },
	}}})
	defer s.Close()
	var acc Record
	s.Org.Records("Account", func(r Record) bool { acc = r; return false })
	create := func(obj, op, ext string) jobInfo {
		body := map[string]string{"object": obj, "operation": op, "lineEnding": "LF"}
		if ext != "" {
			body["externalIdFieldName"] = ext
		}
		st, _, b := call(t, s, "POST", v+"/jobs/ingest", body)
		if st != 200 {
			t.Fatalf("create ingest: %d %s", st, b)
		}
		var j jobInfo
		jsonDecode(t, strings.NewReader(string(b)), &j)
		if j.State != "Open" || !strings.HasPrefix(j.ContentURL, "services/data/v62.0/jobs/ingest/") {
			t.Fatalf("ingest job: %+v", j)
		}
		return j
	}
	j := create("Contact", "insert", "")
	csvData := "LastName,FirstName,Email,Account.Legacy_Id__c\n" +
		"Okafor,Ngozi,ngozi@example.com," + acc.Fields["Legacy_Id__c"].(string) + "\n" +
		",Nobody,nobody@example.com,\n" +
		"Smith,\"Jo, Jr\",jo@example.com,LEG-NOPE\n"
	if st, _, b := call(t, s, "PUT", v+"/jobs/ingest/"+j.ID+"/batches", csvData); st != 201 {
		t.Fatalf("upload: %d %s", st, b)
	}
	if st, _, b := call(t, s, "PUT", v+"/jobs/ingest/"+j.ID+"/batches", csvData); st != 400 || !strings.Contains(string(b), "Found multiple contents") {
		t.Fatalf("second upload: %d %s", st, b)
	}
	if st, _, b := call(t, s, "PATCH", v+"/jobs/ingest/"+j.ID, map[string]string{"state": "UploadComplete"}); st != 200 {
		t.Fatalf("close: %d %s", st, b)
	}
	done := waitJob(t, s, "ingest", j.ID)
	if done.NumberRecordsProcessed != 3 || done.NumberRecordsFailed != 2 {
		t.Fatalf("ingest: %+v", done)
	}
	_, _, ok := call(t, s, "GET", v+"/jobs/ingest/"+j.ID+"/successfulResults", nil)
	lines := strings.Split(strings.TrimSpace(string(ok)), "\n")
	if lines[0] != `"sf__Id","sf__Created",LastName,FirstName,Email,Account.Legacy_Id__c` || len(lines) != 2 || !strings.Contains(lines[1], `"true"`) {
		t.Fatalf("successfulResults: %s", ok)
	}
	newID := strings.Trim(strings.Split(lines[1], ",")[0], `"`)
	rec, found := s.Org.Get(newID)
	if !found || rec.Fields["AccountId"] != acc.ID || rec.Fields["FirstName"] != "Ngozi" {
		t.Fatalf("inserted: %v", rec)
	}
	_, _, bad := call(t, s, "GET", v+"/jobs/ingest/"+j.ID+"/failedResults", nil)
	if !strings.Contains(string(bad), "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --") ||
		!strings.Contains(string(bad), "Foreign key external ID: LEG-NOPE not found") {
		t.Fatalf("failedResults: %s", bad)
	}
	// Update with #N/A (null) and empty (unchanged), validation-rule failure.
	j = create("Account", "update", "")
	call(t, s, "PUT", v+"/jobs/ingest/"+j.ID+"/batches", "Id,Phone,Website,Name\n"+acc.ID+",#N/A,,\n"+acc.ID+",,,TEST corp\n")
	call(t, s, "PATCH", v+"/jobs/ingest/"+j.ID, map[string]string{"state": "UploadComplete"})
	done = waitJob(t, s, "ingest", j.ID)
	if done.NumberRecordsFailed != 1 {
		t.Fatalf("update: %+v", done)
	}
	after, _ := s.Org.Get(acc.ID)
	if after.Fields["Phone"] != nil || after.Fields["Website"] != acc.Fields["Website"] || after.Fields["Name"] != acc.Fields["Name"] {
		t.Fatalf("update semantics: %v", after.Fields)
	}
	_, _, bad = call(t, s, "GET", v+"/jobs/ingest/"+j.ID+"/failedResults", nil)
	if !strings.Contains(string(bad), "FIELD_CUSTOM_VALIDATION_EXCEPTION:Name cannot contain TEST:Name --") {
		t.Fatalf("validation: %s", bad)
	}
	// Upsert on an external id: one update, one insert.
	j = create("Account", "upsert", "Legacy_Id__c")
	call(t, s, "PUT", v+"/jobs/ingest/"+j.ID+"/batches", "Legacy_Id__c,Name\n"+acc.Fields["Legacy_Id__c"].(string)+",Renamed\nLEG-NEW-1,Brand New\n")
	call(t, s, "PATCH", v+"/jobs/ingest/"+j.ID, map[string]string{"state": "UploadComplete"})
	waitJob(t, s, "ingest", j.ID)
	_, _, ok = call(t, s, "GET", v+"/jobs/ingest/"+j.ID+"/successfulResults", nil)
	if !strings.Contains(string(ok), `"false",`+acc.Fields["Legacy_Id__c"].(string)) || !strings.Contains(string(ok), `"true",LEG-NEW-1`) {
		t.Fatalf("upsert: %s", ok)
	}
	// Abort with data: unprocessed records.
	j = create("Account", "delete", "")
	call(t, s, "PUT", v+"/jobs/ingest/"+j.ID+"/batches", "Id\n"+acc.ID+"\n")
	call(t, s, "PATCH", v+"/jobs/ingest/"+j.ID, map[string]string{"state": "Aborted"})
	_, _, un := call(t, s, "GET", v+"/jobs/ingest/"+j.ID+"/unprocessedrecords", nil)
	if string(un) != "Id\n"+acc.ID+"\n" {
		t.Fatalf("unprocessed: %q", un)
	}
	if r, _ := s.Org.Get(acc.ID); r.Deleted {
		t.Fatal("aborted job deleted a record")
	}
}

// BenchmarkBulkQuery1M reads 1M generated Account records through Bulk 2.0
// over HTTP with a plain CSV reader and reports records/s and peak heap.
func BenchmarkBulkQuery1M(b *testing.B) {
	s := NewServer(Options{Seed: 1, Records: 12_500_000}) // 8% Accounts = 1M
	defer s.Close()
	const soql = "SELECT Id, Name, Phone, BillingCity, BillingCountry, Industry, AnnualRevenue, OwnerId, CreatedDate, SystemModstamp FROM Account"
	var peak uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		j := createQueryJob(b, s, "query", soql)
		waitJob(b, s, "query", j.ID)
		loc := ""
		for {
			path := s.URL + v + "/jobs/query/" + j.ID + "/results?maxRecords=200000"
			if loc != "" {
				path += "&locator=" + loc
			}
			req, _ := http.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := s.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			r := csv.NewReader(resp.Body)
			r.ReuseRecord = true
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				total++
			}
			resp.Body.Close()
			total-- // header
			loc = resp.Header.Get("Sforce-Locator")
			if loc == "null" {
				break
			}
		}
	}
	b.StopTimer()
	close(stop)
	if total != b.N*1_000_000 {
		b.Fatalf("read %d records", total)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	_ = fmt.Sprint
}
