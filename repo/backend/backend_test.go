package backend_test

import (
	"testing"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/backendtest"
	"github.com/orgsnap/orgsnap/repo/backend/faulty"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/backend/mem"
)

func TestLocal(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := local.Open(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestMem(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
}

// The fault wrapper with no rule must be transparent.
func TestFaultyPassThrough(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return faulty.Wrap(mem.New(), nil) })
}
