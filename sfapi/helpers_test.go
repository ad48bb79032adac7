package sfapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
)

const testToken = "00D000000000001!AQtesttokenSECRETvalue"

// fakeClock advances only when slept on; it records every sleep so tests can
// assert backoff without waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type fixedRand float64

func (f fixedRand) Float64() float64 { return float64(f) }

// recLogger records everything logged, to check no secret leaks.
type recLogger struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *recLogger) Debug(msg string, args ...any) { l.add(msg, args) }
func (l *recLogger) Warn(msg string, args ...any)  { l.add(msg, args) }
func (l *recLogger) add(msg string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(&l.buf, msg, args)
}
func (l *recLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// countingSource hands out tok1, tok2, … and counts calls.
type countingSource struct {
	mu       sync.Mutex
	calls    int
	instance string
}

func (s *countingSource) Token(context.Context) (*sfapi.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return &sfapi.Token{AccessToken: fmt.Sprintf("00D000000000001!tok%d", s.calls), InstanceURL: s.instance}, nil
}

func (s *countingSource) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

type testEnv struct {
	srv   *httptest.Server
	c     *sfapi.Client
	clock *fakeClock
	log   *recLogger
}

// newEnv serves h and returns a client with a fake clock and a static token.
func newEnv(t *testing.T, h http.Handler, mod ...func(*sfapi.Config)) *testEnv {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	env := &testEnv{srv: srv, clock: newFakeClock(), log: &recLogger{}}
	cfg := sfapi.Config{
		Auth:   sfapi.StaticToken{AccessToken: testToken, InstanceURL: srv.URL},
		Clock:  env.clock,
		Rand:   fixedRand(0.5),
		Logger: env.log,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := sfapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.c = c
	t.Cleanup(func() {
		if strings.Contains(env.log.String(), "SECRET") || strings.Contains(env.log.String(), "!tok") {
			t.Errorf("a secret reached the logger:\n%s", env.log.String())
		}
	})
	return env
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// hijackReset answers nothing and closes the connection (a reset as the
// client sees it).
func hijackReset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// hijackTruncated writes headers promising n bytes, then only part of body,
// then closes.
func hijackTruncated(w http.ResponseWriter, header http.Header, body string, cut int) {
	hj := w.(http.Hijacker)
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n", len(body))
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(buf, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(buf, "\r\n%s", body[:cut])
	buf.Flush()
	conn.Close()
}
