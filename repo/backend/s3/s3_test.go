package s3_test

import (
	"testing"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/backendtest"
	"github.com/orgsnap/orgsnap/repo/backend/s3/s3test"
)

// gofakes3 in this process, plain http, multipart for files over 6 MiB.
func TestFake(t *testing.T) {
	srv := s3test.Fake(t)
	srv.Config.MultipartThreshold, srv.Config.PartSize = 6<<20, 5<<20
	backendtest.Run(t, func(t *testing.T) backend.Backend { return srv.NewBackend(t) })
}

// A real versitygw, plain http: signatures, conditional writes and paging
// as a server implements them.
func TestVersity(t *testing.T) {
	srv := s3test.Versity(t, false)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return srv.NewBackend(t) })
}

// The same over https with multipart uploads: only TLS exercises the
// aws-chunked uploads with trailing checksums that real S3 gets.
func TestVersityTLS(t *testing.T) {
	srv := s3test.Versity(t, true)
	srv.Config.MultipartThreshold, srv.Config.PartSize = 6<<20, 5<<20
	backendtest.Run(t, func(t *testing.T) backend.Backend { return srv.NewBackend(t) })
}
