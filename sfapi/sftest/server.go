package sftest

import (
	"bufio"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Supported API versions: v31.0 … v66.0 (older ones answer 410 GONE, as
// retired versions do).
const (
	minVersion    = 31
	maxVersion    = 66
	LatestVersion = "66.0"
)

// apiState is the org's API-side state: sessions, usage, cursors, jobs.
type apiState struct {
	mu         sync.Mutex
	tokens     map[string]bool
	tokenSeq   int
	token      string // the token handed to tests (Server.Token)
	used       int64
	cursors    map[string]*cursor
	curSeq     int64
	jobs       map[string]*bulkJob
	jobSeq     int64
	retrieves  map[string]*retrieveJob
	asyncSeq   int64
	faults     FaultOptions
	faultSeq   uint64
	faultCount map[FaultKind]int
	bulkJobs   int64 // query jobs created (DailyBulkV2QueryJobs)
}

func (a *apiState) init(o *Org) {
	a.tokens = map[string]bool{}
	a.cursors = map[string]*cursor{}
	a.jobs = map[string]*bulkJob{}
	a.retrieves = map[string]*retrieveJob{}
	a.faultCount = map[FaultKind]int{}
	a.faults = o.opts.Faults
	a.token = o.issueToken()
}

// issueToken makes a session id shaped like Salesforce's: orgId15!AQ…
func (o *Org) issueToken() string {
	o.api.tokenSeq++
	r := mix(o.seed ^ uint64(o.api.tokenSeq)*0x51ed27)
	b := []byte(o.id[:15] + "!AQ")
	for i := 0; i < 96; i++ {
		r = mix(r + uint64(i))
		b = append(b, base62[r%62])
	}
	tok := string(b)
	o.api.tokens[tok] = true
	return tok
}

// Token returns a valid access token.
func (o *Org) Token() string {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	return o.api.token
}

// NewToken issues an additional valid access token.
func (o *Org) NewToken() string {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	return o.issueToken()
}

// ExpireSessions invalidates every access token (refresh tokens and
// credentials keep working), as when sessions time out.
func (o *Org) ExpireSessions() {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	o.api.tokens = map[string]bool{}
}

// APIUsage returns today's API request count and the daily limit.
func (o *Org) APIUsage() (used, max int64) {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	return o.api.used, o.opts.APIDailyLimit
}

// SetAPIDailyLimit changes the org's daily API request allocation.
func (o *Org) SetAPIDailyLimit(n int64) {
	o.api.mu.Lock()
	o.opts.APIDailyLimit = n
	o.api.mu.Unlock()
}

// ResetAPIUsage starts a new 24-hour usage window.
func (o *Org) ResetAPIUsage() {
	o.api.mu.Lock()
	o.api.used = 0
	o.api.bulkJobs = 0
	o.api.mu.Unlock()
}

// Server is an org served over plain HTTP by httptest.
type Server struct {
	URL   string // instance URL
	Token string // a valid access token
	Org   *Org
	srv   *httptest.Server
}

// NewServer generates an org and serves it.
func NewServer(opts Options) *Server {
	o := NewOrg(opts)
	s := httptest.NewServer(o.Handler())
	return &Server{URL: s.URL, Token: o.Token(), Org: o, srv: s}
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// ---- errors and JSON ----

type apiErr struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []apiErr{{Message: msg, ErrorCode: code}})
}

func writeError(w http.ResponseWriter, e *Error) {
	st := e.Status
	if st == 0 {
		st = 400
	}
	writeJSON(w, st, []apiErr{{Message: e.Message, ErrorCode: e.Code, Fields: e.Fields}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`[{"message":"marshal failure","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func notFound(w http.ResponseWriter) {
	writeErr(w, 404, "NOT_FOUND", "The requested resource does not exist")
}

// ---- routing ----

type reqCtx struct {
	o    *Org
	w    http.ResponseWriter
	r    *http.Request
	ver  string   // "62.0"
	segs []string // path segments after /services/data/vXX.X/
	base string   // instance URL as seen by the client
	// failJob: a Bulk job created by this request will end Failed (fault).
	failJob bool
}

// Handler serves the org's APIs.
func (o *Org) Handler() http.Handler {
	if o.opts.RequestLog == nil {
		return http.HandlerFunc(o.serve)
	}
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		o.serve(sw, r)
		mu.Lock()
		fmt.Fprintf(o.opts.RequestLog, "%s %s %d\n", r.Method, r.URL.RequestURI(), sw.status)
		mu.Unlock()
	})
}

// statusWriter records the status of a response (request log).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

func (o *Org) serve(w http.ResponseWriter, r *http.Request) {
	// Salesforce's edge refuses a URI past 16,384 bytes, and a URI plus
	// headers past the same (reference: HTTP status table).
	if n := len(r.RequestURI); n > maxURIBytes {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusRequestURITooLong)
		w.Write([]byte("<html><body>414 Request-URI Too Large</body></html>"))
		return
	} else if n+headerBytes(r.Header) > maxURIBytes {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
		w.Write([]byte("<html><body>431 Request Header Fields Too Large</body></html>"))
		return
	}
	// Salesforce tolerates doubled slashes (the sf CLI sends
	// //services/data/… when the instance URL ends in a slash).
	path := r.URL.Path
	for strings.Contains(path, "//") {
		path = strings.ReplaceAll(path, "//", "/")
	}
	path = strings.TrimRight(path, "/")
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	// Method override for clients that cannot PATCH.
	if m := r.URL.Query().Get("_HttpMethod"); m != "" && r.Method == http.MethodPost {
		r.Method = strings.ToUpper(m)
	}
	switch {
	case path == "/services/oauth2/token":
		o.oauthToken(w, r, base)
		return
	case path == "/services/oauth2/revoke":
		w.WriteHeader(200)
		return
	case path == "/services/data":
		o.versions(w)
		return
	}
	c := &reqCtx{o: o, w: w, r: r, base: base}
	isSOAP := strings.HasPrefix(path, "/services/Soap/")
	if !o.authorized(r, isSOAP) {
		if isSOAP {
			soapFault(w, "sf:INVALID_SESSION_ID", "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session")
			return
		}
		w.Header().Set("WWW-Authenticate", "Token")
		writeErr(w, 401, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	// Usage counting and the daily limit.
	o.api.mu.Lock()
	o.api.used++
	used, limit := o.api.used, o.opts.APIDailyLimit
	o.api.mu.Unlock()
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
	if used > limit {
		writeErr(w, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	if strings.HasPrefix(path, "/services/data/v") {
		rest := strings.TrimPrefix(path, "/services/data/v")
		ver, tail, _ := strings.Cut(rest, "/")
		major, err := strconv.ParseFloat(ver, 64)
		if err != nil || !strings.Contains(ver, ".") || major > maxVersion {
			notFound(w)
			return
		}
		if major < minVersion {
			writeErr(w, 410, "GONE", "The requested resource is no longer available.")
			return
		}
		c.ver = ver
		if tail != "" {
			c.segs = strings.Split(tail, "/")
		}
	}
	// Fault injection.
	isQuery := len(c.segs) > 0 && (strings.EqualFold(c.segs[0], "query") || strings.EqualFold(c.segs[0], "queryAll"))
	isJobCreate := len(c.segs) == 2 && c.segs[0] == "jobs" && r.Method == http.MethodPost
	switch o.drawFault(r, isQuery, isJobCreate) {
	case Fault503:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(503)
		w.Write([]byte("<html><body>Service Unavailable</body></html>"))
		return
	case Fault500:
		writeErr(w, 500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")
		return
	case FaultLimit:
		writeErr(w, 403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
		return
	case FaultSession:
		w.Header().Set("WWW-Authenticate", "Token")
		writeErr(w, 401, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	case FaultQueryTimeout:
		writeErr(w, 400, "QUERY_TIMEOUT", "Your query request was running for too long.")
		return
	case FaultSlow:
		o.api.mu.Lock()
		d := o.api.faults.SlowDelay
		o.api.mu.Unlock()
		if d == 0 {
			d = 200 * time.Millisecond
		}
		time.Sleep(d)
	case FaultReset:
		rw := &resetWriter{ResponseWriter: w, limit: 16 + int(mix(atomic.LoadUint64(&o.api.faultSeq))%200)}
		defer rw.kill()
		c.w = rw
	case FaultBulkFailed:
		c.failJob = true
	}
	switch {
	case strings.HasPrefix(path, "/services/data/v"):
		o.routeData(c)
	case path == "/services/oauth2/userinfo":
		o.userinfo(c, false)
	case strings.HasPrefix(path, "/id/"):
		o.userinfo(c, true)
	case strings.HasPrefix(path, "/services/Soap/u/"), strings.HasPrefix(path, "/services/Soap/c/"):
		o.soapPartner(c)
	case strings.HasPrefix(path, "/services/Soap/m/"):
		o.soapMetadata(c)
	default:
		notFound(w)
	}
}

// authorized checks the bearer token (or, for SOAP, defers to the
// SessionHeader checked by the SOAP handlers).
func (o *Org) authorized(r *http.Request, soap bool) bool {
	if soap {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(r.Header.Get("Authorization"), "OAuth ")
	}
	if !ok {
		return false
	}
	return o.validToken(strings.TrimSpace(tok))
}

func (o *Org) validToken(tok string) bool {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	return o.api.tokens[tok]
}

func (o *Org) routeData(c *reqCtx) {
	s := c.segs
	if len(s) == 0 {
		o.resources(c)
		return
	}
	switch strings.ToLower(s[0]) {
	case "limits":
		o.limits(c)
	case "sobjects":
		o.routeSObjects(c)
	case "query", "queryall":
		o.restQuery(c, strings.EqualFold(s[0], "queryAll"))
	case "composite":
		o.routeComposite(c)
	case "jobs":
		o.routeJobs(c)
	default:
		notFound(c.w)
	}
}

// ---- versions, resources, limits ----

var releaseNames = map[int]string{31: "Summer '14", 32: "Winter '15", 33: "Spring '15", 34: "Summer '15"}

func releaseLabel(v int) string {
	if s, ok := releaseNames[v]; ok {
		return s
	}
	seasons := []string{"Winter", "Spring", "Summer"}
	k := v - 32 // v32 = Winter '15
	return fmt.Sprintf("%s '%02d", seasons[k%3], 15+(k+0)/3)
}

func (o *Org) versions(w http.ResponseWriter) {
	type ver struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	var vs []ver
	for v := minVersion; v <= maxVersion; v++ {
		vs = append(vs, ver{releaseLabel(v), fmt.Sprintf("/services/data/v%d.0", v), fmt.Sprintf("%d.0", v)})
	}
	writeJSON(w, 200, vs)
}

func (o *Org) resources(c *reqCtx) {
	p := "/services/data/v" + c.ver + "/"
	m := map[string]string{}
	for _, k := range []string{"tooling", "metadata", "eclair", "folders", "prechatForms", "contact-tracing", "jsonxform",
		"chatter", "tabs", "appMenu", "quickActions", "queryAll", "commerce", "wave", "iot", "analytics", "search",
		"smartdatadiscovery", "identity", "composite", "parameterizedSearch", "fingerprint", "theme", "nouns",
		"domino", "event", "serviceTemplates", "recent", "connect", "licensing", "limits", "process", "async-queries",
		"query", "match", "emailConnect", "compactLayouts", "knowledgeManagement", "sobjects", "actions", "support", "jobs"} {
		m[k] = p + k
	}
	m["identity"] = c.base + "/id/" + c.o.id + "/" + c.o.AdminUserID()
	writeJSON(c.w, 200, m)
}

func (o *Org) limits(c *reqCtx) {
	o.api.mu.Lock()
	used, jobs := o.api.used, o.api.bulkJobs
	o.api.mu.Unlock()
	mr := func(max, rem int64) map[string]int64 { return map[string]int64{"Max": max, "Remaining": rem} }
	writeJSON(c.w, 200, map[string]any{
		"DailyApiRequests":                  mr(o.opts.APIDailyLimit, max(0, o.opts.APIDailyLimit-used)),
		"DailyAsyncApexExecutions":          mr(250000, 250000),
		"DailyBulkApiBatches":               mr(15000, 15000),
		"DailyBulkV2QueryFileStorageMB":     mr(976562, 976562),
		"DailyBulkV2QueryJobs":              mr(10000, max(0, 10000-jobs)),
		"DataStorageMB":                     mr(1024, 1024),
		"FileStorageMB":                     mr(1024, 1024),
		"ConcurrentAsyncGetReportInstances": mr(200, 200),
		"HourlyODataCallout":                mr(10000, 10000),
		"SingleEmail":                       mr(5000, 5000),
	})
}

// ---- OAuth ----

func oauthErr(w http.ResponseWriter, code, desc string) {
	writeJSON(w, 400, map[string]string{"error": code, "error_description": desc})
}

func (o *Org) oauthToken(w http.ResponseWriter, r *http.Request, base string) {
	if r.Method != http.MethodPost {
		oauthErr(w, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthErr(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	opts := &o.opts
	scope := "api refresh_token"
	switch r.PostForm.Get("grant_type") {
	case "password":
		if clientID != opts.ClientID {
			oauthErr(w, "invalid_client_id", "client identifier invalid")
			return
		}
		if secret != opts.ClientSecret {
			oauthErr(w, "invalid_client", "invalid client credentials")
			return
		}
		if r.PostForm.Get("username") != opts.Username || r.PostForm.Get("password") != opts.Password {
			oauthErr(w, "invalid_grant", "authentication failure")
			return
		}
		scope = ""
	case "refresh_token":
		if clientID != opts.ClientID {
			oauthErr(w, "invalid_client_id", "client identifier invalid")
			return
		}
		if secret != "" && secret != opts.ClientSecret {
			oauthErr(w, "invalid_client", "invalid client credentials")
			return
		}
		if r.PostForm.Get("refresh_token") != opts.RefreshToken {
			oauthErr(w, "invalid_grant", "expired access/refresh token")
			return
		}
	case "client_credentials":
		if clientID != opts.ClientID {
			oauthErr(w, "invalid_client_id", "client identifier invalid")
			return
		}
		if secret != opts.ClientSecret {
			oauthErr(w, "invalid_client", "invalid client credentials")
			return
		}
		if h := strings.ToLower(r.Host); strings.HasPrefix(h, "login.") || strings.HasPrefix(h, "test.") {
			oauthErr(w, "invalid_grant", "request not supported on this domain")
			return
		}
		scope = "api"
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if code, desc := o.checkJWT(r.PostForm.Get("assertion")); code != "" {
			oauthErr(w, code, desc)
			return
		}
		scope = "api"
	default:
		oauthErr(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	o.api.mu.Lock()
	tok := o.issueToken()
	o.api.mu.Unlock()
	id := base + "/id/" + o.id + "/" + o.AdminUserID()
	issued := strconv.FormatInt(o.nowMs(), 10)
	mac := hmac.New(sha256.New, []byte(opts.ClientSecret))
	mac.Write([]byte(id + issued))
	resp := map[string]string{
		"access_token": tok, "instance_url": base, "id": id, "token_type": "Bearer",
		"issued_at": issued, "signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, 200, resp)
}

// checkJWT validates a JWT bearer assertion: RS256, iss = client id, sub (or
// prn) = the org user, and the signature when a public key is configured.
func (o *Org) checkJWT(assertion string) (code, desc string) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "invalid_grant", "invalid assertion"
	}
	dec := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")) }
	hb, err1 := dec(parts[0])
	cb, err2 := dec(parts[1])
	sig, err3 := dec(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "invalid_grant", "invalid assertion"
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var cl struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Prn string          `json:"prn"`
		Aud json.RawMessage `json:"aud"`
		Exp json.Number     `json:"exp"`
	}
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &cl) != nil {
		return "invalid_grant", "invalid assertion"
	}
	if hdr.Alg != "RS256" {
		return "invalid_grant", "invalid assertion algorithm"
	}
	if cl.Iss != o.opts.ClientID {
		return "invalid_client_id", "client identifier invalid"
	}
	user := cl.Sub
	if cl.Prn != "" {
		user = cl.Prn
	}
	if user != o.opts.Username {
		return "invalid_grant", "user hasn't approved this consumer"
	}
	if cl.Exp == "" {
		return "invalid_grant", "expired authorization code"
	}
	if len(o.opts.JWTPublicKeyPEM) > 0 {
		blk, _ := pem.Decode(o.opts.JWTPublicKeyPEM)
		if blk == nil {
			return "invalid_grant", "invalid assertion"
		}
		var pub *rsa.PublicKey
		if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
			pub, _ = k.(*rsa.PublicKey)
		} else if cert, err := x509.ParseCertificate(blk.Bytes); err == nil {
			pub, _ = cert.PublicKey.(*rsa.PublicKey)
		}
		h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if pub == nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
			return "invalid_grant", "invalid assertion"
		}
	}
	return "", ""
}

// userinfo serves /services/oauth2/userinfo and the identity URL.
func (o *Org) userinfo(c *reqCtx, identity bool) {
	uid := o.AdminUserID()
	v := LatestVersion
	idURL := c.base + "/id/" + o.id + "/" + uid
	urls := map[string]string{
		"enterprise":    c.base + "/services/Soap/c/{version}/" + o.id[:15],
		"metadata":      c.base + "/services/Soap/m/{version}/" + o.id[:15],
		"partner":       c.base + "/services/Soap/u/{version}/" + o.id[:15],
		"rest":          c.base + "/services/data/v{version}/",
		"sobjects":      c.base + "/services/data/v{version}/sobjects/",
		"search":        c.base + "/services/data/v{version}/search/",
		"query":         c.base + "/services/data/v{version}/query/",
		"recent":        c.base + "/services/data/v{version}/recent/",
		"profile":       c.base + "/" + uid,
		"custom_domain": c.base,
	}
	_ = v
	m := map[string]any{
		"user_id": uid, "organization_id": o.id, "email": "admin@orgsnap.test", "email_verified": true,
		"given_name": "Orgsnap", "family_name": "Admin", "zoneinfo": "America/Los_Angeles",
		"active": true, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
		"utcOffset": -28800000, "is_app_installed": true, "urls": urls,
		"updated_at": time.UnixMilli(o.baseMs).UTC().Format("2006-01-02T15:04:05Z"),
	}
	if identity {
		m["id"] = idURL
		m["asserted_user"] = true
		m["username"] = o.opts.Username
		m["nick_name"] = "admin"
		m["display_name"] = "Orgsnap Admin"
		m["last_modified_date"] = time.UnixMilli(o.baseMs).UTC().Format("2006-01-02T15:04:05.000+0000")
	} else {
		m["sub"] = idURL
		m["preferred_username"] = o.opts.Username
		m["nickname"] = "admin"
		m["name"] = "Orgsnap Admin"
	}
	writeJSON(c.w, 200, m)
}

const maxURIBytes = 16384

// headerBytes is the size of the header lines as sent ("Name: value\r\n").
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
