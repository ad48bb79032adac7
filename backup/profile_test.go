package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

func testRepo(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Init(context.Background(), t.TempDir(), repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rsaKeyPair returns a PKCS#8 private key PEM and its PKIX public key PEM.
func rsaKeyPair(t *testing.T) (priv, pub []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pder, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder})
}

func TestSecretsNeverPrinted(t *testing.T) {
	p := Profile{Name: "prod", Auth: AuthPassword, LoginURL: "https://login.salesforce.com", ClientID: "cid",
		Username: "u@example.com", Password: "pw-SECRET-1", ClientSecret: "cs-SECRET-2",
		RefreshToken: "rt-SECRET-3", AccessToken: "at-SECRET-4", JWTKey: "jwt-SECRET-5"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "profile", p, "pw", p.Password)
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, p.Password),
		fmt.Sprintf("%v %#v", &p, p.ClientSecret), string(js), logged.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if !strings.Contains(string(js), `"password":"(stored, encrypted)"`) {
		t.Errorf("json: %s", js)
	}
	// Display JSON cannot be read back as a profile with credentials.
	var back Profile
	if err := json.Unmarshal(js, &back); err == nil {
		t.Fatal("redacted JSON accepted as a profile")
	}
	// The storage encoding round-trips everything.
	data, err := MarshalProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalProfile(data)
	if err != nil || got != p {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if got := p.StoredSecrets(); len(got) != 5 {
		t.Fatalf("stored secrets: %v", got)
	}
}

func TestValidate(t *testing.T) {
	priv, _ := rsaKeyPair(t)
	ok := []Profile{
		{Name: "prod", Auth: AuthJWT, InstanceURL: "https://acme.my.salesforce.com", ClientID: "c", Username: "u", JWTKey: Secret(priv)},
		{Name: "dev", Auth: AuthSFCLI, TargetOrg: "my-dev"},
		{Name: "emu", Auth: AuthPassword, LoginURL: "http://127.0.0.1:8642", ClientID: "c", Username: "u", Password: "p", APIVersion: "62.0"},
		{Name: "r", Auth: AuthRefresh, ClientID: "c", RefreshToken: "t"},
		{Name: "cc", Auth: AuthClientCredentials, LoginURL: "https://acme.my.salesforce.com", ClientID: "c", ClientSecret: "s"},
		{Name: "t", Auth: AuthToken, InstanceURL: "https://acme.my.salesforce.com", AccessToken: "00D!x"},
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	bad := []struct {
		p       Profile
		want    string
		missing bool
	}{
		{Profile{Name: "-x", Auth: AuthSFCLI, TargetOrg: "a"}, "org profile name", false},
		{Profile{Name: "a", Auth: "saml"}, "unknown", false},
		{Profile{Name: "a"}, "no login method", false},
		{Profile{Name: "a", Auth: AuthSFCLI}, "sf CLI login", false},
		{Profile{Name: "a", Auth: AuthJWT, ClientID: "c", Username: "u"}, "private key", true},
		{Profile{Name: "a", Auth: AuthJWT, ClientID: "c", Username: "u", JWTKey: "not a key"}, "no PEM private key", false},
		// A missing setting is reported before a missing credential.
		{Profile{Name: "a", Auth: AuthPassword, ClientID: "c"}, "needs a username", false},
		{Profile{Name: "a", Auth: AuthPassword, ClientID: "c", Username: "u"}, "password", true},
		{Profile{Name: "a", Auth: AuthPassword, Username: "u", Password: "p"}, "client id", false},
		{Profile{Name: "a", Auth: AuthClientCredentials, ClientID: "c", ClientSecret: "s"}, "My Domain", false},
		{Profile{Name: "a", Auth: AuthToken, AccessToken: "x"}, "instance URL", false},
		{Profile{Name: "a", Auth: AuthSFCLI, TargetOrg: "x", InstanceURL: "acme.my.salesforce.com"}, "absolute URL", false},
		{Profile{Name: "a", Auth: AuthSFCLI, TargetOrg: "x", LoginURL: "https://x/services"}, "without a path", false},
		{Profile{Name: "a", Auth: AuthSFCLI, TargetOrg: "x", APIVersion: "latest"}, "API version", false},
	}
	for _, b := range bad {
		err := b.p.Validate()
		if err == nil || !strings.Contains(err.Error(), b.want) || errors.Is(err, ErrMissingSecret) != b.missing {
			t.Errorf("%+v: %v (want %q, missing=%v)", b.p, err, b.want, b.missing)
		}
	}
}

func TestProfileStore(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	if ps, err := Profiles(ctx, r); err != nil || len(ps) != 0 {
		t.Fatalf("empty: %v %v", ps, err)
	}
	if _, err := LoadProfile(ctx, r, "prod"); !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), "orgsnap org add prod") {
		t.Fatalf("missing: %v", err)
	}
	if err := SaveProfile(ctx, r, Profile{Name: "bad", Auth: AuthPassword}); err == nil {
		t.Fatal("invalid profile saved")
	}
	a := Profile{Name: "prod", Auth: AuthSFCLI, TargetOrg: "acme"}
	b := Profile{Name: "dev", Auth: AuthToken, InstanceURL: "https://x.my.salesforce.com", AccessToken: "tok"}
	for _, p := range []Profile{a, b} {
		if err := SaveProfile(ctx, r, p); err != nil {
			t.Fatal(err)
		}
	}
	// Other settings are not profiles.
	if err := r.SaveSetting(ctx, "retention", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	ps, err := Profiles(ctx, r)
	if err != nil || len(ps) != 2 || ps[0] != b || ps[1] != a {
		t.Fatalf("profiles: %v %v", ps, err)
	}
	if got, err := LoadProfile(ctx, r, "dev"); err != nil || got != b {
		t.Fatalf("load: %v %v", got, err)
	}
	if err := RemoveProfile(ctx, r, "dev"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveProfile(ctx, r, "dev"); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if ps, _ := Profiles(ctx, r); len(ps) != 1 {
		t.Fatalf("after remove: %v", ps)
	}
}

// Every login method reaches the emulator through Profile.Client, and
// Probe reports the org.
func TestProfileClientAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	priv, pub := rsaKeyPair(t)
	srv := sftest.NewServer(sftest.Options{Seed: 3, Records: 200, JWTPublicKeyPEM: pub})
	defer srv.Close()
	fakeSF := func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name != "sf" || strings.Join(args, " ") != "org display --json --target-org emu" {
			return nil, fmt.Errorf("unexpected command %s %v", name, args)
		}
		return json.Marshal(map[string]any{"status": 0, "result": map[string]string{
			"accessToken": srv.Token, "instanceUrl": srv.URL, "username": "admin@orgsnap.test"}})
	}
	profiles := []Profile{
		{Name: "jwt", Auth: AuthJWT, InstanceURL: srv.URL, ClientID: sftest.DefaultClientID, Username: "admin@orgsnap.test", JWTKey: Secret(priv)},
		{Name: "sfcli", Auth: AuthSFCLI, TargetOrg: "emu"},
		{Name: "password", Auth: AuthPassword, LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret, Username: "admin@orgsnap.test", Password: sftest.DefaultPassword},
		{Name: "refresh", Auth: AuthRefresh, LoginURL: srv.URL, ClientID: sftest.DefaultClientID, RefreshToken: sftest.DefaultRefreshToken},
		{Name: "cc", Auth: AuthClientCredentials, InstanceURL: srv.URL, ClientID: sftest.DefaultClientID, ClientSecret: sftest.DefaultClientSecret},
		{Name: "token", Auth: AuthToken, InstanceURL: srv.URL, AccessToken: Secret(srv.Token), APIVersion: "60.0"},
	}
	for _, p := range profiles {
		c, err := p.Client(ctx, ClientOptions{RunCommand: fakeSF})
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		info, err := Probe(ctx, c)
		if err != nil {
			t.Fatalf("%s: probe: %v", p.Name, err)
		}
		if info.OrgID != srv.Org.ID() || info.OrgName == "" || info.InstanceURL != srv.URL || info.APIMax == 0 || info.APIUsed == 0 {
			t.Errorf("%s: %+v", p.Name, info)
		}
		if oauth := p.Auth != AuthSFCLI && p.Auth != AuthToken; oauth && info.Username != "admin@orgsnap.test" {
			t.Errorf("%s: user %+v", p.Name, info)
		}
	}
	if c, _ := profiles[5].Client(ctx, ClientOptions{}); c.APIVersion() != "60.0" {
		t.Errorf("API version: %s", c.APIVersion())
	}

	// Wrong credentials fail with the flow's error, secret-free.
	wrong := profiles[2]
	wrong.Password = "not-the-password"
	c, _ := wrong.Client(ctx, ClientOptions{})
	if _, err := Probe(ctx, c); err == nil || !strings.Contains(err.Error(), "authentication failure") || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("wrong password: %v", err)
	}
}

// A refresh token rotated by the org is saved back into the profile.
func TestRefreshTokenRotationIsSaved(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	var base string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		if req.URL.Path != "/services/oauth2/token" || req.PostForm.Get("refresh_token") != "old-rt" {
			http.Error(w, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`, 400)
			return
		}
		fmt.Fprintf(w, `{"access_token":"00D000000000001!AQnew","instance_url":%q,"refresh_token":"new-rt"}`, base)
	}))
	defer ts.Close()
	base = ts.URL
	p := Profile{Name: "rot", Auth: AuthRefresh, LoginURL: ts.URL, ClientID: "cid", RefreshToken: "old-rt"}
	if err := SaveProfile(ctx, r, p); err != nil {
		t.Fatal(err)
	}
	c, err := p.Client(ctx, ClientOptions{Repository: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := LoadProfile(ctx, r, "rot")
	if err != nil || got.RefreshToken != "new-rt" {
		t.Fatalf("after rotation: %q %v", string(got.RefreshToken), err)
	}
}
