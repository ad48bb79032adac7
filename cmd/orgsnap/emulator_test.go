package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// emulatorRepo starts an emulated org and makes an empty repository
// (password "pw", which ORGSNAP_PASSWORD is set to) and a client of the
// org on the org's clock, for tests that snapshot through backup.Run and
// then run commands on the repository.
func emulatorRepo(t *testing.T, opts sftest.Options) (*sftest.Server, string, *sfapi.Client) {
	t.Helper()
	t.Setenv("ORGSNAP_PASSWORD", "pw")
	srv := sftest.NewServer(opts)
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := repo.Init(context.Background(), dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	client, err := sfapi.New(sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock: sftest.ClientClock{Org: srv.Org, MaxSleep: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, dir, client
}
