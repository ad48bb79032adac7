package sfapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
)

// fakeBulk is a small Bulk 2.0 query server: rows are "Id","Name" with
// deterministic values, served in pages of pageSize with base64 locators.
type fakeBulk struct {
	t        *testing.T
	rows     int
	pageSize int

	mu        sync.Mutex
	jobs      int
	polls     map[string]int
	failJobs  int            // first N jobs end Failed
	breakPage map[string]int // locator → times to break it (truncate)
	resetPage map[string]int // locator → times to reset before headers
	shortPage map[string]int // locator → times to end early at a row boundary
	noNull    bool           // omit Sforce-Locator on the last page
	pagesAPI  bool           // serve resultPages (else 404)
	extra     int            // added to numberRecordsProcessed
	listings  int
	gets      map[string]int  // locator → fetches
	deleted   map[string]bool // job id → deleted
}

func jobID(n int) string {
	id, _ := sfapi.To18(fmt.Sprintf("750R%011d", n))
	return id
}

func rowID(i int) string { return fmt.Sprintf("001%015d", i) }

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const base = "/services/data/v62.0/jobs/query"
	p := strings.TrimPrefix(r.URL.Path, base)
	switch {
	case p == "" && r.Method == http.MethodPost:
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		if body["operation"] != "query" && body["operation"] != "queryAll" || body["contentType"] != "CSV" {
			f.t.Errorf("create body %v", body)
		}
		f.jobs++
		writeJSON(w, 200, fmt.Sprintf(`{"id":%q,"operation":%q,"object":"Account","state":"UploadComplete","apiVersion":62.0,"columnDelimiter":"COMMA","lineEnding":"LF"}`, jobID(f.jobs), body["operation"]))
	case strings.HasSuffix(p, "/results"):
		loc := r.URL.Query().Get("locator")
		if mr := r.URL.Query().Get("maxRecords"); mr != strconv.Itoa(f.pageSize) && mr != "50000" {
			f.t.Errorf("maxRecords %q", mr)
		}
		f.gets[loc]++
		if f.resetPage[loc] > 0 {
			f.resetPage[loc]--
			hijackReset(w)
			return
		}
		start := 0
		if loc != "" {
			b, _ := base64.RawStdEncoding.DecodeString(loc)
			start, _ = strconv.Atoi(string(b))
		}
		end := min(start+f.pageSize, f.rows)
		var sb strings.Builder
		sb.WriteString("\"Id\",\"Name\"\n")
		for i := start; i < end; i++ {
			fmt.Fprintf(&sb, "\"%s\",\"Name, \"\"%d\"\"\nline2\"\n", rowID(i), i)
		}
		h := http.Header{"Content-Type": {"text/csv; charset=UTF-8"}, "Sforce-Numberofrecords": {strconv.Itoa(end - start)}}
		if end < f.rows {
			h.Set("Sforce-Locator", base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		} else if !f.noNull {
			h.Set("Sforce-Locator", "null")
		}
		body := sb.String()
		if f.breakPage[loc] > 0 {
			f.breakPage[loc]--
			hijackTruncated(w, h, body, len(body)*2/3)
			return
		}
		if f.shortPage[loc] > 0 {
			f.shortPage[loc]--
			// End cleanly after the header and half the rows: only the
			// row count reveals the loss.
			lines := strings.SplitAfter(body, "line2\"\n")
			body = strings.Join(lines[:len(lines)/2], "")
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		io.WriteString(w, body)
	case strings.HasSuffix(strings.ToLower(p), "/resultpages"):
		if !f.pagesAPI {
			writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
			return
		}
		f.listings++
		id := strings.Split(strings.TrimPrefix(p, "/"), "/")[0]
		start := 0
		if l := r.URL.Query().Get("locator"); l != "" {
			start, _ = strconv.Atoi(l)
		}
		var urls []string
		for i := start; i < f.rows && len(urls) < 2; i += f.pageSize {
			l := ""
			if i > 0 {
				l = loc(i)
			}
			urls = append(urls, fmt.Sprintf(`{"resultUrl":"%s/%s/results?locator=%s&maxRecords=%d"}`, base, id, l, f.pageSize))
			start = i + f.pageSize
		}
		next, done := "null", start >= f.rows
		if !done {
			next = fmt.Sprintf("%q", fmt.Sprintf("%s/%s/resultpages?locator=%d", base, id, start))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"resultPages":[%s],"nextRecordUrl":%s,"done":%v}`, strings.Join(urls, ","), next, done))
	case r.Method == http.MethodGet:
		id := strings.TrimPrefix(p, "/")
		f.polls[id]++
		n, _ := strconv.Atoi(strings.TrimLeft(id[4:15], "0"))
		state := "InProgress"
		extra := ""
		if f.polls[id] >= 3 {
			state = "JobComplete"
			if n <= f.failJobs {
				state, extra = "Failed", `,"errorMessage":"InternalServerError: retried more than 15 times"`
			}
		}
		writeJSON(w, 200, fmt.Sprintf(`{"id":%q,"operation":"query","object":"Account","state":%q,"numberRecordsProcessed":%d,"apiVersion":62.0%s}`, id, state, f.rows+f.extra, extra))
	case r.Method == http.MethodDelete:
		f.deleted[strings.TrimPrefix(p, "/")] = true
		w.WriteHeader(204)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(404)
	}
}

func newFakeBulk(t *testing.T, rows, pageSize int) *fakeBulk {
	return &fakeBulk{t: t, rows: rows, pageSize: pageSize, polls: map[string]int{}, breakPage: map[string]int{},
		resetPage: map[string]int{}, shortPage: map[string]int{}, gets: map[string]int{}, deleted: map[string]bool{}}
}

func loc(n int) string { return base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(n))) }

func readAllBulk(t *testing.T, c *sfapi.Client, opts *sfapi.BulkQueryOptions) ([]string, *sfapi.CSVStream, error) {
	t.Helper()
	s, err := c.BulkQuery(context.Background(), "SELECT Id, Name FROM Account", opts)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	var ids []string
	for s.Next() {
		rec := s.Record()
		if len(rec) != 2 {
			t.Fatalf("row %v", rec)
		}
		i, _ := strconv.Atoi(strings.TrimLeft(rec[0][3:], "0"))
		if rec[1] != fmt.Sprintf("Name, \"%d\"\nline2", i) {
			t.Fatalf("row %d name %q", i, rec[1])
		}
		ids = append(ids, rec[0])
	}
	return ids, s, s.Err()
}

func checkIDs(t *testing.T, ids []string, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("%d rows, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != rowID(i) {
			t.Fatalf("row %d is %s", i, id)
		}
	}
}

func TestBulkQueryPaging(t *testing.T) {
	fb := newFakeBulk(t, 2500, 1000)
	env := newEnv(t, fb)
	ids, s, err := readAllBulk(t, env.c, &sfapi.BulkQueryOptions{MaxRecords: 1000, DeleteJob: true})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, ids, 2500)
	if h := s.Header(); len(h) != 2 || h[0] != "Id" {
		t.Fatalf("header %v", h)
	}
	if s.Pages() != 3 || fb.polls[jobID(1)] != 3 || !fb.deleted[jobID(1)] {
		t.Fatalf("pages %d polls %v deleted %v", s.Pages(), fb.polls, fb.deleted)
	}
	// Poll backoff: 500ms then 750ms.
	if sl := env.clock.Sleeps(); len(sl) != 2 || sl[0].Milliseconds() != 500 || sl[1].Milliseconds() != 750 {
		t.Fatalf("poll sleeps %v", sl)
	}
}

func TestBulkQueryFaults(t *testing.T) {
	fb := newFakeBulk(t, 2500, 1000)
	fb.breakPage[""] = 1
	fb.breakPage[loc(1000)] = 2
	fb.resetPage[loc(2000)] = 1
	fb.shortPage[loc(1000)] = 1
	fb.noNull = true
	fb.failJobs = 1
	env := newEnv(t, fb)
	ids, _, err := readAllBulk(t, env.c, &sfapi.BulkQueryOptions{MaxRecords: 1000})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, ids, 2500)
	if fb.jobs != 2 {
		t.Fatalf("jobs %d: a Failed job must be re-run once", fb.jobs)
	}
	if fb.gets[""] != 2 || fb.gets[loc(1000)] != 4 || fb.gets[loc(2000)] != 2 {
		t.Fatalf("page fetches %v", fb.gets)
	}
}

func TestBulkQueryGivesUp(t *testing.T) {
	fb := newFakeBulk(t, 10, 1000)
	fb.breakPage[""] = 100
	env := newEnv(t, fb, func(c *sfapi.Config) { c.Retry.MaxAttempts = 3 })
	_, _, err := readAllBulk(t, env.c, nil)
	if err == nil || !strings.Contains(err.Error(), "failed 3 times") {
		t.Fatalf("err = %v", err)
	}

	fb2 := newFakeBulk(t, 10, 1000)
	fb2.failJobs = 10
	env2 := newEnv(t, fb2)
	_, _, err = readAllBulk(t, env2.c, &sfapi.BulkQueryOptions{JobAttempts: 2})
	if !errors.Is(err, sfapi.ErrBulkJobFailed) || fb2.jobs != 2 || !strings.Contains(err.Error(), "retried more than 15") {
		t.Fatalf("err = %v jobs %d", err, fb2.jobs)
	}
}

func TestBulkQueryEmpty(t *testing.T) {
	fb := newFakeBulk(t, 0, 1000)
	env := newEnv(t, fb)
	ids, s, err := readAllBulk(t, env.c, nil)
	if err != nil || len(ids) != 0 || len(s.Header()) != 2 {
		t.Fatalf("ids %v err %v header %v", ids, err, s.Header())
	}
}

func TestBulkCreateError(t *testing.T) {
	var n int
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		writeJSON(w, 400, `[{"errorCode":"INVALIDENTITY","message":"Entity 'RecentlyViewed' is not supported by the Bulk API."}]`)
	}))
	_, err := env.c.BulkQuery(context.Background(), "SELECT Id FROM RecentlyViewed", nil)
	if sfapi.ErrorCode(err) != "INVALIDENTITY" || n != 1 {
		t.Fatalf("err %v after %d requests", err, n)
	}
}

func TestBulkQueryParallelPages(t *testing.T) {
	for _, offered := range []bool{true, false} {
		fb := newFakeBulk(t, 5500, 1000)
		fb.pagesAPI = offered
		fb.breakPage[loc(3000)] = 1
		fb.resetPage[loc(4000)] = 1
		env := newEnv(t, fb)
		ids, s, err := readAllBulk(t, env.c, &sfapi.BulkQueryOptions{MaxRecords: 1000, ParallelPages: 3})
		if err != nil {
			t.Fatal(offered, err)
		}
		checkIDs(t, ids, 5500)
		if s.Pages() < 6 {
			t.Fatalf("pages %d", s.Pages())
		}
		if offered && fb.listings != 3 {
			t.Fatalf("listings %d", fb.listings)
		}
	}
}

func TestBulkQueryCountMismatch(t *testing.T) {
	fb := newFakeBulk(t, 1500, 1000)
	fb.extra = 1
	env := newEnv(t, fb)
	_, _, err := readAllBulk(t, env.c, &sfapi.BulkQueryOptions{MaxRecords: 1000})
	if !errors.Is(err, sfapi.ErrIncompleteResults) {
		t.Fatalf("err = %v", err)
	}
}

func TestBulkQueryCancel(t *testing.T) {
	fb := newFakeBulk(t, 3000, 1000)
	env := newEnv(t, fb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := env.c.BulkQuery(ctx, "SELECT Id, Name FROM Account", &sfapi.BulkQueryOptions{MaxRecords: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for s.Next() {
		if n++; n == 1500 {
			cancel()
		}
	}
	if !errors.Is(s.Err(), context.Canceled) || n > 2000 {
		t.Fatalf("after cancel: %d rows, err %v", n, s.Err())
	}
}
