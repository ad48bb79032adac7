package sftest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// call performs an authenticated request and returns status, headers, body.
func call(t testing.TB, s *Server, method, path string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "text/csv"
	case []byte:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs path and decodes the JSON answer, requiring status want.
func getJSON(t testing.TB, s *Server, path string, want int, v any) {
	t.Helper()
	st, _, b := call(t, s, "GET", path, nil)
	if st != want {
		t.Fatalf("GET %s: status %d, want %d: %s", path, st, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
}

const v = "/services/data/v62.0"

func qpath(soql string) string { return v + "/query?q=" + url.QueryEscape(soql) }

type queryResp struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// queryAllPages runs a REST query and follows nextRecordsUrl.
func queryAllPages(t testing.TB, s *Server, path string) ([]map[string]any, int) {
	t.Helper()
	var out []map[string]any
	var r queryResp
	getJSON(t, s, path, 200, &r)
	total := r.TotalSize
	out = append(out, r.Records...)
	for !r.Done {
		next := r.NextRecordsURL
		r = queryResp{}
		getJSON(t, s, next, 200, &r)
		out = append(out, r.Records...)
	}
	return out, total
}

func errCode(t testing.TB, b []byte) string {
	t.Helper()
	var e []struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(b, &e); err != nil || len(e) == 0 {
		t.Fatalf("not an error array: %s", b)
	}
	return e[0].ErrorCode
}

func jsonDecode(t testing.TB, r io.Reader, v any) {
	t.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// fakeJWT builds an unsigned-but-well-formed RS256 assertion (accepted when
// the org has no JWT key configured).
func fakeJWT(iss, sub string) string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"RS256"}`) + "." + enc(`{"iss":"`+iss+`","sub":"`+sub+`","aud":"https://login.salesforce.com","exp":"4000000000"}`) + "." + enc("sig")
}
