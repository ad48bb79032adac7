// Package orgtest is the shared scaffolding of tests that run against the
// emulated org (sfapi/sftest) and a real repository: a client of the
// emulator, and an empty repository to write into. It is for tests only.
package orgtest

import (
	"context"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// Password opens the repositories NewRepo makes.
const Password = "pw"

// halfRand makes the client's retry jitter deterministic.
type halfRand struct{}

func (halfRand) Float64() float64 { return 0.5 }

// Client connects to the emulator at url as a new process would, on clock
// (sftest.ClientClock for the org's time), retrying patiently (tests inject
// faults).
func Client(t testing.TB, url string, clock sfapi.Clock) *sfapi.Client {
	t.Helper()
	c, err := sfapi.New(sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: url, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock: clock, Rand: halfRand{},
		Retry: sfapi.RetryPolicy{MaxAttempts: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// OrgClient is Client on the org's own clock (sleeps bounded to 1 ms).
func OrgClient(t testing.TB, srv *sftest.Server) *sfapi.Client {
	t.Helper()
	return Client(t, srv.URL, sftest.ClientClock{Org: srv.Org, MaxSleep: time.Millisecond})
}

// NewRepo makes an empty repository (opened by Password) in a temporary
// directory and returns the directory.
func NewRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	r, err := repo.Init(context.Background(), dir, repo.Options{Password: []byte(Password), KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return dir
}

// Open opens a repository NewRepo made.
func Open(t testing.TB, dir string) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte(Password)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
