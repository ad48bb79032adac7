package sftest

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// bulkJob is a Bulk API 2.0 query or ingest job. Query jobs open a cursor
// (a snapshot) at creation; result pages are generated on the fly from it,
// so a job over millions of records holds a few positions, never the rows.
type bulkJob struct {
	ID, Object, Operation, State string
	ExternalID                   string
	Ver                          string
	Delim                        byte
	DelimName, LineEnding        string
	Created, Modstamp            time.Time
	polls                        int  // InProgress polls left before completion
	fail                         bool // injected: the job ends Failed
	ErrMsg                       string
	ingest                       bool

	cur   *cursor
	pages map[int64]pos // positions by rows emitted (guarded by api.mu)

	uploaded               bool
	data                   []byte
	header                 []string
	success, failed, unpro [][]string // result rows (original columns prefixed)
	processed, numFailed   int64
}

var delimiters = map[string]byte{"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

func (j *bulkJob) terminal() bool {
	return j.State == "JobComplete" || j.State == "Aborted" || j.State == "Failed"
}

func (j *bulkJob) info() map[string]any {
	ver, _ := strconv.ParseFloat(j.Ver, 64)
	m := map[string]any{
		"id": j.ID, "operation": j.Operation, "object": j.Object, "createdById": makeID("005", idCounter),
		"createdDate": fmtRESTTime(j.Created), "systemModstamp": fmtRESTTime(j.Modstamp), "state": j.State,
		"concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": ver, "lineEnding": j.LineEnding,
		"columnDelimiter": j.DelimName, "retries": 0, "totalProcessingTime": 0,
	}
	if j.ingest {
		m["jobType"] = "V2Ingest"
		m["contentUrl"] = "services/data/v" + j.Ver + "/jobs/ingest/" + j.ID + "/batches"
		if j.ExternalID != "" {
			m["externalIdFieldName"] = j.ExternalID
		}
		m["numberRecordsProcessed"] = j.processed
		m["numberRecordsFailed"] = j.numFailed
		m["apiActiveProcessingTime"] = 0
		m["apexProcessingTime"] = 0
	} else {
		m["jobType"] = "V2Query"
		m["isPkChunkingSupported"] = true
		var n int64
		if j.State == "JobComplete" && j.cur != nil {
			n = j.cur.total
		}
		m["numberRecordsProcessed"] = n
	}
	if j.ErrMsg != "" {
		m["errorMessage"] = j.ErrMsg
	}
	return m
}

// poll advances a job on each status read: UploadComplete → InProgress (for
// Options.BulkPolls reads) → JobComplete or Failed.
func (o *Org) poll(j *bulkJob) {
	if j.State != "UploadComplete" && j.State != "InProgress" {
		return
	}
	if j.polls > 0 {
		j.polls--
		j.State = "InProgress"
		return
	}
	j.Modstamp = o.Now()
	if j.fail {
		j.State = "Failed"
		j.ErrMsg = "InternalServerError : retried more than 15 times"
		return
	}
	j.State = "JobComplete"
}

func (o *Org) routeJobs(c *reqCtx) {
	s := c.segs[1:]
	if len(s) == 0 || (s[0] != "query" && s[0] != "ingest") {
		notFound(c.w)
		return
	}
	ingest := s[0] == "ingest"
	if len(s) == 1 {
		switch c.r.Method {
		case http.MethodPost:
			if ingest {
				o.createIngest(c)
			} else {
				o.createQueryJob(c)
			}
		case http.MethodGet:
			o.listJobs(c, ingest)
		default:
			writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET,POST")
		}
		return
	}
	o.api.mu.Lock()
	j := o.api.jobs[s[1]]
	o.api.mu.Unlock()
	if j == nil || j.ingest != ingest {
		notFound(c.w)
		return
	}
	if len(s) == 2 {
		switch c.r.Method {
		case http.MethodGet:
			o.api.mu.Lock()
			o.poll(j)
			info := j.info()
			o.api.mu.Unlock()
			writeJSON(c.w, 200, info)
		case http.MethodPatch:
			o.patchJob(c, j)
		case http.MethodDelete:
			o.api.mu.Lock()
			defer o.api.mu.Unlock()
			o.poll(j)
			if !j.terminal() {
				writeErr(c.w, 400, "API_ERROR", "Error encountered when deleting the job because the job is not terminated")
				return
			}
			delete(o.api.jobs, j.ID)
			c.w.WriteHeader(204)
		default:
			writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET,PATCH,DELETE")
		}
		return
	}
	switch sub := strings.ToLower(s[2]); {
	case !ingest && sub == "results" && c.r.Method == http.MethodGet:
		o.queryResults(c, j)
	case !ingest && sub == "resultpages" && c.r.Method == http.MethodGet:
		o.resultPages(c, j)
	case ingest && sub == "batches" && c.r.Method == http.MethodPut:
		o.uploadIngest(c, j)
	case ingest && (sub == "successfulresults" || sub == "failedresults" || sub == "unprocessedrecords") && c.r.Method == http.MethodGet:
		o.ingestResults(c, j, sub)
	default:
		notFound(c.w)
	}
}

func (o *Org) listJobs(c *reqCtx, ingest bool) {
	o.api.mu.Lock()
	var ids []string
	for id, j := range o.api.jobs {
		if j.ingest == ingest {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	recs := []map[string]any{}
	for _, id := range ids {
		recs = append(recs, o.api.jobs[id].info())
	}
	o.api.mu.Unlock()
	writeJSON(c.w, 200, map[string]any{"done": true, "records": recs, "nextRecordsUrl": nil})
}

func (o *Org) newJob(c *reqCtx, delim, lineEnding string) (*bulkJob, *Error) {
	if delim == "" {
		delim = "COMMA"
	}
	if lineEnding == "" {
		lineEnding = "LF"
	}
	d, ok := delimiters[delim]
	if !ok || lineEnding != "LF" && lineEnding != "CRLF" {
		return nil, &Error{Code: "API_ERROR", Message: "Invalid columnDelimiter or lineEnding", Status: 400}
	}
	o.api.mu.Lock()
	o.api.jobSeq++
	id := makeID("750", idCounter+o.api.jobSeq)
	o.api.mu.Unlock()
	now := o.Now()
	return &bulkJob{ID: id, Ver: c.ver, Delim: d, DelimName: delim, LineEnding: lineEnding, Created: now, Modstamp: now,
		polls: o.opts.BulkPolls, fail: c.failJob}, nil
}

func (o *Org) createQueryJob(c *reqCtx) {
	var body struct {
		Operation       string `json:"operation"`
		Query           string `json:"query"`
		ContentType     string `json:"contentType"`
		ColumnDelimiter string `json:"columnDelimiter"`
		LineEnding      string `json:"lineEnding"`
	}
	if err := readJSON(c.r, &body); err != nil {
		jsonParseErr(c, err)
		return
	}
	if body.Operation != "query" && body.Operation != "queryAll" {
		writeErr(c.w, 400, "INVALIDJOB", "Invalid operation: "+body.Operation)
		return
	}
	if body.ContentType != "" && body.ContentType != "CSV" {
		writeErr(c.w, 400, "INVALIDJOB", "Invalid contentType: "+body.ContentType)
		return
	}
	o.mu.RLock()
	q, err := o.parseSOQL(body.Query)
	if err == nil {
		err = bulkCheck(q)
	}
	if err != nil {
		o.mu.RUnlock()
		writeError(c.w, err)
		return
	}
	j, err := o.newJob(c, body.ColumnDelimiter, body.LineEnding)
	if err != nil {
		o.mu.RUnlock()
		writeError(c.w, err)
		return
	}
	j.Object, j.Operation, j.State = q.st.obj.Name, body.Operation, "UploadComplete"
	j.cur = o.open(q, body.Operation == "queryAll")
	o.mu.RUnlock()
	o.api.mu.Lock()
	o.api.jobs[j.ID] = j
	o.api.bulkJobs++
	info := j.info()
	o.api.mu.Unlock()
	writeJSON(c.w, 200, info)
}

// bulkCheck rejects what Bulk API 2.0 query jobs do not support.
func bulkCheck(q *query) *Error {
	bad := func(code, msg string) *Error { return &Error{Code: code, Message: msg, Status: 400} }
	if q.st.obj.BulkUnsupported {
		return bad("INVALIDENTITY", "Entity '"+q.st.obj.Name+"' is not supported by the Bulk API.")
	}
	if q.countOnly || q.countField {
		return bad("API_ERROR", "Aggregate queries are not supported by Bulk API 2.0")
	}
	if q.fieldsAll || q.offset > 0 {
		return bad("API_ERROR", "FIELDS() and OFFSET are not supported by Bulk API 2.0 queries")
	}
	for _, f := range q.fields {
		if f.final != nil && (f.final.Type == "address" || f.final.Type == "location") {
			return bad("API_ERROR", "Selecting compound data not supported in Bulk Query")
		}
		if f.final != nil && f.final.Type == "base64" {
			return bad("API_ERROR", "FeatureNotEnabled : Binary field not supported")
		}
	}
	return nil
}

func encodeLocator(n int64) string {
	return base64.RawStdEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
}

func decodeLocator(s string) (int64, bool) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil && n >= 0
}

// appendCSVField appends a quoted CSV field ("" stays empty, as Bulk prints
// nulls and empty strings alike).
func appendCSVField(b []byte, s []byte) []byte {
	if len(s) == 0 {
		return b
	}
	b = append(b, '"')
	for _, c := range s {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// queryResults streams one page of a query job's CSV results.
func (o *Org) queryResults(c *reqCtx, j *bulkJob) {
	o.api.mu.Lock()
	o.poll(j)
	state := j.State
	o.api.mu.Unlock()
	if state != "JobComplete" {
		writeErr(c.w, 400, "INVALIDJOBSTATE", "Job is not in a state where results can be retrieved: "+state)
		return
	}
	if c.ver != j.Ver {
		writeErr(c.w, 409, "INVALIDJOBSTATE", "Results must be retrieved with the API version the job was created with (v"+j.Ver+")")
		return
	}
	q := c.r.URL.Query()
	start := int64(0)
	if l := q.Get("locator"); l != "" {
		n, ok := decodeLocator(l)
		if !ok || n > j.cur.total {
			writeErr(c.w, 400, "INVALIDLOCATOR", "Invalid locator: "+l)
			return
		}
		start = n
	}
	maxRecords := int64(o.opts.BulkPageSize)
	if m := q.Get("maxRecords"); m != "" {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n <= 0 {
			writeErr(c.w, 400, "INVALIDPARAMETER", "maxRecords must be a positive integer")
			return
		}
		maxRecords = n
	}
	n := min(maxRecords, j.cur.total-start)
	o.api.mu.Lock()
	p, ok := j.pages[start]
	o.api.mu.Unlock()
	if !ok {
		p = o.seek(j.cur, start)
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/csv; charset=UTF-8")
	if start+n >= j.cur.total {
		h.Set("Sforce-Locator", "null")
	} else {
		h.Set("Sforce-Locator", encodeLocator(start+n))
	}
	h.Set("Sforce-NumberOfRecords", strconv.FormatInt(n, 10))
	var w io.Writer = c.w
	if strings.Contains(c.r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(c.w, gzip.BestSpeed)
		defer gz.Close()
		w = gz
	}
	c.w.WriteHeader(200)
	eol := []byte("\n")
	if j.LineEnding == "CRLF" {
		eol = []byte("\r\n")
	}
	buf := make([]byte, 0, 256<<10)
	for k, f := range j.cur.q.fields {
		if k > 0 {
			buf = append(buf, j.Delim)
		}
		buf = appendCSVField(buf, []byte(f.path))
	}
	buf = append(buf, eol...)
	fields := j.cur.q.fields
	var val []byte
	left := n
	for left > 0 {
		chunk := min(left, 2000)
		o.mu.RLock()
		p = o.scan(j.cur, p, chunk, func(r *row, e *evalCtx) {
			for k := range fields {
				if k > 0 {
					buf = append(buf, j.Delim)
				}
				f := &fields[k]
				var v Value
				if len(f.rels) == 0 {
					v = r.val(f.final)
				} else {
					v = e.value(r, f)
				}
				if v.K == KString {
					if len(v.S) > 0 {
						buf = appendCSVField(buf, []byte(v.S))
					}
					continue
				}
				val = v.appendCSV(val[:0])
				buf = appendCSVField(buf, val)
			}
			buf = append(buf, eol...)
		})
		o.mu.RUnlock()
		left -= chunk
		if _, err := w.Write(buf); err != nil {
			return
		}
		buf = buf[:0]
	}
	if len(buf) > 0 { // header of an empty page
		w.Write(buf)
	}
	o.api.mu.Lock()
	if j.pages == nil {
		j.pages = map[int64]pos{}
	}
	j.pages[start+n] = p
	o.api.mu.Unlock()
}

// resultPages lists up to five result-page URLs (v58+ parallel download).
func (o *Org) resultPages(c *reqCtx, j *bulkJob) {
	o.api.mu.Lock()
	o.poll(j)
	state := j.State
	o.api.mu.Unlock()
	if state != "JobComplete" {
		writeErr(c.w, 400, "INVALIDJOBSTATE", "Job is not in a state where results can be retrieved: "+state)
		return
	}
	size := int64(o.opts.BulkPageSize)
	if m, err := strconv.ParseInt(c.r.URL.Query().Get("maxRecords"), 10, 64); err == nil && m > 0 {
		size = m
	}
	start := int64(0)
	if l := c.r.URL.Query().Get("locator"); l != "" {
		n, ok := decodeLocator(l)
		if !ok {
			writeErr(c.w, 400, "INVALIDLOCATOR", "Invalid locator: "+l)
			return
		}
		start = n
	}
	base := "/services/data/v" + j.Ver + "/jobs/query/" + j.ID
	var pages []map[string]string
	at := start
	for k := 0; k < 5 && (at < j.cur.total || at == 0 && k == 0); k++ {
		u := base + "/results?maxRecords=" + strconv.FormatInt(size, 10)
		if at > 0 {
			u += "&locator=" + encodeLocator(at)
		}
		pages = append(pages, map[string]string{"resultUrl": u})
		at += size
	}
	resp := map[string]any{"resultPages": pages, "done": at >= j.cur.total, "nextRecordsUrl": nil}
	if at < j.cur.total {
		resp["nextRecordsUrl"] = base + "/resultpages?locator=" + encodeLocator(at) + "&maxRecords=" + strconv.FormatInt(size, 10)
	}
	writeJSON(c.w, 200, resp)
}

func (o *Org) patchJob(c *reqCtx, j *bulkJob) {
	var body struct {
		State string `json:"state"`
	}
	if err := readJSON(c.r, &body); err != nil {
		jsonParseErr(c, err)
		return
	}
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	switch body.State {
	case "Aborted":
		if j.terminal() {
			writeErr(c.w, 400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed")
			return
		}
		if j.ingest && j.State == "Open" && j.uploaded {
			j.unpro = j.rows()
		}
		j.State = "Aborted"
	case "UploadComplete":
		if !j.ingest || j.State != "Open" {
			writeErr(c.w, 400, "INVALIDJOBSTATE", "Closing a job that is not Open is not allowed")
			return
		}
		j.State = "UploadComplete"
		o.api.mu.Unlock()
		o.processIngest(j)
		o.api.mu.Lock()
	default:
		writeErr(c.w, 400, "INVALIDJOBSTATE", "Invalid state: "+body.State)
		return
	}
	j.Modstamp = o.Now()
	writeJSON(c.w, 200, j.info())
}

// ---- ingest ----

var ingestOps = map[string]bool{"insert": true, "update": true, "upsert": true, "delete": true, "hardDelete": true}

func (o *Org) createIngest(c *reqCtx) {
	if c.r.URL.RawQuery != "" {
		writeErr(c.w, 400, "INVALIDJOB", "Cannot specify query parameters on this resource")
		return
	}
	var body struct {
		Object              string `json:"object"`
		Operation           string `json:"operation"`
		ExternalIDFieldName string `json:"externalIdFieldName"`
		ContentType         string `json:"contentType"`
		ColumnDelimiter     string `json:"columnDelimiter"`
		LineEnding          string `json:"lineEnding"`
	}
	if err := readJSON(c.r, &body); err != nil {
		jsonParseErr(c, err)
		return
	}
	o.mu.RLock()
	st := o.state(body.Object)
	var ext *Field
	if st != nil && body.ExternalIDFieldName != "" {
		ext = st.obj.Field(body.ExternalIDFieldName)
	}
	o.mu.RUnlock()
	switch {
	case st == nil:
		writeErr(c.w, 400, "INVALIDENTITY", "Entity '"+body.Object+"' is not supported by the Bulk API.")
		return
	case st.obj.BulkUnsupported:
		writeErr(c.w, 400, "INVALIDENTITY", "Entity '"+body.Object+"' is not supported by the Bulk API.")
		return
	case !ingestOps[body.Operation]:
		writeErr(c.w, 400, "INVALIDJOB", "Invalid operation: "+body.Operation)
		return
	case body.Operation == "upsert" && (ext == nil || !ext.ExternalID && !ext.IDLookup):
		writeErr(c.w, 400, "INVALIDJOB", "External ID was blank or invalid for upsert: "+body.ExternalIDFieldName)
		return
	}
	j, err := o.newJob(c, body.ColumnDelimiter, body.LineEnding)
	if err != nil {
		writeError(c.w, err)
		return
	}
	j.ingest, j.Object, j.Operation, j.State = true, st.obj.Name, body.Operation, "Open"
	if ext != nil && body.Operation == "upsert" {
		j.ExternalID = ext.Name
	}
	o.api.mu.Lock()
	o.api.jobs[j.ID] = j
	info := j.info()
	o.api.mu.Unlock()
	writeJSON(c.w, 200, info)
}

func (o *Org) uploadIngest(c *reqCtx, j *bulkJob) {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, 150<<20))
	if err != nil {
		writeErr(c.w, 400, "API_ERROR", "error reading upload: "+err.Error())
		return
	}
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	if j.State != "Open" {
		writeErr(c.w, 400, "INVALIDJOBSTATE", "Job is not in Open state: "+j.State)
		return
	}
	if j.uploaded {
		writeErr(c.w, 400, "API_ERROR", "Found multiple contents for job: <"+j.ID+">, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.")
		return
	}
	j.uploaded, j.data = true, data
	c.w.WriteHeader(201)
}

// rows parses the uploaded CSV (header kept in j.header).
func (j *bulkJob) rows() [][]string {
	r := csv.NewReader(bytes.NewReader(j.data))
	r.Comma = rune(j.Delim)
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil || len(all) == 0 {
		return nil
	}
	j.header = all[0]
	return all[1:]
}

// processIngest applies an ingest job's rows. Rows are independent: a
// failing row does not roll back others (as in Salesforce's 10,000-row
// batches, minus the batch boundaries). An injected failure applies nothing.
func (o *Org) processIngest(j *bulkJob) {
	rows := j.rows()
	if j.fail || j.header == nil && len(j.data) > 0 {
		o.api.mu.Lock()
		j.unpro = rows
		j.fail = true
		if j.ErrMsg == "" && j.header == nil {
			j.ErrMsg = "InvalidBatch : Failed to parse CSV"
		}
		o.api.mu.Unlock()
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.state(j.Object)
	t := o.beginWrite()
	idxOf := map[string]map[string]int64{} // lazily built lookups by field value
	lookup := func(lst *objState, f *Field, val string) (int64, int) {
		key := lst.obj.Name + "." + f.Name
		m := idxOf[key]
		if m == nil {
			m = map[string]int64{}
			var r row
			for idx := int64(0); idx < lst.n; idx++ {
				v, ok := lst.at(idx, o.seq)
				if !ok || v != nil && v.deleted {
					continue
				}
				r.reset(o, lst, idx, v)
				if x := r.val(f); !x.IsNull() {
					k := strings.ToLower(string(x.appendCSV(nil)))
					if _, dup := m[k]; dup {
						m[k] = -2
					} else {
						m[k] = idx
					}
				}
			}
			idxOf[key] = m
		}
		idx, ok := m[strings.ToLower(val)]
		switch {
		case !ok:
			return -1, 0
		case idx == -2:
			return -1, 2
		}
		return idx, 1
	}
	var succ, fail [][]string
	for _, rec := range j.rows() {
		in := map[string]any{}
		id := ""
		var rowErr *Error
		for k, h := range j.header {
			if k >= len(rec) {
				break
			}
			val := rec[k]
			if strings.EqualFold(h, "Id") {
				id = val
				continue
			}
			if rel, fname, ok := strings.Cut(h, "."); ok {
				if val == "" {
					continue // empty: leave unchanged
				}
				// Relationship column Rel.ExtField (or Type:Rel.ExtField).
				typ := ""
				if a, b, ok := strings.Cut(rel, ":"); ok {
					typ, rel = a, b
				}
				rf := st.obj.relField(rel)
				if rf == nil {
					rowErr = saveErr("INVALID_FIELD", "No such column '"+h+"' on entity '"+st.obj.Name+"'", h)
					break
				}
				target := rf.ReferenceTo[0]
				if typ != "" {
					target = typ
				}
				tst := o.state(target)
				var tf *Field
				if tst != nil {
					tf = tst.obj.Field(fname)
				}
				if tf == nil || !tf.ExternalID && !tf.IDLookup {
					rowErr = saveErr("INVALID_FIELD", "Invalid field for upsert, must be an External Id custom or standard indexed field: "+fname, h)
					break
				}
				pidx, n := lookup(tst, tf, val)
				if n != 1 {
					rowErr = saveErr("INVALID_FIELD", "Foreign key external ID: "+val+" not found for field "+tf.Name+" in entity "+tst.obj.Name, h)
					break
				}
				in[rf.Name] = makeID(tst.obj.KeyPrefix, idCounter+pidx)
				continue
			}
			in[h] = val
		}
		ok := rowErr == nil
		created := false
		if ok {
			id, created, rowErr = o.ingestRow(j, st, t, id, in, lookup)
			ok = rowErr == nil
		}
		if ok {
			succ = append(succ, append([]string{id, strconv.FormatBool(created)}, rec...))
		} else {
			fields := strings.Join(rowErr.Fields, ",")
			if fields != "" {
				fields += " "
			}
			fail = append(fail, append([]string{id, rowErr.Code + ":" + rowErr.Message + ":" + fields + "--"}, rec...))
		}
	}
	o.endWrite(t)
	o.api.mu.Lock()
	j.success, j.failed = succ, fail
	j.processed = int64(len(succ) + len(fail))
	j.numFailed = int64(len(fail))
	o.api.mu.Unlock()
}

func (o *Org) ingestRow(j *bulkJob, st *objState, t wtx, id string, in map[string]any, lookup func(*objState, *Field, string) (int64, int)) (string, bool, *Error) {
	csvIn := input{vals: in, csv: true}
	switch j.Operation {
	case "insert":
		p, err := o.prepInsert(st, csvIn, t)
		if err != nil {
			return "", false, err
		}
		o.applyInsert(p, t)
		return makeID(st.obj.KeyPrefix, idCounter+p.idx), true, nil
	case "update", "delete", "hardDelete":
		if id == "" {
			return "", false, saveErr("MISSING_ARGUMENT", "Id not specified in an update call", "Id")
		}
		rst, idx, err := o.liveRecord(id, st)
		if err != nil {
			return id, false, saveErr(err.Code, err.Message, err.Fields...)
		}
		full := makeID(st.obj.KeyPrefix, idCounter+idx)
		switch j.Operation {
		case "delete":
			return full, false, o.deleteRec(rst, idx, t, "")
		case "hardDelete":
			o.purgeRec(rst, idx, t)
			return full, false, nil
		}
		p, err := o.prepUpdate(rst, idx, csvIn, t)
		if err != nil {
			return full, false, err
		}
		o.applyUpdate(p, t)
		return full, false, nil
	case "upsert":
		ext := st.obj.Field(j.ExternalID)
		key, _ := in[ext.Name].(string)
		if ext.Name == "Id" {
			key = id
		}
		if key == "" {
			return "", false, saveErr("MISSING_ARGUMENT", j.ExternalID+" not specified", j.ExternalID)
		}
		idx, n := lookup(st, ext, key)
		switch n {
		case 0:
			p, err := o.prepInsert(st, csvIn, t)
			if err != nil {
				return "", false, err
			}
			o.applyInsert(p, t)
			return makeID(st.obj.KeyPrefix, idCounter+p.idx), true, nil
		case 1:
			delete(in, ext.Name)
			p, err := o.prepUpdate(st, idx, csvIn, t)
			if err != nil {
				return "", false, err
			}
			o.applyUpdate(p, t)
			return makeID(st.obj.KeyPrefix, idCounter+idx), false, nil
		}
		return "", false, saveErr("DUPLICATE_EXTERNAL_ID", j.ExternalID+": more than one record found for external id field", j.ExternalID)
	}
	return "", false, saveErr("INVALIDJOB", "unknown operation")
}

func (o *Org) ingestResults(c *reqCtx, j *bulkJob, which string) {
	o.api.mu.Lock()
	o.poll(j)
	var rows [][]string
	var pre []string
	switch which {
	case "successfulresults":
		rows, pre = j.success, []string{"sf__Id", "sf__Created"}
	case "failedresults":
		rows, pre = j.failed, []string{"sf__Id", "sf__Error"}
	default:
		rows = j.unpro
	}
	header := j.header
	o.api.mu.Unlock()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = rune(j.Delim)
	w.UseCRLF = j.LineEnding == "CRLF"
	for k, h := range pre {
		if k > 0 {
			b.WriteByte(j.Delim)
		}
		b.WriteString(`"` + h + `"`)
	}
	if len(header) > 0 {
		if len(pre) > 0 {
			b.WriteByte(j.Delim)
		}
		w.Write(header)
		w.Flush()
	} else if len(pre) > 0 {
		if w.UseCRLF {
			b.WriteString("\r\n")
		} else {
			b.WriteByte('\n')
		}
	}
	for _, r := range rows {
		for k := range pre {
			if k > 0 {
				b.WriteByte(j.Delim)
			}
			b.Write(appendCSVField(nil, []byte(r[k])))
			if r[k] == "" {
				b.WriteString(`""`)
			}
		}
		if len(pre) > 0 {
			b.WriteByte(j.Delim)
		}
		w.Write(r[len(pre):])
		w.Flush()
	}
	c.w.Header().Set("Content-Type", "text/csv; charset=UTF-8")
	c.w.WriteHeader(200)
	c.w.Write(b.Bytes())
}

var _ = json.Marshal
var _ = fmt.Sprint
