package sfapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// BulkJob is a Bulk API 2.0 job's info (query or ingest).
type BulkJob struct {
	ID                     string     `json:"id"`
	Operation              string     `json:"operation"`
	Object                 string     `json:"object"`
	State                  string     `json:"state"`
	ErrorMessage           string     `json:"errorMessage"`
	ExternalIDFieldName    string     `json:"externalIdFieldName"`
	ContentType            string     `json:"contentType"`
	ContentURL             string     `json:"contentUrl"`
	LineEnding             string     `json:"lineEnding"`
	ColumnDelimiter        string     `json:"columnDelimiter"`
	JobType                string     `json:"jobType"`
	APIVersion             flexString `json:"apiVersion"`
	NumberRecordsProcessed int64      `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int64      `json:"numberRecordsFailed"`
	Retries                int        `json:"retries"`
	TotalProcessingTime    int64      `json:"totalProcessingTime"`
	CreatedDate            string     `json:"createdDate"`
	SystemModstamp         string     `json:"systemModstamp"`
}

// Bulk job states.
const (
	JobOpen           = "Open"
	JobUploadComplete = "UploadComplete"
	JobInProgress     = "InProgress"
	JobComplete       = "JobComplete"
	JobFailed         = "Failed"
	JobAborted        = "Aborted"
)

// Terminal reports whether the job will not change state any more.
func (j *BulkJob) Terminal() bool {
	return j.State == JobComplete || j.State == JobFailed || j.State == JobAborted
}

// flexString accepts a JSON string or number (apiVersion is documented as a
// string and sent as a number).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	*f = flexString(strings.TrimSpace(string(b)))
	return nil
}

// PollOptions bounds waiting for a Bulk job.
type PollOptions struct {
	Initial time.Duration // first wait (default 500ms)
	Max     time.Duration // longest wait between polls (default 10s)
	Timeout time.Duration // give up after this long (default: none; use ctx)
}

func (p PollOptions) withDefaults() PollOptions {
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	return p
}

// BulkQueryOptions tunes a Bulk API 2.0 query.
type BulkQueryOptions struct {
	// All runs queryAll: soft-deleted and archived rows are included.
	All bool
	// MaxRecords per result page (default 50,000). It bounds nothing in
	// memory (pages are streamed) but sets the request count.
	MaxRecords int
	// ColumnDelimiter: COMMA (default), TAB, PIPE, SEMICOLON, CARET,
	// BACKQUOTE. LineEnding: LF (default) or CRLF.
	ColumnDelimiter string
	LineEnding      string
	Poll            PollOptions
	// JobAttempts bounds how many jobs are run when jobs end Failed
	// (Salesforce gives up after internal retries; a new job usually
	// succeeds). Default 3.
	JobAttempts int
	// DeleteJob deletes the job (and its stored results) after Close.
	DeleteJob bool
	// ParallelPages > 1 downloads up to that many result pages at once
	// through the resultPages resource (v58+), holding at most that many
	// pages in memory. Where the server does not offer resultPages, pages
	// are streamed one after another.
	ParallelPages int
}

var delimiters = map[string]rune{"": ',', "COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

func delimiterRune(name string) rune {
	if r, ok := delimiters[strings.ToUpper(name)]; ok {
		return r
	}
	return ','
}

func (c *Client) jobsPath(kind string, elems ...string) string {
	return c.dataPath(append([]string{"jobs", kind}, elems...)...)
}

// CreateQueryJob creates a Bulk 2.0 query job. Bad SOQL, unsupported
// objects and compound fields fail here with a 400 *APIError.
func (c *Client) CreateQueryJob(ctx context.Context, soql string, opts *BulkQueryOptions) (*BulkJob, error) {
	if opts == nil {
		opts = &BulkQueryOptions{}
	}
	if _, ok := delimiters[opts.ColumnDelimiter]; !ok {
		return nil, fmt.Errorf("sfapi: unknown column delimiter %q", opts.ColumnDelimiter)
	}
	body := map[string]string{"operation": "query", "query": soql, "contentType": "CSV"}
	if opts.All {
		body["operation"] = "queryAll"
	}
	if opts.ColumnDelimiter != "" {
		body["columnDelimiter"] = opts.ColumnDelimiter
	}
	if opts.LineEnding != "" {
		body["lineEnding"] = opts.LineEnding
	}
	var job BulkJob
	// A repeated create after a lost answer leaves an orphan job, which is
	// harmless, so creation counts as idempotent.
	if _, err := c.sendJSON(ctx, FamilyBulk, http.MethodPost, c.jobsPath("query"), nil, body, &job, true); err != nil {
		return nil, fmt.Errorf("creating bulk query job: %w", err)
	}
	if job.ID == "" {
		return nil, errors.New("creating bulk query job: answer has no job id")
	}
	return &job, nil
}

// QueryJob returns a query job's info.
func (c *Client) QueryJob(ctx context.Context, id string) (*BulkJob, error) {
	return c.jobInfo(ctx, "query", id)
}

func (c *Client) jobInfo(ctx context.Context, kind, id string) (*BulkJob, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	var job BulkJob
	if err := c.getJSON(ctx, FamilyBulk, c.jobsPath(kind, id), nil, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// AbortQueryJob aborts a query job that has not finished.
func (c *Client) AbortQueryJob(ctx context.Context, id string) (*BulkJob, error) {
	return c.setJobState(ctx, "query", id, JobAborted)
}

// DeleteQueryJob deletes a finished query job and its results.
func (c *Client) DeleteQueryJob(ctx context.Context, id string) error {
	return c.deleteJob(ctx, "query", id)
}

func (c *Client) setJobState(ctx context.Context, kind, id, state string) (*BulkJob, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	var job BulkJob
	if _, err := c.sendJSON(ctx, FamilyBulk, http.MethodPatch, c.jobsPath(kind, id), nil, map[string]string{"state": state}, &job, true); err != nil {
		return nil, fmt.Errorf("setting bulk job %s to %s: %w", id, state, err)
	}
	return &job, nil
}

func (c *Client) deleteJob(ctx context.Context, kind, id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	_, err := c.do(ctx, &call{family: FamilyBulk, method: http.MethodDelete, path: c.jobsPath(kind, id), idempotent: true})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting bulk job %s: %w", id, err)
	}
	return nil
}

// waitJob polls until the job is terminal, backing off between polls.
func (c *Client) waitJob(ctx context.Context, kind, id string, p PollOptions) (*BulkJob, error) {
	p = p.withDefaults()
	start := c.clock.Now()
	wait := p.Initial
	for {
		job, err := c.jobInfo(ctx, kind, id)
		if err != nil {
			return nil, fmt.Errorf("polling bulk job %s: %w", id, err)
		}
		if job.Terminal() {
			return job, nil
		}
		if p.Timeout > 0 && c.clock.Now().Sub(start) >= p.Timeout {
			return job, fmt.Errorf("bulk job %s still %s after %v; it keeps running on Salesforce: wait longer or abort it", id, job.State, p.Timeout)
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil, ctxErr(err)
		}
		wait = min(wait*3/2, p.Max)
	}
}

// WaitQueryJob polls a query job until it is JobComplete, Failed or
// Aborted; Failed and Aborted come back as errors matching ErrBulkJobFailed
// / ErrBulkJobAborted along with the job.
func (c *Client) WaitQueryJob(ctx context.Context, id string, p PollOptions) (*BulkJob, error) {
	job, err := c.waitJob(ctx, "query", id, p)
	if err != nil {
		return job, err
	}
	return job, jobStateErr(job)
}

func jobStateErr(job *BulkJob) error {
	switch job.State {
	case JobFailed:
		msg := job.ErrorMessage
		if msg == "" {
			msg = "no error message given"
		}
		return fmt.Errorf("%w: job %s (%s %s): %s", ErrBulkJobFailed, job.ID, job.Operation, job.Object, msg)
	case JobAborted:
		return fmt.Errorf("%w: job %s (%s %s)", ErrBulkJobAborted, job.ID, job.Operation, job.Object)
	}
	return nil
}

// BulkQuery runs soql as a Bulk 2.0 query job and streams its results: it
// creates the job, waits for it (re-running a job that ends Failed, up to
// JobAttempts), and returns a reader positioned before the first row.
// Close the stream when done.
func (c *Client) BulkQuery(ctx context.Context, soql string, opts *BulkQueryOptions) (*CSVStream, error) {
	if opts == nil {
		opts = &BulkQueryOptions{}
	}
	attempts := opts.JobAttempts
	if attempts <= 0 {
		attempts = 3
	}
	var lastErr error
	for a := 1; a <= attempts; a++ {
		job, err := c.CreateQueryJob(ctx, soql, opts)
		if err != nil {
			return nil, err
		}
		job, err = c.WaitQueryJob(ctx, job.ID, opts.Poll)
		if err == nil {
			s := c.QueryResults(ctx, job, opts)
			if err := s.open(); err != nil {
				s.Close()
				return nil, err
			}
			return s, nil
		}
		if !errors.Is(err, ErrBulkJobFailed) {
			return nil, err
		}
		lastErr = err
		if job != nil {
			_ = c.DeleteQueryJob(ctx, job.ID)
		}
		if a < attempts {
			d := c.backoff(a)
			c.log.Warn("bulk query job failed, running a new one", "job", job.ID, "object", job.Object, "attempt", a, "wait", d)
			if err := c.clock.Sleep(ctx, d); err != nil {
				return nil, ctxErr(err)
			}
		}
	}
	return nil, fmt.Errorf("bulk query failed %d times, last: %w; try again later or read this object through REST", attempts, lastErr)
}

// CSVStream reads the results of a completed query job, page after page,
// as one CSV table: Header once, then every row. Memory is bounded by one
// CSV row plus buffers, whatever the page size. A page whose body breaks
// off (reset, truncation, a short row count) is fetched again from its
// locator, skipping the rows already delivered; a page is re-read that way
// at most Retry.MaxAttempts times.
//
// Null and empty values are both empty fields in Bulk CSV; the stream
// cannot tell them apart (nor can Salesforce).
type CSVStream struct {
	c    *Client
	ctx  context.Context
	job  *BulkJob
	opts BulkQueryOptions

	header []string
	rec    []string
	total  int64

	// current page
	body     io.ReadCloser
	tr       *trackingReader
	br       *bufio.Reader
	cr       *csv.Reader
	locator  string // locator of the current page ("" = first)
	next     string // locator of the next page, "" when this is the last
	inPage   int    // rows of the current page delivered
	expected int    // Sforce-NumberOfRecords of the current page, -1 unknown
	pages    int
	breaks   int // times the current page broke off

	started, done bool
	err           error

	par *parallelPager // non-nil in parallel mode
}

// QueryResults returns a stream over the results of a JobComplete query job
// (nothing is fetched until Header or Next).
func (c *Client) QueryResults(ctx context.Context, job *BulkJob, opts *BulkQueryOptions) *CSVStream {
	s := &CSVStream{c: c, ctx: ctx, job: job}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxRecords <= 0 {
		s.opts.MaxRecords = 50000
	}
	if s.opts.ColumnDelimiter == "" {
		s.opts.ColumnDelimiter = job.ColumnDelimiter
	}
	return s
}

// Job returns the job being read.
func (s *CSVStream) Job() *BulkJob { return s.job }

// Header returns the column names (as Salesforce wrote them: match them
// case-insensitively). Nil for an empty result without a header.
func (s *CSVStream) Header() []string {
	if !s.started {
		s.err = s.open()
	}
	return s.header
}

// Rows returns how many rows have been delivered so far.
func (s *CSVStream) Rows() int64 { return s.total }

// Pages returns how many pages have been opened (re-reads included).
func (s *CSVStream) Pages() int { return s.pages }

// Record returns the current row. The slice and its strings' backing array
// are reused by the next call to Next: copy what you keep.
func (s *CSVStream) Record() []string { return s.rec }

// Err returns the error that stopped the stream, if any.
func (s *CSVStream) Err() error { return s.err }

// Close releases the current page; with DeleteJob it deletes the job.
func (s *CSVStream) Close() error {
	s.closePage()
	if s.par != nil {
		s.par.cancel()
		for range s.par.pages {
		}
	}
	s.done = true
	if s.opts.DeleteJob && s.job != nil {
		ctx := s.ctx
		if ctx.Err() != nil {
			ctx = context.WithoutCancel(ctx)
		}
		return s.c.DeleteQueryJob(ctx, s.job.ID)
	}
	return nil
}

func (s *CSVStream) open() error {
	if s.started {
		return s.err
	}
	s.started = true
	if s.opts.ParallelPages > 1 {
		err := s.startParallel()
		if err == nil {
			return s.nextParallelPage()
		}
		if !errors.Is(err, errNoResultPages) {
			return err
		}
		s.c.log.Debug("resultPages not offered, reading pages one by one", "job", s.job.ID)
	}
	return s.openPageRetrying(0)
}

// Next advances to the next row.
func (s *CSVStream) Next() bool {
	if !s.started {
		if s.err = s.open(); s.err != nil {
			return false
		}
	}
	for s.err == nil && !s.done {
		if s.cr == nil {
			s.finish()
			return false
		}
		rec, err := s.cr.Read()
		if err == nil {
			s.rec = rec
			s.inPage++
			s.total++
			return true
		}
		pageErr := s.tr.err
		if err == io.EOF && pageErr == nil {
			if s.expected >= 0 && s.inPage < s.expected {
				pageErr = fmt.Errorf("%w: page had %d of %d rows", ErrIncompleteResults, s.inPage, s.expected)
			} else {
				// Page finished.
				s.closePage()
				if s.par != nil {
					if s.err = s.nextParallelPage(); s.err != nil {
						return false
					}
					continue
				}
				if s.next == "" {
					s.finish()
					return false
				}
				s.locator, s.next, s.breaks = s.next, "", 0
				if s.err = s.openPageRetrying(0); s.err != nil {
					return false
				}
				continue
			}
		}
		if s.par != nil && pageErr != nil {
			// Parallel pages are complete bodies: a short one is the
			// server's doing.
			s.err = fmt.Errorf("bulk job %s page %d: %w", s.job.ID, s.pages, pageErr)
			return false
		}
		if pageErr == nil {
			// A clean body that is not valid CSV: retrying won't help.
			s.err = fmt.Errorf("bulk job %s: page %d row %d: %w", s.job.ID, s.pages, s.inPage+1, err)
			return false
		}
		// The body broke off: read the page again from its locator.
		s.closePage()
		s.breaks++
		s.err = s.openPageRetrying(s.inPage, pageErr)
	}
	return false
}

// finish ends the stream, checking the row count against the job's.
func (s *CSVStream) finish() error {
	s.done = true
	if n := s.job.NumberRecordsProcessed; n > 0 && s.total != n && s.err == nil {
		s.err = fmt.Errorf("%w: bulk job %s reported %d records but its result pages held %d", ErrIncompleteResults, s.job.ID, n, s.total)
	}
	return s.err
}

// openPageRetrying opens the current locator's page and skips its first
// skip rows, retrying transient failures with backoff. cause is the failure
// that made the page be re-read, if any.
func (s *CSVStream) openPageRetrying(skip int, cause ...error) error {
	maxAttempts := s.c.retry.MaxAttempts
	var last error
	if len(cause) > 0 {
		last = cause[0]
	}
	for a := max(s.breaks, 1); ; a++ {
		if last != nil {
			if a > maxAttempts {
				return fmt.Errorf("bulk job %s: reading result page %d failed %d times: %w", s.job.ID, s.pages, a-1, last)
			}
			d := s.c.backoff(a)
			s.c.log.Warn("bulk result page broke off, reading it again", "job", s.job.ID, "rows_done", skip, "wait", d, "error", last.Error())
			if err := s.c.clock.Sleep(s.ctx, d); err != nil {
				return ctxErr(err)
			}
		}
		err := s.openPage(skip)
		if err == nil {
			return nil
		}
		s.closePage()
		if !IsTransient(err) {
			return err
		}
		last = err
	}
}

// openPage fetches the page at s.locator, reads its header and skips skip
// rows.
func (s *CSVStream) openPage(skip int) error {
	q := url.Values{"maxRecords": {strconv.Itoa(s.opts.MaxRecords)}}
	if s.locator != "" {
		q.Set("locator", s.locator)
	}
	resp, err := s.c.stream(s.ctx, &call{family: FamilyBulk, method: http.MethodGet,
		path: s.c.jobsPath("query", s.job.ID, "results"), query: q, accept: "text/csv", idempotent: true})
	if err != nil {
		return fmt.Errorf("bulk job %s results: %w", s.job.ID, err)
	}
	s.pages++
	s.body = resp.Body
	s.next = resp.Header.Get("Sforce-Locator")
	if s.next == "null" {
		s.next = ""
	}
	s.expected = -1
	if n, err := strconv.Atoi(resp.Header.Get("Sforce-NumberOfRecords")); err == nil && n >= 0 {
		s.expected = n
	}
	if s.tr == nil {
		s.tr = &trackingReader{}
		s.br = bufio.NewReaderSize(s.tr, 256<<10)
	}
	s.tr.r, s.tr.err = resp.Body, nil
	s.br.Reset(s.tr)
	s.cr = csv.NewReader(s.br)
	s.cr.Comma = delimiterRune(s.opts.ColumnDelimiter)
	s.cr.ReuseRecord = true
	s.inPage = 0

	head, err := s.cr.Read()
	switch {
	case err == io.EOF && s.tr.err == nil:
		// Empty page: no header, no rows.
		if s.expected > 0 {
			return fmt.Errorf("%w: page promised %d rows and was empty", ErrIncompleteResults, s.expected)
		}
		s.cr = nil
		return s.pageEnd()
	case err != nil:
		if s.tr.err != nil {
			return &transportError{op: "reading bulk results", err: s.tr.err, sent: true}
		}
		return fmt.Errorf("bulk job %s: result header: %w", s.job.ID, err)
	}
	if s.header == nil {
		s.header = append([]string(nil), head...)
	} else if !equalStrings(head, s.header) {
		return fmt.Errorf("bulk job %s: page %d has header %q, first page had %q", s.job.ID, s.pages, head, s.header)
	}
	for s.inPage < skip {
		if _, err := s.cr.Read(); err != nil {
			if s.tr.err != nil {
				return &transportError{op: "re-reading bulk results", err: s.tr.err, sent: true}
			}
			return fmt.Errorf("%w: bulk job %s: page re-read has fewer rows (%d) than already delivered (%d)", ErrIncompleteResults, s.job.ID, s.inPage, skip)
		}
		s.inPage++
	}
	return nil
}

// pageEnd handles a page that had no CSV at all: move on to the next one
// if any.
func (s *CSVStream) pageEnd() error {
	s.closePage()
	if s.next == "" {
		return s.finish()
	}
	s.locator, s.next = s.next, ""
	return s.openPage(0)
}

func (s *CSVStream) closePage() {
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	s.cr = nil
}

var errNoResultPages = errors.New("resultPages not offered")

// parallelPager fetches result pages ahead of the reader. pages carries one
// future per page, in order; its capacity bounds the pages held in memory.
type parallelPager struct {
	pages  chan chan pageResult
	cancel context.CancelFunc
}

type pageResult struct {
	body     []byte
	expected int
	err      error
}

type resultPagesAnswer struct {
	ResultPages []struct {
		ResultURL string `json:"resultUrl"`
	} `json:"resultPages"`
	NextRecordsURL string `json:"nextRecordsUrl"`
	NextRecordURL  string `json:"nextRecordUrl"` // the docs' table spells it so
	Done           bool   `json:"done"`
}

func (a *resultPagesAnswer) next() string {
	n := a.NextRecordsURL
	if n == "" {
		n = a.NextRecordURL
	}
	if n == "null" {
		return ""
	}
	return n
}

func (s *CSVStream) listPages(ctx context.Context, path string) (*resultPagesAnswer, error) {
	var a resultPagesAnswer
	if err := s.c.getJSON(ctx, FamilyBulk, path, nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// startParallel lists the first result pages; errNoResultPages means the
// server has no such resource.
func (s *CSVStream) startParallel() error {
	first, err := s.listPages(s.ctx, s.c.jobsPath("query", s.job.ID, "resultPages"))
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusMethodNotAllowed) {
			return errNoResultPages
		}
		return fmt.Errorf("bulk job %s result pages: %w", s.job.ID, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	p := &parallelPager{pages: make(chan chan pageResult, s.opts.ParallelPages-1), cancel: cancel}
	s.par = p
	go func() {
		defer close(p.pages)
		a := first
		for {
			for _, rp := range a.ResultPages {
				fut := make(chan pageResult, 1)
				select {
				case p.pages <- fut:
				case <-ctx.Done():
					return
				}
				go func(u string) { fut <- s.fetchPage(ctx, u) }(rp.ResultURL)
			}
			next := a.next()
			if a.Done || next == "" {
				return
			}
			var err error
			if a, err = s.listPages(ctx, next); err != nil {
				fut := make(chan pageResult, 1)
				fut <- pageResult{err: fmt.Errorf("bulk job %s result pages: %w", s.job.ID, err)}
				select {
				case p.pages <- fut:
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	return nil
}

// fetchPage downloads one whole page (c.do re-fetches it on any transient
// failure, truncation included).
func (s *CSVStream) fetchPage(ctx context.Context, u string) pageResult {
	resp, err := s.c.do(ctx, &call{family: FamilyBulk, method: http.MethodGet, path: u, accept: "text/csv", idempotent: true})
	if err != nil {
		return pageResult{err: fmt.Errorf("bulk job %s result page: %w", s.job.ID, err)}
	}
	exp := -1
	if n, err := strconv.Atoi(resp.header.Get("Sforce-NumberOfRecords")); err == nil {
		exp = n
	}
	return pageResult{body: resp.body, expected: exp}
}

// nextParallelPage switches the reader to the next downloaded page.
func (s *CSVStream) nextParallelPage() error {
	for {
		fut, ok := <-s.par.pages
		if !ok {
			return s.finish()
		}
		res := <-fut
		if res.err != nil {
			return res.err
		}
		s.pages++
		if s.tr == nil {
			s.tr = &trackingReader{}
			s.br = bufio.NewReaderSize(s.tr, 256<<10)
		}
		s.tr.r, s.tr.err = bytes.NewReader(res.body), nil
		s.br.Reset(s.tr)
		s.cr = csv.NewReader(s.br)
		s.cr.Comma = delimiterRune(s.opts.ColumnDelimiter)
		s.cr.ReuseRecord = true
		s.inPage, s.expected = 0, res.expected
		head, err := s.cr.Read()
		if err == io.EOF {
			s.cr = nil
			continue // an empty page
		}
		if err != nil {
			return fmt.Errorf("bulk job %s: result header: %w", s.job.ID, err)
		}
		if s.header == nil {
			s.header = append([]string(nil), head...)
		} else if !equalStrings(head, s.header) {
			return fmt.Errorf("bulk job %s: page %d has header %q, first page had %q", s.job.ID, s.pages, head, s.header)
		}
		return nil
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// trackingReader remembers the first non-EOF error of the underlying body,
// so a CSV parse failure can be told apart from a broken connection.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}
