package backup

// Org profiles: how orgsnap connects to a Salesforce org, kept by name in
// the repository (`orgsnap org add NAME …`). A profile is stored as the
// sealed repository setting "org/NAME" (repo/settings.go), so its
// credentials are encrypted with the master key like everything else in
// the repository, and are never printed: Secret values show as
// "(stored, encrypted)" in fmt, slog and JSON output.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
)

// AuthKind says how a profile logs in to Salesforce.
type AuthKind string

// The login methods. Each needs different profile fields; Validate says
// which are missing.
const (
	// AuthJWT is the OAuth 2.0 JWT bearer flow: a connected app's client id,
	// a pre-authorised username and the app's RSA private key. The
	// recommended unattended method: no password or token is exchanged.
	AuthJWT AuthKind = "jwt"
	// AuthSFCLI reuses a login of the Salesforce CLI (`sf org display
	// --target-org ALIAS`); the profile stores only the alias.
	AuthSFCLI AuthKind = "sfcli"
	// AuthPassword is the OAuth username-password flow (client id, optional
	// client secret, username, password plus security token).
	AuthPassword AuthKind = "password"
	// AuthRefresh exchanges a stored refresh token for access tokens.
	AuthRefresh AuthKind = "refresh"
	// AuthClientCredentials logs in as a connected app's run-as user; the
	// login URL must be the org's My Domain.
	AuthClientCredentials AuthKind = "client-credentials"
	// AuthToken is a fixed access token; it stops working when the session
	// expires.
	AuthToken AuthKind = "token"
)

// AuthKinds lists every AuthKind, in the order help texts show them.
var AuthKinds = []AuthKind{AuthJWT, AuthSFCLI, AuthPassword, AuthRefresh, AuthClientCredentials, AuthToken}

// Describe is a short human description of the login method.
func (k AuthKind) Describe() string {
	switch k {
	case AuthJWT:
		return "OAuth JWT bearer flow"
	case AuthSFCLI:
		return "Salesforce CLI login"
	case AuthPassword:
		return "OAuth username-password flow"
	case AuthRefresh:
		return "OAuth refresh token"
	case AuthClientCredentials:
		return "OAuth client-credentials flow"
	case AuthToken:
		return "fixed access token"
	}
	return "unknown login method"
}

// Redacted is how a stored secret is shown.
const Redacted = "(stored, encrypted)"

// Secret is a credential held in a profile. Its String, GoString, LogValue
// and MarshalJSON show Redacted instead of the value, so a Profile can be
// printed, logged or encoded as JSON without leaking it; only an explicit
// string(s) conversion reveals it. An empty Secret shows as "".
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the placeholder, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts a value but refuses the placeholder: JSON printed by
// `orgsnap org show --json` holds no secrets and must not be mistaken for a
// profile that does.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v == Redacted {
		return errors.New("secret is redacted: this JSON was printed for display and holds no credentials")
	}
	*s = Secret(v)
	return nil
}

// Profile is a named way to connect to one org. Non-secret fields are
// plain strings; credentials are Secrets. Which fields a profile needs
// depends on Auth (see Validate).
type Profile struct {
	Name string   `json:"name"`
	Auth AuthKind `json:"auth"`
	// InstanceURL is the org's URL (https://NAME.my.salesforce.com). Needed
	// by AuthToken; the other flows learn it from the login.
	InstanceURL string `json:"instance_url,omitempty"`
	// LoginURL is where OAuth flows get tokens. Empty means InstanceURL when
	// that is set (My Domain logins work for every flow), else
	// https://login.salesforce.com.
	LoginURL   string `json:"login_url,omitempty"`
	ClientID   string `json:"client_id,omitempty"` // connected app consumer key
	Username   string `json:"username,omitempty"`
	TargetOrg  string `json:"target_org,omitempty"`  // sf CLI alias or username (AuthSFCLI)
	APIVersion string `json:"api_version,omitempty"` // e.g. "62.0"; empty: sfapi.DefaultAPIVersion

	JWTKey       Secret `json:"jwt_key,omitempty"` // PEM RSA private key (AuthJWT)
	ClientSecret Secret `json:"client_secret,omitempty"`
	Password     Secret `json:"password,omitempty"` // password + security token (AuthPassword)
	RefreshToken Secret `json:"refresh_token,omitempty"`
	AccessToken  Secret `json:"access_token,omitempty"`
}

// String names the profile and its login without any secret.
func (p Profile) String() string {
	s := fmt.Sprintf("Profile{name=%s, auth=%s", p.Name, p.Auth)
	if p.Username != "" {
		s += ", user=" + p.Username
	}
	if p.TargetOrg != "" {
		s += ", target-org=" + p.TargetOrg
	}
	if p.UsesLoginURL() {
		s += ", login=" + p.EffectiveLoginURL()
	}
	if p.InstanceURL != "" {
		s += ", instance=" + p.InstanceURL
	}
	return s + "}"
}

// GoString keeps %#v from printing secrets.
func (p Profile) GoString() string { return p.String() }

// LogValue keeps slog from printing secrets.
func (p Profile) LogValue() slog.Value { return slog.StringValue(p.String()) }

// StoredSecrets names the credentials the profile holds ("password",
// "client secret", …), for display.
func (p Profile) StoredSecrets() []string {
	var out []string
	for _, s := range []struct {
		name string
		v    Secret
	}{{"JWT key", p.JWTKey}, {"client secret", p.ClientSecret}, {"password", p.Password},
		{"refresh token", p.RefreshToken}, {"access token", p.AccessToken}} {
		if s.v != "" {
			out = append(out, s.name)
		}
	}
	return out
}

// DefaultLoginURL is Salesforce's production login host.
const DefaultLoginURL = "https://login.salesforce.com"

// UsesLoginURL reports whether the profile logs in through an OAuth token
// endpoint (all but AuthSFCLI and AuthToken).
func (p Profile) UsesLoginURL() bool { return p.Auth != AuthSFCLI && p.Auth != AuthToken }

// EffectiveLoginURL is the URL the OAuth flows send token requests to.
func (p Profile) EffectiveLoginURL() string {
	switch {
	case p.LoginURL != "":
		return strings.TrimRight(p.LoginURL, "/")
	case p.InstanceURL != "":
		return strings.TrimRight(p.InstanceURL, "/")
	}
	return DefaultLoginURL
}

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidProfileName reports whether name can name a profile: the rules of
// ref names.
func ValidProfileName(name string) error {
	if !profileNameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("org profile name %q: use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit), e.g. prod or dev-sandbox", name)
	}
	return nil
}

// ErrMissingSecret marks Validate errors about a credential the profile
// lacks (as opposed to a wrong or missing setting), so that a caller can
// ask for it and validate again.
var ErrMissingSecret = errors.New("missing credential")

// Validate checks that the profile has what its login method needs, and
// that URLs, the API version and the JWT key are well-formed. Settings are
// checked before credentials, so a missing credential (ErrMissingSecret) is
// only reported once everything else is right.
func (p Profile) Validate() error {
	if err := ValidProfileName(p.Name); err != nil {
		return err
	}
	for _, u := range []struct{ flag, v string }{{"instance URL", p.InstanceURL}, {"login URL", p.LoginURL}} {
		if u.v == "" {
			continue
		}
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" {
			return fmt.Errorf("%s %q: give an absolute URL without a path, like https://example.my.salesforce.com", u.flag, u.v)
		}
	}
	if v := strings.TrimPrefix(p.APIVersion, "v"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 20 || !strings.Contains(v, ".") {
			return fmt.Errorf("API version %q: give a version like %s", p.APIVersion, sfapi.DefaultAPIVersion)
		}
	}
	need := func(what, v string) error {
		if v == "" {
			return fmt.Errorf("the %s needs %s", p.Auth.Describe(), what)
		}
		return nil
	}
	needSecret := func(what string, v Secret) error {
		if v == "" {
			return fmt.Errorf("%w: the %s needs %s", ErrMissingSecret, p.Auth.Describe(), what)
		}
		return nil
	}
	var errs []error
	switch p.Auth {
	case AuthJWT:
		errs = append(errs, need("a client id (the connected app's consumer key: --client-id)", p.ClientID), need("a username (--username)", p.Username))
		if p.JWTKey == "" {
			errs = append(errs, needSecret("the connected app's private key (PEM: --jwt-key FILE)", p.JWTKey))
		} else if _, err := sfapi.ParseRSAPrivateKey([]byte(p.JWTKey)); err != nil {
			errs = append(errs, fmt.Errorf("JWT key: %w", err))
		}
	case AuthSFCLI:
		errs = append(errs, need("the alias or username of an sf CLI login (--target-org; see `sf org list`)", p.TargetOrg))
	case AuthPassword:
		errs = append(errs, need("a client id (the connected app's consumer key: --client-id)", p.ClientID), need("a username (--username)", p.Username),
			needSecret("the user's password (followed by the security token if the IP is not trusted)", p.Password))
	case AuthRefresh:
		errs = append(errs, need("a client id (the connected app's consumer key: --client-id)", p.ClientID),
			needSecret("a refresh token", p.RefreshToken))
	case AuthClientCredentials:
		errs = append(errs, need("a client id (the connected app's consumer key: --client-id)", p.ClientID))
		if p.LoginURL == "" && p.InstanceURL == "" {
			errs = append(errs, errors.New("the OAuth client-credentials flow needs the org's My Domain URL (https://NAME.my.salesforce.com) as --instance-url or --login-url"))
		}
		errs = append(errs, needSecret("the client secret (the connected app's consumer secret)", p.ClientSecret))
	case AuthToken:
		errs = append(errs, need("the instance URL the token belongs to (--instance-url)", p.InstanceURL), needSecret("an access token", p.AccessToken))
	case "":
		return errors.New("the profile has no login method")
	default:
		return fmt.Errorf("login method %q is unknown; use one of %s", p.Auth, joinKinds())
	}
	// Settings first, credentials last (see ErrMissingSecret).
	var missing error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, ErrMissingSecret):
			if missing == nil {
				missing = err
			}
		default:
			return err
		}
	}
	return missing
}

func joinKinds() string {
	s := make([]string, len(AuthKinds))
	for i, k := range AuthKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// storedProfile is the profile as it is sealed into the repository: the
// same fields as Profile with the secrets in clear (Profile's own JSON
// redacts them). Only MarshalProfile and UnmarshalProfile use it.
type storedProfile struct {
	Version      int      `json:"v"`
	Name         string   `json:"name"`
	Auth         AuthKind `json:"auth"`
	InstanceURL  string   `json:"instance_url,omitempty"`
	LoginURL     string   `json:"login_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	Username     string   `json:"username,omitempty"`
	TargetOrg    string   `json:"target_org,omitempty"`
	APIVersion   string   `json:"api_version,omitempty"`
	JWTKey       string   `json:"jwt_key,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Password     string   `json:"password,omitempty"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	AccessToken  string   `json:"access_token,omitempty"`
}

const profileVersion = 1

// MarshalProfile encodes p with its secrets, for sealed storage only.
func MarshalProfile(p Profile) ([]byte, error) {
	return json.Marshal(storedProfile{
		Version: profileVersion, Name: p.Name, Auth: p.Auth, InstanceURL: p.InstanceURL, LoginURL: p.LoginURL,
		ClientID: p.ClientID, Username: p.Username, TargetOrg: p.TargetOrg, APIVersion: p.APIVersion,
		JWTKey: string(p.JWTKey), ClientSecret: string(p.ClientSecret), Password: string(p.Password),
		RefreshToken: string(p.RefreshToken), AccessToken: string(p.AccessToken),
	})
}

// UnmarshalProfile decodes what MarshalProfile encoded.
func UnmarshalProfile(data []byte) (Profile, error) {
	var s storedProfile
	if err := json.Unmarshal(data, &s); err != nil {
		return Profile{}, fmt.Errorf("org profile is not valid JSON: %w", err)
	}
	if s.Version != profileVersion {
		return Profile{}, fmt.Errorf("org profile format %d is not one this orgsnap reads (%d): upgrade orgsnap", s.Version, profileVersion)
	}
	return Profile{
		Name: s.Name, Auth: s.Auth, InstanceURL: s.InstanceURL, LoginURL: s.LoginURL,
		ClientID: s.ClientID, Username: s.Username, TargetOrg: s.TargetOrg, APIVersion: s.APIVersion,
		JWTKey: Secret(s.JWTKey), ClientSecret: Secret(s.ClientSecret), Password: Secret(s.Password),
		RefreshToken: Secret(s.RefreshToken), AccessToken: Secret(s.AccessToken),
	}, nil
}

// profileSettingPrefix: profile NAME is the repository setting "org/NAME".
const profileSettingPrefix = "org/"

// SaveProfile validates p and stores it in the repository, replacing a
// profile of the same name.
func SaveProfile(ctx context.Context, r *repo.Repository, p Profile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("org profile %q: %w", p.Name, err)
	}
	data, err := MarshalProfile(p)
	if err != nil {
		return err
	}
	defer clear(data)
	return r.SaveSetting(ctx, profileSettingPrefix+p.Name, data)
}

// LoadProfile reads the profile called name. A missing profile is an error
// wrapping repo.ErrNotFound.
func LoadProfile(ctx context.Context, r *repo.Repository, name string) (Profile, error) {
	if err := ValidProfileName(name); err != nil {
		return Profile{}, err
	}
	data, err := r.LoadSetting(ctx, profileSettingPrefix+name)
	if errors.Is(err, repo.ErrNotFound) {
		return Profile{}, fmt.Errorf("org profile %q: %w (see `orgsnap org list`, or add it with `orgsnap org add %s …`)", name, repo.ErrNotFound, name)
	}
	if err != nil {
		return Profile{}, fmt.Errorf("org profile %q: %w", name, err)
	}
	defer clear(data)
	p, err := UnmarshalProfile(data)
	if err != nil {
		return Profile{}, fmt.Errorf("org profile %q: %w", name, err)
	}
	if p.Name != name {
		return Profile{}, fmt.Errorf("org profile %q: the stored profile is called %q", name, p.Name)
	}
	return p, nil
}

// Profiles returns every profile, sorted by name. Settings files that do not
// authenticate cannot be told apart from profiles, so when there are any
// the profiles that could be read are returned with an error saying so
// (`orgsnap check` names the files).
func Profiles(ctx context.Context, r *repo.Repository) ([]Profile, error) {
	bad := 0
	names, err := r.Settings(ctx, func(string, error) { bad++ })
	if err != nil {
		return nil, err
	}
	var out []Profile
	var errs []error
	for _, n := range names {
		name, ok := strings.CutPrefix(n, profileSettingPrefix)
		if !ok {
			continue
		}
		p, err := LoadProfile(ctx, r, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if bad > 0 {
		errs = append(errs, fmt.Errorf("%d settings files are unreadable and may hold org profiles: run `orgsnap check`", bad))
	}
	return out, errors.Join(errs...)
}

// RemoveProfile deletes the profile called name; a missing one is an error
// wrapping repo.ErrNotFound. Snapshots taken with it are not affected.
func RemoveProfile(ctx context.Context, r *repo.Repository, name string) error {
	if err := ValidProfileName(name); err != nil {
		return err
	}
	if err := r.DeleteSetting(ctx, profileSettingPrefix+name); err != nil {
		if errors.Is(err, repo.ErrNotFound) {
			return fmt.Errorf("org profile %q: %w (see `orgsnap org list`)", name, repo.ErrNotFound)
		}
		return err
	}
	return nil
}

// ClientOptions tune the client a profile builds. The zero value works.
type ClientOptions struct {
	// HTTPClient sends token requests and API calls; nil builds one on
	// Transport (or http.DefaultTransport).
	HTTPClient *http.Client
	Transport  http.RoundTripper
	Logger     sfapi.Logger
	// Concurrency caps in-flight requests per API family.
	Concurrency sfapi.Concurrency
	// RunCommand runs the Salesforce CLI for AuthSFCLI profiles; nil runs
	// the real `sf` (tests fake it).
	RunCommand sfapi.CommandRunner
	// ClientName is sent as Sforce-Call-Options client=…; default "orgsnap".
	ClientName string
	// Repository, when set, is where a refresh token the org rotates is
	// saved back into the profile: after a rotation the old token no longer
	// works, so losing the new one would break the next run.
	Repository *repo.Repository
}

// Client builds a Salesforce client that logs in the profile's way. No
// request is sent until the client is used.
func (p Profile) Client(ctx context.Context, opts ClientOptions) (*sfapi.Client, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("org profile %q: %w", p.Name, err)
	}
	hc := opts.HTTPClient
	if hc == nil {
		rt := opts.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		hc = &http.Client{Transport: rt}
	}
	src, err := p.tokenSource(ctx, hc, opts)
	if err != nil {
		return nil, fmt.Errorf("org profile %q: %w", p.Name, err)
	}
	name := opts.ClientName
	if name == "" {
		name = "orgsnap"
	}
	return sfapi.New(sfapi.Config{
		Auth:        src,
		InstanceURL: p.InstanceURL,
		APIVersion:  p.APIVersion,
		HTTPClient:  hc,
		Logger:      opts.Logger,
		Concurrency: opts.Concurrency,
		ClientName:  name,
	})
}

func (p Profile) tokenSource(ctx context.Context, hc *http.Client, opts ClientOptions) (sfapi.TokenSource, error) {
	oauth := sfapi.OAuth{LoginURL: p.EffectiveLoginURL(), ClientID: p.ClientID, ClientSecret: string(p.ClientSecret), HTTPClient: hc}
	switch p.Auth {
	case AuthJWT:
		key, err := sfapi.ParseRSAPrivateKey([]byte(p.JWTKey))
		if err != nil {
			return nil, fmt.Errorf("JWT key: %w", err)
		}
		oauth.ClientSecret = "" // the JWT flow never sends it
		return &sfapi.JWTFlow{OAuth: oauth, Username: p.Username, Key: key}, nil
	case AuthSFCLI:
		return &sfapi.SFCLI{TargetOrg: p.TargetOrg, Run: opts.RunCommand}, nil
	case AuthPassword:
		return &sfapi.PasswordFlow{OAuth: oauth, Username: p.Username, Password: string(p.Password)}, nil
	case AuthRefresh:
		f := &sfapi.RefreshTokenFlow{OAuth: oauth, RefreshToken: string(p.RefreshToken)}
		if r := opts.Repository; r != nil {
			// The save must outlive a cancelled run: the rotation has
			// already happened at Salesforce.
			saveCtx := context.WithoutCancel(ctx)
			f.OnRotate = func(tok string) {
				q := p
				q.RefreshToken = Secret(tok)
				if err := SaveProfile(saveCtx, r, q); err != nil && opts.Logger != nil {
					opts.Logger.Warn("saving the rotated refresh token failed; re-add the profile if the next run cannot log in",
						"profile", p.Name, "err", err)
				}
			}
		}
		return f, nil
	case AuthClientCredentials:
		return &sfapi.ClientCredentialsFlow{OAuth: oauth}, nil
	case AuthToken:
		return sfapi.StaticToken{AccessToken: string(p.AccessToken), InstanceURL: p.InstanceURL}, nil
	}
	return nil, fmt.Errorf("login method %q is unknown", p.Auth)
}

// OrgInfo is what Probe learns about the org a client reaches.
type OrgInfo struct {
	OrgID       string `json:"org_id"`
	OrgName     string `json:"org_name,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	InstanceURL string `json:"instance_url"`
	APIVersion  string `json:"api_version"`
	// DailyApiRequests: used and allowed in the rolling 24 hours; Max is 0
	// when the org did not say.
	APIUsed int64 `json:"api_requests_used"`
	APIMax  int64 `json:"api_requests_max"`
}

// Probe logs in and asks the org who it is and how much of its daily API
// allocation is used: the check behind `orgsnap org test`. It costs three
// or four API requests.
func Probe(ctx context.Context, c *sfapi.Client) (*OrgInfo, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	info := &OrgInfo{InstanceURL: tok.InstanceURL, APIVersion: c.APIVersion(), OrgID: tok.OrgID(), UserID: tok.UserID()}
	page, err := c.QueryFirst(ctx, "SELECT Id, Name FROM Organization LIMIT 1", nil)
	if err != nil {
		return nil, fmt.Errorf("reading the Organization record: %w", err)
	}
	if len(page.Records) == 1 {
		var org struct{ Id, Name string }
		if err := page.Records[0].Decode(&org); err == nil {
			info.OrgID, info.OrgName = org.Id, org.Name
		}
	}
	// The user is known only from an identity URL, which the sf CLI and
	// fixed tokens do not give; Id validation also keeps the SOQL safe.
	if info.UserID != "" && sfapi.ValidateID(info.UserID) == nil {
		page, err := c.QueryFirst(ctx, "SELECT Username FROM User WHERE Id = '"+info.UserID+"'", nil)
		if err == nil && len(page.Records) == 1 {
			var u struct{ Username string }
			if page.Records[0].Decode(&u) == nil {
				info.Username = u.Username
			}
		}
	}
	if lim, err := c.OrgLimits(ctx); err == nil {
		if l, ok := lim["DailyApiRequests"]; ok {
			info.APIUsed, info.APIMax = l.Max-l.Remaining, l.Max
		}
	}
	if info.APIMax == 0 {
		// Without permission to read /limits, the usage header every
		// response carries says the same.
		u := c.Limits().Usage()
		info.APIUsed, info.APIMax = u.Used, u.Max
	}
	if info.InstanceURL == "" {
		info.InstanceURL = "(unknown)"
	}
	return info, nil
}
