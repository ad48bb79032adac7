package sfapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
)

func TestQueryIterPaging(t *testing.T) {
	var batch atomic.Value
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		batch.Store(r.Header.Get("Sforce-Query-Options"))
		var recs []string
		page := 0
		switch {
		case r.URL.Path == "/services/data/v62.0/queryAll":
			if q := r.URL.Query().Get("q"); q != "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00+01:00" {
				t.Errorf("q = %q", q)
			}
		case strings.HasPrefix(r.URL.Path, "/services/data/v62.0/query/01gD0000002HU6KIAW-"):
			fmt.Sscanf(r.URL.Path[len("/services/data/v62.0/query/01gD0000002HU6KIAW-"):], "%d", &page)
			page /= 2
		default:
			t.Errorf("unexpected %s", r.URL.Path)
		}
		for i := 0; i < 2 && page*2+i < 5; i++ {
			recs = append(recs, fmt.Sprintf(`{"attributes":{"type":"Account","url":"/x"},"Id":"001%015d","Name":null}`, page*2+i))
		}
		next := ""
		done := page*2+2 >= 5
		if !done {
			next = fmt.Sprintf(`,"nextRecordsUrl":"/services/data/v62.0/query/01gD0000002HU6KIAW-%d"`, page*2+2)
		}
		writeJSON(w, 200, fmt.Sprintf(`{"totalSize":5,"done":%v%s,"records":[%s]}`, done, next, strings.Join(recs, ",")))
	}))
	it := env.c.Query(context.Background(), "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00+01:00",
		&sfapi.QueryOptions{All: true, BatchSize: 50})
	var ids []string
	for it.Next() {
		r := it.Record()
		if r.Type != "Account" {
			t.Fatalf("type %q", r.Type)
		}
		m, err := r.Fields()
		if err != nil || m["Name"] != nil {
			t.Fatal(m, err)
		}
		ids = append(ids, r.ID)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 5 || ids[4] != "001000000000000004" || it.TotalSize() != 5 {
		t.Fatalf("ids %v", ids)
	}
	if batch.Load() != "batchSize=200" {
		t.Fatalf("batch header %v", batch.Load())
	}
}

func TestDescribeCache(t *testing.T) {
	var full, notMod atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ims := r.Header.Get("If-Modified-Since"); ims != "" {
			if ims != "Tue, 03 Mar 2026 10:00:00 GMT" {
				t.Errorf("IMS %q", ims)
			}
			notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Last-Modified", "Tue, 03 Mar 2026 10:00:00 GMT")
		switch r.URL.Path {
		case "/services/data/v62.0/sobjects/Account/describe":
			writeJSON(w, 200, `{"name":"Account","keyPrefix":"001","queryable":true,"fields":[{"name":"Id","type":"id"},{"name":"BillingAddress","type":"address"},{"name":"BillingCity","type":"string","compoundFieldName":"BillingAddress"},{"name":"OwnerId","type":"reference","referenceTo":["Group","User"],"relationshipName":"Owner","compoundFieldName":null}]}`)
		case "/services/data/v62.0/sobjects":
			writeJSON(w, 200, `{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Account","keyPrefix":"001","replicateable":true},{"name":"RecentlyViewed","keyPrefix":null}]}`)
		default:
			writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
		}
	}))
	ctx := context.Background()
	d1, err := env.c.Describe(ctx, "Account")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := env.c.Describe(ctx, "account")
	if err != nil || d1 != d2 {
		t.Fatal("cached describe not reused", err)
	}
	if f := d1.Field("billingcity"); f == nil || f.CompoundFieldName != "BillingAddress" {
		t.Fatalf("field %+v", f)
	}
	if f := d1.Field("OwnerId"); len(f.ReferenceTo) != 2 || f.RelationshipName != "Owner" {
		t.Fatalf("owner %+v", f)
	}
	if !json.Valid(d1.Raw) {
		t.Fatal("raw not kept")
	}
	g, err := env.c.DescribeGlobal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.KeyPrefixes()["001"] != "Account" || len(g.KeyPrefixes()) != 1 || g.ObjectForID("001D000000IqhSLIAZ") != "Account" {
		t.Fatalf("prefixes %v", g.KeyPrefixes())
	}
	if full.Load() != 2 || notMod.Load() != 1 {
		t.Fatalf("full %d notmod %d", full.Load(), notMod.Load())
	}
	if _, err := env.c.Describe(ctx, "Nope__c"); !sfapi.IsNotFound(err) {
		t.Fatalf("unknown object: %v", err)
	}
	if _, err := env.c.Describe(ctx, "../etc"); err == nil {
		t.Fatal("path injection accepted")
	}
}

func TestCollectionsChunking(t *testing.T) {
	var calls atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var body struct {
			AllOrNone bool             `json:"allOrNone"`
			Records   []map[string]any `json:"records"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Error(err)
		}
		if len(body.Records) > 200 {
			t.Errorf("%d records in one call", len(body.Records))
		}
		var out []string
		for i, rec := range body.Records {
			if rec["attributes"].(map[string]any)["type"] != "Contact" {
				t.Error("no type")
			}
			if rec["LastName"] == "bad" {
				out = append(out, `{"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]}`)
				continue
			}
			out = append(out, fmt.Sprintf(`{"id":"003%015d","success":true,"errors":[]}`, i))
		}
		writeJSON(w, 200, "["+strings.Join(out, ",")+"]")
	}))
	recs := make([]sfapi.Fields, 450)
	for i := range recs {
		recs[i] = sfapi.Fields{"LastName": fmt.Sprint("n", i)}
	}
	recs[300]["LastName"] = "bad"
	res, err := env.c.CreateRecords(context.Background(), "Contact", recs, sfapi.CollectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 450 || calls.Load() != 3 {
		t.Fatalf("%d results in %d calls", len(res), calls.Load())
	}
	if err := res[300].Err(); sfapi.ErrorCode(err) != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("per-record error %v", err)
	}
	if _, err := env.c.CreateRecords(context.Background(), "Contact", recs, sfapi.CollectionOptions{AllOrNone: true}); err == nil {
		t.Fatal("allOrNone over 200 accepted")
	}
}

func TestIDs(t *testing.T) {
	vectors := [][2]string{
		{"001D000000IqhSL", "001D000000IqhSLIAZ"},
		{"001D000000IRFma", "001D000000IRFmaIAH"},
		{"750R0000000zw4y", "750R0000000zw4yIAA"},
		{"068D00000000pgO", "068D00000000pgOIAQ"},
		{"0036000000QKv5T", "0036000000QKv5TAAT"},
		{"70130000001tcyI", "70130000001tcyIAAQ"},
		{"001550V000WOQZi", "001550V000WOQZiACP"},
		{"AaaAABbbBBCccCC", "AaaAABbbBBCccCCZZZ"},
		{"ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"},
		{"a0D30000001n7Pi", "a0D30000001n7PiEAI"},
	}
	for _, v := range vectors {
		got, err := sfapi.To18(v[0])
		if err != nil || got != v[1] {
			t.Errorf("To18(%s) = %s, %v; want %s", v[0], got, err, v[1])
		}
		if got, _ := sfapi.To18(v[1]); got != v[1] {
			t.Errorf("To18(18) = %s", got)
		}
		if got, err := sfapi.To15(strings.ToLower(v[1])); err != nil || got != v[0] {
			t.Errorf("To15(lower %s) = %s, %v", v[1], got, err)
		}
	}
	for _, bad := range []string{"", "001", "001D000000IqhSLIA", "001D000000IqhSLIAA", "001D00000-IqhSL", "001D000000IqhSLIAZ00"} {
		if err := sfapi.ValidateID(bad); !errors.Is(err, sfapi.ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v", bad, err)
		}
	}
	if err := sfapi.ValidateID("001d000000iqhsliaz"); err != nil {
		t.Errorf("case-folded 18-char id must validate: %v", err)
	}
	if sfapi.KeyPrefix("001D000000IqhSL") != "001" {
		t.Error("prefix")
	}
}
