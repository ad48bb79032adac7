package sfapi

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is an access token and where to use it. Its String, GoString and
// LogValue methods hide the secret, so a Token may be printed or logged.
type Token struct {
	AccessToken string
	InstanceURL string    // https://example.my.salesforce.com; may be empty for a static token
	ID          string    // identity URL …/id/<orgId>/<userId>, when the flow returns one
	IssuedAt    time.Time // zero if unknown
	Scope       string
}

// OrgID returns the org id (00D…) from the identity URL, or "".
func (t *Token) OrgID() string {
	if parts := strings.Split(strings.TrimRight(t.ID, "/"), "/"); len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return ""
}

// UserID returns the user id (005…) from the identity URL, or "".
func (t *Token) UserID() string {
	if parts := strings.Split(strings.TrimRight(t.ID, "/"), "/"); len(parts) >= 2 {
		return parts[len(parts)-1]
	}
	return ""
}

func (t Token) String() string {
	return fmt.Sprintf("Token{instance=%s, access=[REDACTED]}", t.InstanceURL)
}

// GoString keeps %#v from printing the secret.
func (t Token) GoString() string { return t.String() }

// LogValue keeps slog from printing the secret.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("instance", t.InstanceURL), slog.String("access", "[REDACTED]"))
}

// TokenSource obtains access tokens. Token is called once when the client
// first needs one and again each time Salesforce rejects the current one
// (INVALID_SESSION_ID): it must then return a new token if it can, or an
// error that says what the user should do. The client serialises calls.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// tokenCache holds the current token; refreshes are single-flight so that
// twenty goroutines seeing 401 at once cause one refresh.
type tokenCache struct {
	mu       sync.Mutex
	src      TokenSource
	instance string // Config.InstanceURL, trimmed
	cur      *Token
}

func (t *tokenCache) get(ctx context.Context) (*Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil {
		return t.cur, nil
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, err
	}
	t.cur = tok
	return tok, nil
}

// refresh replaces stale with a new token, unless another goroutine already
// did. renewed is false when the source handed back the very token that was
// rejected (a static token): the caller may retry once, since a rejection
// can be spurious, but must not loop.
func (t *tokenCache) refresh(ctx context.Context, stale *Token) (tok *Token, renewed bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && t.cur != stale {
		return t.cur, true, nil
	}
	if tok, err = t.fetch(ctx); err != nil {
		return nil, false, err
	}
	renewed = stale == nil || tok.AccessToken != stale.AccessToken
	t.cur = tok
	return tok, renewed, nil
}

func (t *tokenCache) fetch(ctx context.Context) (*Token, error) {
	tok, err := t.src.Token(ctx)
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return nil, ctxErr(ce)
		}
		return nil, fmt.Errorf("obtaining a Salesforce access token: %w", err)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, errors.New("obtaining a Salesforce access token: the login returned no access token")
	}
	return tok, nil
}

func (t *tokenCache) instanceURL(tok *Token) string {
	if tok != nil && tok.InstanceURL != "" {
		return strings.TrimRight(tok.InstanceURL, "/")
	}
	return t.instance
}

// StaticToken is a fixed access token (for example one pasted by the user).
// It cannot be refreshed: once Salesforce rejects it, calls fail with
// ErrInvalidSession.
type StaticToken struct {
	AccessToken string
	InstanceURL string
}

func (s StaticToken) Token(context.Context) (*Token, error) {
	if s.AccessToken == "" {
		return nil, errors.New("no access token given")
	}
	return &Token{AccessToken: s.AccessToken, InstanceURL: s.InstanceURL}, nil
}

func (s StaticToken) String() string   { return "StaticToken{instance=" + s.InstanceURL + "}" }
func (s StaticToken) GoString() string { return s.String() }

// OAuth holds what every OAuth 2.0 flow shares. LoginURL is the login host
// (https://login.salesforce.com, https://test.salesforce.com or the org's
// My Domain); the token endpoint is LoginURL + /services/oauth2/token.
type OAuth struct {
	LoginURL     string
	ClientID     string // connected app consumer key
	ClientSecret string // consumer secret (not used by the JWT flow)
	HTTPClient   *http.Client
}

// String hides the secret; it is promoted to every flow type.
func (o OAuth) String() string {
	return fmt.Sprintf("OAuth{login=%s, client=%s}", o.loginURL(), o.ClientID)
}

// GoString keeps %#v from printing the secret.
func (o OAuth) GoString() string { return o.String() }

func (o OAuth) loginURL() string {
	if o.LoginURL == "" {
		return "https://login.salesforce.com"
	}
	return strings.TrimRight(o.LoginURL, "/")
}

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	IssuedAt     string `json:"issued_at"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// post sends one form to the token endpoint. Network failures and 5xx are
// retried a few times; OAuth errors (invalid_grant, …) are returned as
// *APIError with the secrets of the form redacted from the message.
func (o OAuth) post(ctx context.Context, form url.Values, basicAuth bool, secrets ...string) (*tokenResponse, error) {
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	endpoint := o.loginURL() + "/services/oauth2/token"
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 500 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctxErr(ctx.Err())
			case <-t.C:
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("building token request for %s: %w", o.loginURL(), err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if basicAuth {
			req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxErr(ctx.Err())
			}
			lastErr = fmt.Errorf("token request to %s: %s", o.loginURL(), redactSecrets(stripURL(err).Error(), secrets...))
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			lastErr = fmt.Errorf("reading token response from %s: %w", o.loginURL(), err)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			ae := parseErrorBody(resp.StatusCode, resp.Header.Get("Content-Type"), body)
			ae.Message = redactSecrets(ae.Message, secrets...)
			ae.Method, ae.Path = http.MethodPost, "/services/oauth2/token"
			if resp.StatusCode >= 500 {
				lastErr = ae
				continue
			}
			return nil, ae
		}
		var tr tokenResponse
		if err := json.Unmarshal(body, &tr); err != nil {
			return nil, fmt.Errorf("token response from %s is not JSON: %w", o.loginURL(), err)
		}
		if tr.AccessToken == "" {
			return nil, fmt.Errorf("token response from %s has no access_token", o.loginURL())
		}
		return &tr, nil
	}
	return nil, lastErr
}

func (tr *tokenResponse) token() *Token {
	t := &Token{AccessToken: tr.AccessToken, InstanceURL: tr.InstanceURL, ID: tr.ID, Scope: tr.Scope}
	if ms, err := strconv.ParseInt(tr.IssuedAt, 10, 64); err == nil {
		// Salesforce sends milliseconds although old docs say seconds.
		if ms < 1e11 {
			ms *= 1000
		}
		t.IssuedAt = time.UnixMilli(ms)
	}
	return t
}

// RefreshTokenFlow exchanges a refresh token for access tokens. When the
// connected app rotates refresh tokens, the new one replaces the old and is
// passed to OnRotate (which should persist it: the old one no longer works).
type RefreshTokenFlow struct {
	OAuth
	RefreshToken string
	OnRotate     func(newRefreshToken string)

	mu sync.Mutex
}

func (f *RefreshTokenFlow) Token(ctx context.Context) (*Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.RefreshToken == "" {
		return nil, errors.New("no refresh token: run `orgsnap org login` first")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.RefreshToken}, "client_id": {f.ClientID}}
	if f.ClientSecret != "" {
		form.Set("client_secret", f.ClientSecret)
	}
	tr, err := f.post(ctx, form, false, f.RefreshToken, f.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("refreshing the session: %w", err)
	}
	if tr.RefreshToken != "" && tr.RefreshToken != f.RefreshToken {
		f.RefreshToken = tr.RefreshToken
		if f.OnRotate != nil {
			f.OnRotate(tr.RefreshToken)
		}
	}
	return tr.token(), nil
}

// ClientCredentialsFlow logs in as the connected app's run-as user. It must
// be sent to the org's My Domain (login/test hosts answer "request not
// supported on this domain"). BasicAuth sends the client id and secret in an
// Authorization header instead of the form.
type ClientCredentialsFlow struct {
	OAuth
	BasicAuth bool
}

func (f *ClientCredentialsFlow) Token(ctx context.Context) (*Token, error) {
	if u, err := url.Parse(f.loginURL()); err == nil {
		if h := strings.ToLower(u.Hostname()); h == "login.salesforce.com" || h == "test.salesforce.com" {
			return nil, fmt.Errorf("the client-credentials flow needs the org's My Domain URL (https://NAME.my.salesforce.com), not %s", u.Host)
		}
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if !f.BasicAuth {
		form.Set("client_id", f.ClientID)
		form.Set("client_secret", f.ClientSecret)
	}
	tr, err := f.post(ctx, form, f.BasicAuth, f.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("client-credentials login: %w", err)
	}
	return tr.token(), nil
}

// PasswordFlow is the username-password flow. Password is the password
// followed by the user's security token when the IP is not trusted.
// Salesforce discourages this flow; prefer JWT.
type PasswordFlow struct {
	OAuth
	Username string
	Password string
}

func (f *PasswordFlow) Token(ctx context.Context) (*Token, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {f.ClientID}, "client_secret": {f.ClientSecret},
		"username": {f.Username}, "password": {f.Password}}
	tr, err := f.post(ctx, form, false, f.Password, f.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("username-password login for %s: %w", f.Username, err)
	}
	return tr.token(), nil
}

// JWTFlow is the OAuth 2.0 JWT bearer flow, the unattended default: an RS256
// assertion signed with the connected app's private key, for a user who has
// pre-approved the app. No secret leaves the machine.
type JWTFlow struct {
	OAuth
	Username string
	Key      *rsa.PrivateKey
	// Audience defaults to https://test.salesforce.com when LoginURL is a
	// sandbox host and https://login.salesforce.com otherwise.
	Audience string
	// Now defaults to time.Now.
	Now func() time.Time
}

func (f *JWTFlow) audience() string {
	if f.Audience != "" {
		return f.Audience
	}
	if u, err := url.Parse(f.loginURL()); err == nil {
		h := strings.ToLower(u.Hostname())
		if h == "test.salesforce.com" || strings.Contains(h, ".sandbox.") {
			return "https://test.salesforce.com"
		}
	}
	return "https://login.salesforce.com"
}

// Assertion returns the signed JWT. Its exp is three minutes ahead, the
// window Salesforce allows.
func (f *JWTFlow) Assertion() (string, error) {
	if f.Key == nil {
		return "", errors.New("JWT flow: no private key")
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`))
	claims, err := json.Marshal(map[string]any{
		"iss": f.ClientID,
		"sub": f.Username,
		"aud": f.audience(),
		"exp": now().Add(3 * time.Minute).Unix(),
	})
	if err != nil {
		return "", err
	}
	signing := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("JWT flow: signing the assertion: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (f *JWTFlow) Token(ctx context.Context) (*Token, error) {
	a, err := f.Assertion()
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}}
	tr, err := f.post(ctx, form, false, a)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && strings.Contains(ae.Message, "hasn't approved") {
			return nil, fmt.Errorf("JWT login for %s: %w (pre-authorize the user: set the connected app to \"Admin approved users are pre-authorized\" and assign its profile or permission set)", f.Username, err)
		}
		return nil, fmt.Errorf("JWT login for %s: %w", f.Username, err)
	}
	return tr.token(), nil
}

// LoadRSAPrivateKey reads a PEM private key file (PKCS#1 or PKCS#8) for
// the JWT flow.
func LoadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading JWT key: %w", err)
	}
	k, err := ParseRSAPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseRSAPrivateKey parses a PEM-encoded RSA private key.
func ParseRSAPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	for {
		var blk *pem.Block
		blk, pemBytes = pem.Decode(pemBytes)
		if blk == nil {
			return nil, errors.New("no PEM private key found (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the key is %T; Salesforce's JWT flow needs an RSA key (RS256)", k)
			}
			return rk, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		}
	}
}

// CommandRunner runs a program and returns its standard output. It is
// injected so tests need no sf binary.
type CommandRunner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner runs commands with os/exec.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SF_DISABLE_AUTOUPDATE=true", "SF_AUTOUPDATE_DISABLE=true")
	return cmd.Output()
}

// SFCLI reuses a login of the Salesforce CLI: it runs
// `sf org display --target-org ALIAS --json` and reads accessToken and
// instanceUrl. The CLI refreshes its own session, so asking again after a
// rejection yields a fresh token.
type SFCLI struct {
	TargetOrg string
	Run       CommandRunner // default ExecRunner
	Binary    string        // default "sf"
}

func (s *SFCLI) Token(ctx context.Context) (*Token, error) {
	run, bin := s.Run, s.Binary
	if run == nil {
		run = ExecRunner
	}
	if bin == "" {
		bin = "sf"
	}
	args := []string{"org", "display", "--json"}
	if s.TargetOrg != "" {
		args = append(args, "--target-org", s.TargetOrg)
	}
	out, runErr := run(ctx, bin, args...)
	var res struct {
		Status  int    `json:"status"`
		Name    string `json:"name"`
		Message string `json:"message"`
		Result  struct {
			AccessToken string `json:"accessToken"`
			InstanceURL string `json:"instanceUrl"`
			ID          string `json:"id"`
			Username    string `json:"username"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("running `%s org display --target-org %s --json`: %v; is the Salesforce CLI installed and the org logged in (`sf org login web --alias %[2]s`)?", bin, s.TargetOrg, stripSecretsFromExit(runErr))
		}
		return nil, fmt.Errorf("`%s org display --json` printed something that is not JSON: %w", bin, err)
	}
	if res.Status != 0 || res.Result.AccessToken == "" {
		msg := redact(res.Message)
		if msg == "" {
			msg = "no access token in its output"
		}
		return nil, fmt.Errorf("sf CLI login %q: %s; log in again with `sf org login web --alias %[1]s`", s.TargetOrg, msg)
	}
	if strings.ContainsAny(res.Result.AccessToken, " .") && !strings.Contains(res.Result.AccessToken, "!") {
		return nil, fmt.Errorf("sf CLI login %q: the CLI printed a masked access token; upgrade the CLI or use another login method", s.TargetOrg)
	}
	return &Token{AccessToken: res.Result.AccessToken, InstanceURL: res.Result.InstanceURL}, nil
}

func stripSecretsFromExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit status %d: %s", ee.ExitCode(), redact(strings.TrimSpace(snippet(ee.Stderr))))
	}
	return redact(err.Error())
}

// SOAPLogin logs in with the partner SOAP API's login() call: the fallback
// for orgs without a connected app. Password is the password followed by
// the security token when the IP is not trusted.
type SOAPLogin struct {
	LoginURL   string // default https://login.salesforce.com
	Username   string
	Password   string
	APIVersion string // default DefaultAPIVersion
	HTTPClient *http.Client
}

func (s *SOAPLogin) String() string   { return "SOAPLogin{user=" + s.Username + "}" }
func (s *SOAPLogin) GoString() string { return s.String() }

func (s *SOAPLogin) Token(ctx context.Context) (*Token, error) {
	login := strings.TrimRight(s.LoginURL, "/")
	if login == "" {
		login = "https://login.salesforce.com"
	}
	ver := strings.TrimPrefix(s.APIVersion, "v")
	if ver == "" {
		ver = DefaultAPIVersion
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	body := `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:login><urn:username>` +
		xmlText(s.Username) + `</urn:username><urn:password>` + xmlText(s.Password) + `</urn:password></urn:login></soapenv:Body></soapenv:Envelope>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, login+"/services/Soap/u/"+ver, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("SOAP login: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=UTF-8")
	req.Header.Set("SOAPAction", "login")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("SOAP login to %s: %s", login, redactSecrets(stripURL(err).Error(), s.Password))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("SOAP login to %s: reading answer: %w", login, err)
	}
	if f, ok := parseSOAPFault(raw); ok {
		return nil, fmt.Errorf("SOAP login for %s: %w", s.Username, &APIError{StatusCode: resp.StatusCode, ErrorCode: f.code,
			Message: redactSecrets(f.message, s.Password), soap: true})
	}
	var env struct {
		Result struct {
			ServerURL string `xml:"serverUrl"`
			SessionID string `xml:"sessionId"`
			UserID    string `xml:"userId"`
			OrgID     string `xml:"userInfo>organizationId"`
		} `xml:"Body>loginResponse>result"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil || env.Result.SessionID == "" {
		return nil, fmt.Errorf("SOAP login to %s: HTTP %d without a session id", login, resp.StatusCode)
	}
	u, err := url.Parse(env.Result.ServerURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("SOAP login: serverUrl %q is not a URL", env.Result.ServerURL)
	}
	tok := &Token{AccessToken: env.Result.SessionID, InstanceURL: u.Scheme + "://" + u.Host}
	if env.Result.OrgID != "" && env.Result.UserID != "" {
		tok.ID = login + "/id/" + env.Result.OrgID + "/" + env.Result.UserID
	}
	return tok, nil
}
