package main

import (
	"testing"

	"github.com/orgsnap/orgsnap/internal/orgtest"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// emulatorRepo starts an emulated org and makes an empty repository
// (password "pw", which ORGSNAP_PASSWORD is set to) and a client of the
// org on the org's clock, for tests that snapshot through backup.Run and
// then run commands on the repository.
func emulatorRepo(t *testing.T, opts sftest.Options) (*sftest.Server, string, *sfapi.Client) {
	t.Helper()
	t.Setenv("ORGSNAP_PASSWORD", orgtest.Password)
	srv := sftest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv, orgtest.NewRepo(t), orgtest.OrgClient(t, srv)
}
