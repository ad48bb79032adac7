package sfapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
)

// syntheticBulk serves a Bulk 2.0 query of total rows from pre-built pages,
// so that the benchmark measures the client, not a generator.
func syntheticBulk(total, pageSize int) http.Handler {
	var sb strings.Builder
	sb.WriteString(`"Id","Name","Industry","AnnualRevenue","BillingCity","IsDeleted","CreatedDate","SystemModstamp"` + "\n")
	for i := 0; i < pageSize; i++ {
		fmt.Fprintf(&sb, `"001%015d","Acme Holdings %d","Manufacturing","%d.0","San Francisco","false","2024-01-31T12:00:00.000Z","2024-02-01T08:30:00.000Z"`+"\n", i, i, i*1000)
	}
	page := sb.String()
	job := jobID(1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			writeJSON(w, 200, `{"id":"`+job+`","state":"UploadComplete","object":"Account","operation":"query"}`)
		case strings.HasSuffix(r.URL.Path, "/results"):
			start := 0
			if l := r.URL.Query().Get("locator"); l != "" {
				b, _ := base64.RawStdEncoding.DecodeString(l)
				start, _ = strconv.Atoi(string(b))
			}
			end := min(start+pageSize, total)
			next := "null"
			if end < total {
				next = base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
			}
			w.Header().Set("Sforce-Locator", next)
			w.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(end-start))
			w.Header().Set("Content-Type", "text/csv; charset=UTF-8")
			w.Write([]byte(page)) // full pages only: total is a multiple of pageSize
		default:
			writeJSON(w, 200, `{"id":"`+job+`","state":"JobComplete","object":"Account","operation":"query"}`)
		}
	})
}

// BenchmarkBulkQuery streams 1M records through the client from a local
// server with pages of 50,000 rows (8 columns, ~170 bytes a row).
func BenchmarkBulkQuery(b *testing.B) {
	const total, pageSize = 1_000_000, 50_000
	srv := httptest.NewServer(syntheticBulk(total, pageSize))
	defer srv.Close()
	c, err := sfapi.New(sfapi.Config{Auth: sfapi.StaticToken{AccessToken: testToken, InstanceURL: srv.URL},
		Clock: newFakeClock(), Transport: &http.Transport{DisableCompression: true}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		s, err := c.BulkQuery(context.Background(), "SELECT Id FROM Account", nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for s.Next() {
			n += len(s.Record()[0])
		}
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		if s.Rows() != total {
			b.Fatalf("%d rows", s.Rows())
		}
		rows += s.Rows()
		s.Close()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
}
