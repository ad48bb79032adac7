package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// runErr executes the CLI in-process and returns its output, exit code and
// the error main would print.
func runErr(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	app := newApp()
	var buf bytes.Buffer
	app.Writer = &buf
	err := runApp(context.Background(), app, append([]string{"orgsnap"}, args...))
	return buf.String(), exitCode(err), err
}

// TestOrgProfilesAgainstEmulator follows the guide: a dev org served by the
// emulator is added with the password flow (credentials from the
// environment), listed, shown, tested and removed through the CLI, and no
// credential ever reaches the repository directory in plain text.
func TestOrgProfilesAgainstEmulator(t *testing.T) {
	t.Setenv("ORGSNAP_TEST_FAST_KDF", "1")
	t.Setenv("ORGSNAP_PASSWORD", "repo-password")
	dir := filepath.Join(t.TempDir(), "repo")
	if out, code := run(t, "--repo", dir, "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, out)
	}
	srv := sftest.NewServer(sftest.Options{Seed: 7, Records: 300})
	defer srv.Close()

	// The JWT key the second profile uses; its body must not leak either.
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	keyFile := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv(envSFPassword, sftest.DefaultPassword)
	t.Setenv(envSFClientSecret, sftest.DefaultClientSecret)
	add := []string{"--repo", dir, "org", "add", "dev", "--login-url", srv.URL, "--username", "admin@orgsnap.test",
		"--client-id", sftest.DefaultClientID}
	out, code, err := runErr(t, add...)
	if code != exitOK || !strings.Contains(out, "added org profile dev: OAuth username-password flow as admin@orgsnap.test") ||
		!strings.Contains(out, "stored encrypted in the repository: client secret, password") {
		t.Fatalf("org add: %d %v\n%s", code, err, out)
	}
	if _, code, err := runErr(t, add...); code != exitError || !strings.Contains(err.Error(), "already exists: pass --force") {
		t.Fatalf("second add: %d %v", code, err)
	}
	// Flags may come before and after NAME.
	force := append([]string{"--repo", dir, "org", "add", "--force", "--client-id", sftest.DefaultClientID, "dev"}, add[5:]...)
	if out, code, err := runErr(t, force...); code != exitOK || !strings.Contains(out, "added org profile dev") {
		t.Fatalf("add --force: %d %v %s", code, err, out)
	}
	if out, code, err := runErr(t, "--repo", dir, "org", "add", "prod", "--instance-url", srv.URL, "--client-id", sftest.DefaultClientID,
		"--jwt-key", keyFile, "--username", "admin@orgsnap.test"); code != exitOK || !strings.Contains(out, "OAuth JWT bearer flow") {
		t.Fatalf("add jwt: %d %v %s", code, err, out)
	}
	if out, code, err := runErr(t, "--repo", dir, "org", "add", "cli", "--target-org", "my-alias"); code != exitOK || !strings.Contains(out, `Salesforce CLI login "my-alias"`) {
		t.Fatalf("add sfcli: %d %v %s", code, err, out)
	}

	// Mistakes are usage errors that say what to do, found before anything is stored.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"org", "add", "x"}, "say how to log in"},
		{[]string{"org", "add", "../x", "--target-org", "a"}, "org profile name"},
		{[]string{"org", "add", "x", "--target-org", "a", "--username", "u"}, "--username does not apply"},
		{[]string{"org", "add", "x", "--auth", "saml"}, "use one of jwt|sfcli|password"},
		{[]string{"org", "add", "x", "--username", "u"}, "needs a client id"},
		{[]string{"org", "add", "x", "--jwt-key", "/nonexistent", "--client-id", "c", "--username", "u"}, "--jwt-key"},
		{[]string{"org", "add", "x", "--auth", "token", "--instance-url", srv.URL}, "set " + envSFAccessToken},
		{[]string{"org", "show"}, "takes one profile NAME"},
	} {
		_, code, err := runErr(t, append([]string{"--repo", dir}, bad.args...)...)
		if code == exitOK || err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %d %v (want %q)", bad.args, code, err, bad.want)
		}
	}

	out, code = run(t, "--repo", dir, "org", "list")
	if code != exitOK || !strings.Contains(out, "dev   password") || !strings.Contains(out, "prod  jwt") || !strings.Contains(out, "cli   sfcli") {
		t.Fatalf("org list: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"--json", "org", "list"}, {"org", "list", "--json"}} {
		out, code = run(t, append([]string{"--repo", dir}, args...)...)
		var list []map[string]any
		if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 || list[1]["name"] != "dev" ||
			list[1]["password"] != "(stored, encrypted)" || list[1]["login_url"] != srv.URL {
			t.Fatalf("org list %v: %d\n%s", args, code, out)
		}
	}
	out, code = run(t, "--repo", dir, "org", "show", "dev")
	if code != exitOK || !strings.Contains(out, "password:      (stored, encrypted)") || !strings.Contains(out, "client id:     "+sftest.DefaultClientID) {
		t.Fatalf("org show: %d\n%s", code, out)
	}
	out, code = run(t, "--repo", dir, "org", "show", "prod", "--json")
	if code != exitOK || !strings.Contains(out, `"jwt_key": "(stored, encrypted)"`) {
		t.Fatalf("org show --json: %d\n%s", code, out)
	}

	for _, name := range []string{"dev", "prod"} {
		out, code, err = runErr(t, "--repo", dir, "org", "test", name)
		if code != exitOK || !strings.Contains(out, "org:           "+srv.Org.ID()+" (") || !strings.Contains(out, "user:          admin@orgsnap.test (005") ||
			!strings.Contains(out, "instance URL:  "+srv.URL) || !strings.Contains(out, "used in the last 24 hours") {
			t.Fatalf("org test %s: %d %v\n%s", name, code, err, out)
		}
	}
	out, code = run(t, "--repo", dir, "--json", "org", "test", "dev")
	var info map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &info) != nil || info["org_id"] != srv.Org.ID() || info["profile"] != "dev" || info["api_requests_max"].(float64) <= 0 {
		t.Fatalf("org test --json: %d\n%s", code, out)
	}

	// A wrong password fails the test with Salesforce's message and a hint,
	// and is not echoed.
	t.Setenv(envSFPassword, "wrong-password-1234")
	if _, code, err := runErr(t, "--repo", dir, "org", "add", "bad", "--login-url", srv.URL, "--username", "admin@orgsnap.test", "--client-id", sftest.DefaultClientID); code != exitOK {
		t.Fatalf("add bad: %d %v", code, err)
	}
	_, code, err = runErr(t, "--repo", dir, "org", "test", "bad")
	if code != exitError || !strings.Contains(err.Error(), "authentication failure") || !strings.Contains(err.Error(), "orgsnap org show bad") ||
		strings.Contains(err.Error(), "wrong-password-1234") {
		t.Fatalf("org test with a wrong password: %d %v", code, err)
	}

	// Nothing secret, in any file of the repository.
	secrets := [][]byte{[]byte(sftest.DefaultPassword), []byte(sftest.DefaultClientSecret), []byte("wrong-password-1234"),
		keyPEM[len(keyPEM)/2 : len(keyPEM)/2+40], []byte("admin@orgsnap.test"), []byte("my-alias")}
	files := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		files++
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains %q in plain text", p, s)
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no files under the repository")
	}

	if out, code := run(t, "--repo", dir, "--json", "check", "--read-data"); code != exitOK || !strings.Contains(out, `"settings": 4`) {
		t.Fatalf("check: %d\n%s", code, out)
	}
	if out, code := run(t, "--repo", dir, "org", "remove", "dev"); code != exitOK || !strings.Contains(out, "removed org profile dev") {
		t.Fatalf("org remove: %d %s", code, out)
	}
	if _, code, err := runErr(t, "--repo", dir, "org", "show", "dev"); code != exitError || !strings.Contains(err.Error(), "not found (see `orgsnap org list`") {
		t.Fatalf("show removed: %d %v", code, err)
	}
	if _, code, _ := runErr(t, "--repo", dir, "org", "remove", "dev"); code != exitError {
		t.Fatalf("remove twice: %d", code)
	}
	if out, code := run(t, "--repo", dir, "org", "list"); code != exitOK || strings.Contains(out, "dev ") || !strings.Contains(out, "prod") {
		t.Fatalf("list after remove: %d\n%s", code, out)
	}
}
