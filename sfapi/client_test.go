package sfapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
)

func TestRetryTransient(t *testing.T) {
	cases := []struct {
		name  string
		fail  func(w http.ResponseWriter)
		sleep time.Duration // expected first sleep, 0 = computed backoff
	}{
		{"503 Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			writeJSON(w, 503, `[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]`)
		}, 7 * time.Second},
		{"500 html", func(w http.ResponseWriter) { w.WriteHeader(500); w.Write([]byte("<html>oops</html>")) }, 0},
		{"QUERY_TIMEOUT", func(w http.ResponseWriter) {
			writeJSON(w, 400, `[{"message":"Your query request was running for too long.","errorCode":"QUERY_TIMEOUT"}]`)
		}, 0},
		{"UNABLE_TO_LOCK_ROW", func(w http.ResponseWriter) {
			writeJSON(w, 400, `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW"}]`)
		}, 0},
		{"reset", hijackReset, 0},
		{"truncated", func(w http.ResponseWriter) {
			hijackTruncated(w, http.Header{"Content-Type": {"application/json"}}, `{"totalSize":1,"done":true,"records":[]}`, 10)
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 2 {
					tc.fail(w)
					return
				}
				w.Header().Set("Sforce-Limit-Info", "api-usage=10/1000")
				writeJSON(w, 200, `{"totalSize":0,"done":true,"records":[]}`)
			}))
			p, err := env.c.QueryFirst(context.Background(), "SELECT Id FROM Account", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Done || n.Load() != 3 {
				t.Fatalf("done=%v requests=%d", p.Done, n.Load())
			}
			sl := env.clock.Sleeps()
			if len(sl) != 2 {
				t.Fatalf("sleeps %v", sl)
			}
			if tc.sleep != 0 && sl[0] != tc.sleep {
				t.Fatalf("first sleep %v, want %v", sl[0], tc.sleep)
			}
			if tc.sleep == 0 && (sl[0] != 375*time.Millisecond || sl[1] != 750*time.Millisecond) {
				t.Fatalf("backoff %v, want [375ms 750ms] (equal jitter at 0.5)", sl)
			}
			if u := env.c.Limits().Usage(); u.Used != 10 || u.Max != 1000 {
				t.Fatalf("usage %+v", u)
			}
		})
	}
}

func TestNoRetryPermanent(t *testing.T) {
	for _, tc := range []struct{ code, body string }{
		{"MALFORMED_QUERY", `[{"message":"unexpected token: SELEKT","errorCode":"MALFORMED_QUERY"}]`},
		{"INVALID_FIELD", `[{"message":"No such column 'Bacon__c'","errorCode":"INVALID_FIELD","fields":["Bacon__c"]}]`},
	} {
		var n atomic.Int32
		env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeJSON(w, 400, tc.body)
		}))
		_, err := env.c.QueryFirst(context.Background(), "SELEKT", nil)
		var ae *sfapi.APIError
		if !errors.As(err, &ae) || ae.ErrorCode != tc.code || ae.StatusCode != 400 {
			t.Fatalf("err = %v", err)
		}
		if n.Load() != 1 || sfapi.IsTransient(err) {
			t.Fatalf("%s retried %d times", tc.code, n.Load())
		}
	}
}

func TestRequestLimitExceeded(t *testing.T) {
	var n atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Sforce-Limit-Info", "api-usage=15001/15000")
		writeJSON(w, 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
	}))
	_, err := env.c.QueryFirst(context.Background(), "SELECT Id FROM Account", nil)
	if !errors.Is(err, sfapi.ErrRequestLimitExceeded) || !sfapi.IsLimitExceeded(err) || n.Load() != 1 {
		t.Fatalf("err=%v requests=%d", err, n.Load())
	}
	if !strings.Contains(err.Error(), "run again") {
		t.Errorf("message does not say what to do: %v", err)
	}
	if err := env.c.Budget().Check(100); !errors.Is(err, sfapi.ErrBudgetExhausted) {
		t.Fatalf("budget after limit: %v", err)
	}
}

func TestBudget(t *testing.T) {
	usage := "api-usage=80/100"
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sforce-Limit-Info", usage+"; per-app-api-usage=1/250(appName=x)")
		writeJSON(w, 200, `{}`)
	}))
	b := env.c.Budget()
	if err := b.Check(80); err != nil {
		t.Fatalf("unknown usage must pass: %v", err)
	}
	if _, err := env.c.OrgLimits(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(80); !errors.Is(err, sfapi.ErrBudgetExhausted) {
		t.Fatalf("80/100: one more call would pass 80%%: %v", err)
	}
	if err := b.Check(90); err != nil {
		t.Fatal(err)
	}
	if r := b.Remaining(90); r != 10 {
		t.Fatalf("remaining %d", r)
	}
}

func TestRefreshOnInvalidSession(t *testing.T) {
	src := &countingSource{}
	var n atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Header.Get("Authorization") != "Bearer 00D000000000001!tok2" {
			w.Header().Set("WWW-Authenticate", "Token")
			writeJSON(w, 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
			return
		}
		writeJSON(w, 200, `{"DailyApiRequests":{"Max":5000,"Remaining":4937,"Salesforce CLI":{"Max":0,"Remaining":0}}}`)
	}), func(c *sfapi.Config) { c.Auth = src })
	src.instance = env.srv.URL
	lim, err := env.c.OrgLimits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if lim["DailyApiRequests"].Remaining != 4937 || lim["DailyApiRequests"].Sub["Salesforce CLI"].Max != 0 {
		t.Fatalf("limits %+v", lim)
	}
	if src.Calls() != 2 || n.Load() != 2 || len(env.clock.Sleeps()) != 0 {
		t.Fatalf("token calls %d, requests %d", src.Calls(), n.Load())
	}
}

func TestStaticTokenExpired(t *testing.T) {
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	}))
	_, err := env.c.OrgLimits(context.Background())
	if !sfapi.IsInvalidSession(err) || !strings.Contains(err.Error(), "orgsnap org login") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatal("token in error")
	}
}

func TestContextCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		writeJSON(w, 503, `[]`)
	}))
	_, err := env.c.OrgLimits(ctx)
	if !errors.Is(err, context.Canceled) || sfapi.IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestNonIdempotentNotRetriedAfterSend(t *testing.T) {
	var n atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, 500, `[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]`)
			return
		}
		writeJSON(w, 201, `{"id":"001D000000IqhSLIAZ","success":true,"errors":[]}`)
	}))
	_, err := env.c.CreateRecord(context.Background(), "Account", sfapi.Fields{"Name": "x"})
	if err == nil || n.Load() != 1 {
		t.Fatalf("insert after a 500 must not be resent: err=%v n=%d", err, n.Load())
	}
	n.Store(0)
	env2 := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, 503, `[{"message":"unavailable","errorCode":"SERVER_UNAVAILABLE"}]`)
			return
		}
		writeJSON(w, 201, `{"id":"001D000000IqhSLIAZ","success":true,"errors":[]}`)
	}))
	id, err := env2.c.CreateRecord(context.Background(), "Account", sfapi.Fields{"Name": "x"})
	if err != nil || id != "001D000000IqhSLIAZ" {
		t.Fatalf("503 proves nothing was done, resend: %v", err)
	}
}

func TestErrorShapes(t *testing.T) {
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("q") {
		case "oauth":
			writeJSON(w, 400, `{"error":"invalid_grant","error_description":"authentication failure"}`)
		case "soap":
			w.WriteHeader(500)
			w.Write([]byte(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_FIELD</faultcode><faultstring>INVALID_FIELD: bad</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`))
		default:
			writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
		}
	}))
	ctx := context.Background()
	_, err := env.c.QueryFirst(ctx, "oauth", nil)
	if sfapi.ErrorCode(err) != "invalid_grant" {
		t.Fatalf("oauth: %v", err)
	}
	_, err = env.c.QueryFirst(ctx, "soap", nil)
	if sfapi.ErrorCode(err) != "INVALID_FIELD" || sfapi.IsTransient(err) {
		t.Fatalf("soap: %v", err)
	}
	_, err = env.c.QueryFirst(ctx, "x", nil)
	if !sfapi.IsNotFound(err) {
		t.Fatalf("404: %v", err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	var cur, peak atomic.Int32
	release := make(chan struct{})
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		writeJSON(w, 200, `{}`)
	}), func(c *sfapi.Config) { c.Concurrency.REST = 2 })
	done := make(chan error)
	for i := 0; i < 6; i++ {
		go func() { _, err := env.c.OrgLimits(context.Background()); done <- err }()
	}
	for i := 0; i < 6; i++ {
		for cur.Load() < int32(min(2, 6-i)) {
			time.Sleep(time.Millisecond)
		}
		release <- struct{}{}
	}
	for i := 0; i < 6; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}
