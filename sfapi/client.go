package sfapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAPIVersion is the REST API version used when Config leaves it empty.
const DefaultAPIVersion = "62.0"

// Family names an API family. Each family has its own concurrency limit, so
// that a flood of file downloads cannot starve metadata calls, and so that
// the org's long-running-request limit (25 concurrent) is respected.
type Family int

// The API families.
const (
	FamilyREST Family = iota
	FamilyBulk
	FamilyFiles
	FamilySOAP
	numFamilies
)

func (f Family) String() string {
	return [...]string{"rest", "bulk", "files", "soap"}[f]
}

// Concurrency caps in-flight requests per family. Zero fields take defaults
// (REST 8, Bulk 4, Files 4, SOAP 2).
type Concurrency struct{ REST, Bulk, Files, SOAP int }

// Clock is time as the client sees it; tests inject a fake so that backoff
// and polling never sleep for real.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx.Err() as soon as ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// Rand supplies jitter. Calls are serialised by the client, so a
// *rand.Rand (math/rand/v2) may be passed directly.
type Rand interface{ Float64() float64 }

// Logger receives diagnostics. The client never passes it a secret: no
// token, password, key or request body, only methods, paths (no query),
// statuses, durations and redacted errors. *slog.Logger satisfies it.
type Logger interface {
	Debug(msg string, args ...any)
	Warn(msg string, args ...any)
}

// RetryPolicy bounds retries of transient failures. Zero fields take
// defaults.
type RetryPolicy struct {
	MaxAttempts   int           // attempts per request, first included (default 8)
	BaseDelay     time.Duration // first backoff (default 500ms)
	MaxDelay      time.Duration // backoff cap (default 30s)
	MaxRetryAfter time.Duration // cap on a server's Retry-After (default 5m)
}

// Config builds a Client. Only Auth is required.
type Config struct {
	// Auth supplies access tokens (and usually the instance URL).
	Auth TokenSource
	// InstanceURL is used when the token carries none, e.g.
	// https://example.my.salesforce.com.
	InstanceURL string
	// APIVersion such as "62.0"; default DefaultAPIVersion.
	APIVersion string
	// HTTPClient to send requests with; if nil, one is built on Transport
	// (or http.DefaultTransport). Its Timeout should be zero: streams
	// (bulk results, files) legitimately last long; use contexts instead.
	HTTPClient *http.Client
	Transport  http.RoundTripper
	Clock      Clock
	Rand       Rand
	Logger     Logger
	Retry      RetryPolicy
	// Concurrency per API family.
	Concurrency Concurrency
	// ClientName is sent as Sforce-Call-Options: client=NAME (shows in
	// Salesforce's API usage reports).
	ClientName string
}

// Client talks to one org. It is safe for concurrent use.
type Client struct {
	version string
	hc      *http.Client
	clock   Clock
	log     Logger
	retry   RetryPolicy
	client  string
	auth    *tokenCache
	sems    [numFamilies]chan struct{}
	limits  Limits

	randMu sync.Mutex
	rnd    Rand

	describes describeCache
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Auth == nil {
		return nil, errors.New("sfapi: Config.Auth is required")
	}
	c := &Client{
		version: strings.TrimPrefix(cfg.APIVersion, "v"),
		hc:      cfg.HTTPClient,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		retry:   cfg.Retry,
		client:  cfg.ClientName,
		rnd:     cfg.Rand,
	}
	if c.version == "" {
		c.version = DefaultAPIVersion
	}
	if _, err := strconv.ParseFloat(c.version, 64); err != nil {
		return nil, fmt.Errorf("sfapi: API version %q is not a number like %q", cfg.APIVersion, DefaultAPIVersion)
	}
	if c.hc == nil {
		rt := cfg.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		c.hc = &http.Client{Transport: rt}
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.log == nil {
		c.log = nopLogger{}
	}
	if c.rnd == nil {
		c.rnd = globalRand{}
	}
	r := &c.retry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 8
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = 500 * time.Millisecond
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = 5 * time.Minute
	}
	conc := [numFamilies]int{cfg.Concurrency.REST, cfg.Concurrency.Bulk, cfg.Concurrency.Files, cfg.Concurrency.SOAP}
	defaults := [numFamilies]int{8, 4, 4, 2}
	for i := range conc {
		n := conc[i]
		if n <= 0 {
			n = defaults[i]
		}
		c.sems[i] = make(chan struct{}, n)
	}
	base := strings.TrimRight(cfg.InstanceURL, "/")
	if base != "" {
		if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("sfapi: instance URL %q is not an absolute URL like https://example.my.salesforce.com", cfg.InstanceURL)
		}
	}
	c.auth = &tokenCache{src: cfg.Auth, instance: base}
	return c, nil
}

// APIVersion returns the version in use, e.g. "62.0".
func (c *Client) APIVersion() string { return c.version }

// Limits returns the usage tracker fed by every response.
func (c *Client) Limits() *Limits { return &c.limits }

// Budget returns the budget brake over Limits.
func (c *Client) Budget() Budget { return Budget{&c.limits} }

// Token returns the current token, obtaining one if needed. The engine uses
// it to learn the instance URL and org id; never log it.
func (c *Client) Token(ctx context.Context) (*Token, error) { return c.auth.get(ctx) }

// dataPath returns /services/data/vXX.X/ + the elements joined with '/'.
func (c *Client) dataPath(elems ...string) string {
	var b strings.Builder
	b.WriteString("/services/data/v")
	b.WriteString(c.version)
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(e)
	}
	return b.String()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type globalRand struct{}

func (globalRand) Float64() float64 { return rand.Float64() }

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Warn(string, ...any)  {}

// call describes one logical request; do and stream turn it into attempts.
type call struct {
	family Family
	method string
	// path is absolute ("/services/…") relative to the instance URL, or a
	// full URL (token endpoint, login host).
	path   string
	query  url.Values
	header http.Header
	// body is sent as is on each attempt; bodyFn, when set, builds it per
	// attempt from the current token (SOAP puts the session in the body).
	body   []byte
	bodyFn func(tok *Token) ([]byte, error)
	// streamBody, when set, opens a fresh body per attempt (large uploads).
	streamBody  func() (io.Reader, error)
	contentType string
	accept      string
	// idempotent requests are retried on any transient failure; others only
	// when the failure proves nothing was done (see APIError.unprocessed).
	idempotent bool
	noAuth     bool
	// maxAttempts overrides the policy when > 0.
	maxAttempts int
}

// response is a fully read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do performs r, retrying transient failures, and returns the response with
// its body read. Non-2xx answers (except 304) become *APIError.
func (c *Client) do(ctx context.Context, r *call) (*response, error) {
	var out *response
	err := c.run(ctx, r, func(resp *http.Response, release func()) error {
		defer release()
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return &transportError{op: "reading response of " + r.method + " " + pathOnly(r.path), err: err, sent: true}
		}
		out = &response{status: resp.StatusCode, header: resp.Header, body: body}
		return nil
	})
	return out, err
}

// stream performs r, retrying transient failures until response headers
// arrive, and hands the open body to the caller. The family's concurrency
// slot is held until the body is closed.
func (c *Client) stream(ctx context.Context, r *call) (*http.Response, error) {
	var out *http.Response
	err := c.run(ctx, r, func(resp *http.Response, release func()) error {
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		out = resp
		return nil
	})
	return out, err
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// maxRefreshes bounds token refreshes within one call: the first covers an
// expired session, a second one a session revoked between the refresh and
// the retry. More means the login itself is broken.
const maxRefreshes = 2

// run is the retry loop shared by do and stream. onOK consumes a successful
// response (it must call release exactly once, now or later); an error it
// returns is treated like any other attempt failure.
func (c *Client) run(ctx context.Context, r *call, onOK func(*http.Response, func()) error) error {
	maxAttempts := c.retry.MaxAttempts
	if r.maxAttempts > 0 {
		maxAttempts = r.maxAttempts
	}
	refreshes, renewed := 0, false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return ctxErr(err)
		}
		used, err := c.attempt(ctx, r, onOK)
		if err == nil {
			return nil
		}
		if ce := ctx.Err(); ce != nil {
			return ctxErr(ce)
		}
		var ae *APIError
		if errors.As(err, &ae) {
			ae.Method, ae.Path = r.method, pathOnly(r.path)
			if ae.ErrorCode == "REQUEST_LIMIT_EXCEEDED" && !ae.Temporary() {
				c.limits.markExceeded()
				return err
			}
			if !r.noAuth && (ae.ErrorCode == "INVALID_SESSION_ID" || (ae.StatusCode == http.StatusUnauthorized && !ae.soap)) {
				if refreshes >= maxRefreshes {
					hint := "run `orgsnap org login` again"
					if !renewed {
						hint = "this login cannot renew its access token: " + hint + " (or supply a fresh token)"
					}
					return fmt.Errorf("%w: session rejected again after a token refresh: %v; %s", ErrInvalidSession, err, hint)
				}
				refreshes++
				var rerr error
				if _, renewed, rerr = c.auth.refresh(ctx, used); rerr != nil {
					return fmt.Errorf("session expired and refresh failed: %w; run `orgsnap org login` again (original error: %v)", rerr, err)
				}
				c.log.Debug("salesforce session refreshed", "method", r.method, "path", pathOnly(r.path), "renewed", renewed)
				attempt-- // a refresh is not a failed attempt
				continue
			}
		}
		if !c.retryable(r, err) || attempt >= maxAttempts {
			if attempt > 1 && IsTransient(err) {
				return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
			}
			return err
		}
		d := c.backoff(attempt)
		if ae != nil && ae.RetryAfter > 0 {
			d = min(max(d, ae.RetryAfter), c.retry.MaxRetryAfter)
		}
		c.log.Warn("salesforce request failed, retrying", "method", r.method, "path", pathOnly(r.path),
			"attempt", attempt, "wait", d, "error", err.Error())
		if err := c.clock.Sleep(ctx, d); err != nil {
			return ctxErr(err)
		}
	}
}

func (c *Client) retryable(r *call, err error) bool {
	if !IsTransient(err) {
		return false
	}
	if r.idempotent {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.unprocessed()
	}
	var te *transportError
	if errors.As(err, &te) {
		return !te.sent
	}
	return false
}

// backoff returns the wait before retry number attempt (1-based): an
// exponential step with "equal jitter" (half fixed, half random), so waits
// never collapse to zero yet parallel clients spread out.
func (c *Client) backoff(attempt int) time.Duration {
	step := float64(c.retry.BaseDelay) * math.Pow(2, float64(attempt-1))
	if step > float64(c.retry.MaxDelay) {
		step = float64(c.retry.MaxDelay)
	}
	c.randMu.Lock()
	f := c.rnd.Float64()
	c.randMu.Unlock()
	return time.Duration(step/2 + f*step/2)
}

// attempt sends r once.
func (c *Client) attempt(ctx context.Context, r *call, onOK func(*http.Response, func()) error) (*Token, error) {
	var tok *Token
	// Even unauthenticated calls may need the token's instance URL.
	needURL := c.auth.instance == "" && !strings.HasPrefix(r.path, "http")
	if !r.noAuth || r.bodyFn != nil || needURL {
		var err error
		if tok, err = c.auth.get(ctx); err != nil {
			return nil, err
		}
	}
	return tok, c.send(ctx, tok, r, onOK)
}

func (c *Client) send(ctx context.Context, tok *Token, r *call, onOK func(*http.Response, func()) error) error {
	target, err := c.resolve(tok, r)
	if err != nil {
		return err
	}
	var body []byte = r.body
	if r.bodyFn != nil {
		if body, err = r.bodyFn(tok); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if r.streamBody != nil {
		if rd, err = r.streamBody(); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return fmt.Errorf("sfapi: building request %s %s: %w", r.method, pathOnly(r.path), err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	} else if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	if c.client != "" && req.Header.Get("Sforce-Call-Options") == "" {
		req.Header.Set("Sforce-Call-Options", "client="+c.client)
	}

	sem := c.sems[r.family]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx.Err())
	}
	var once sync.Once
	release := func() { once.Do(func() { <-sem }) }

	start := c.clock.Now()
	c.limits.countRequest()
	resp, err := c.hc.Do(req)
	if err != nil {
		release()
		if ce := ctx.Err(); ce != nil {
			return ctxErr(ce)
		}
		return &transportError{op: r.method + " " + pathOnly(r.path), err: stripURL(err), sent: !isDialError(err)}
	}
	c.limits.observe(resp.Header, c.clock.Now())
	c.log.Debug("salesforce request", "method", r.method, "path", pathOnly(r.path),
		"status", resp.StatusCode, "elapsed", c.clock.Now().Sub(start))
	if resp.StatusCode < 300 || resp.StatusCode == http.StatusNotModified {
		return onOK(resp, release)
	}
	defer release()
	defer resp.Body.Close()
	errBody, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ae := parseErrorBody(resp.StatusCode, resp.Header.Get("Content-Type"), errBody)
	if rerr != nil && ae.ErrorCode == "" {
		// The error body itself was cut: a transport failure.
		return &transportError{op: "reading error response of " + r.method + " " + pathOnly(r.path), err: rerr, sent: true}
	}
	ae.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
	return ae
}

// resolve builds the absolute URL for r.
func (c *Client) resolve(tok *Token, r *call) (string, error) {
	target := r.path
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		base := c.auth.instanceURL(tok)
		if base == "" {
			return "", errors.New("sfapi: no instance URL: the login did not return one and Config.InstanceURL is empty")
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		target = base + target
	}
	if len(r.query) > 0 {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + r.query.Encode()
	}
	if u, err := url.Parse(target); err == nil && len(u.RequestURI()) > MaxURIBytes {
		return "", fmt.Errorf("%s %s: %w: %d bytes, the limit is %d", r.method, pathOnly(r.path), ErrURITooLong, len(u.RequestURI()), MaxURIBytes)
	}
	return target, nil
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

func ctxErr(err error) error {
	return fmt.Errorf("%w (%w)", err, errContextDone)
}

// stripURL drops the URL from a *url.Error: it may carry a SOQL filter, and
// the method and path are already in our own context.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
