package sfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Record is one record from a REST answer. Raw is the record's JSON exactly
// as Salesforce sent it (attributes included); the engine canonicalises it
// itself. Type and ID are read from attributes.type and Id when present.
type Record struct {
	Type string
	ID   string
	Raw  json.RawMessage
}

func newRecord(raw []byte) (*Record, error) {
	var head struct {
		Attributes struct {
			Type string `json:"type"`
		} `json:"attributes"`
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decoding record: %w", err)
	}
	return &Record{Type: head.Attributes.Type, ID: head.ID, Raw: raw}, nil
}

// Decode unmarshals the record into v.
func (r *Record) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Fields decodes the record into a map, numbers as json.Number so that no
// precision is lost.
func (r *Record) Fields() (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(r.Raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// QueryOptions tunes a REST query.
type QueryOptions struct {
	// All uses queryAll: soft-deleted and archived rows are included.
	All bool
	// BatchSize asks for pages of this many rows (200–2000, a hint the server
	// may ignore); 0 leaves the server default (2000).
	BatchSize int
}

// QueryPage is one page of a REST query answer.
type QueryPage struct {
	TotalSize      int
	Done           bool
	NextRecordsURL string
	Records        []Record
}

type rawPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

func (c *Client) queryHeader(opts *QueryOptions) http.Header {
	if opts == nil || opts.BatchSize <= 0 {
		return nil
	}
	n := min(max(opts.BatchSize, 200), 2000)
	return http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(n)}}
}

// QueryFirst runs soql and returns its first page.
func (c *Client) QueryFirst(ctx context.Context, soql string, opts *QueryOptions) (*QueryPage, error) {
	res := "query"
	if opts != nil && opts.All {
		res = "queryAll"
	}
	return c.queryPage(ctx, c.dataPath(res), url.Values{"q": {soql}}, c.queryHeader(opts))
}

// QueryMore fetches the page at nextRecordsURL (as returned in a page).
func (c *Client) QueryMore(ctx context.Context, nextRecordsURL string, opts *QueryOptions) (*QueryPage, error) {
	if !strings.HasPrefix(nextRecordsURL, "/services/") {
		return nil, fmt.Errorf("sfapi: unexpected nextRecordsUrl %q", nextRecordsURL)
	}
	return c.queryPage(ctx, nextRecordsURL, nil, c.queryHeader(opts))
}

func (c *Client) queryPage(ctx context.Context, path string, q url.Values, h http.Header) (*QueryPage, error) {
	resp, err := c.do(ctx, &call{family: FamilyREST, method: http.MethodGet, path: path, query: q, header: h, idempotent: true})
	if err != nil {
		return nil, err
	}
	var rp rawPage
	if err := decodeJSON(resp, path, &rp); err != nil {
		return nil, err
	}
	p := &QueryPage{TotalSize: rp.TotalSize, Done: rp.Done, NextRecordsURL: rp.NextRecordsURL, Records: make([]Record, len(rp.Records))}
	for i, raw := range rp.Records {
		r, err := newRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", pathOnly(path), i, err)
		}
		p.Records[i] = *r
	}
	if !p.Done && p.NextRecordsURL == "" {
		return nil, fmt.Errorf("%s: page says more records follow but gives no nextRecordsUrl", pathOnly(path))
	}
	return p, nil
}

// QueryIter streams the records of a REST query one page at a time: memory
// holds one page (≤ 2000 records). Use:
//
//	it := c.Query(ctx, soql, nil)
//	for it.Next() { rec := it.Record(); … }
//	if err := it.Err(); err != nil { … }
type QueryIter struct {
	c     *Client
	ctx   context.Context
	soql  string
	opts  *QueryOptions
	page  *QueryPage
	i     int
	err   error
	total int
	seen  int
}

// Query starts a streaming REST query (nothing is sent until Next).
func (c *Client) Query(ctx context.Context, soql string, opts *QueryOptions) *QueryIter {
	return &QueryIter{c: c, ctx: ctx, soql: soql, opts: opts, i: -1}
}

// Next advances to the next record, fetching pages as needed.
func (it *QueryIter) Next() bool {
	if it.err != nil {
		return false
	}
	for {
		if it.page != nil && it.i+1 < len(it.page.Records) {
			it.i++
			it.seen++
			return true
		}
		var p *QueryPage
		var err error
		switch {
		case it.page == nil:
			p, err = it.c.QueryFirst(it.ctx, it.soql, it.opts)
		case it.page.Done:
			return false
		default:
			p, err = it.c.QueryMore(it.ctx, it.page.NextRecordsURL, it.opts)
		}
		if err != nil {
			it.err = fmt.Errorf("query after %d records: %w", it.seen, err)
			return false
		}
		if it.page == nil {
			it.total = p.TotalSize
		}
		it.page, it.i = p, -1
	}
}

// Record returns the current record; valid until the next call to Next.
func (it *QueryIter) Record() *Record { return &it.page.Records[it.i] }

// Err returns the error that stopped iteration, if any.
func (it *QueryIter) Err() error { return it.err }

// TotalSize is the server's row count for the whole query (known after the
// first Next).
func (it *QueryIter) TotalSize() int { return it.total }
