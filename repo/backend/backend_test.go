package backend_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"testing"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/backendtest"
	"github.com/orgsnap/orgsnap/repo/backend/faulty"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/backend/mem"
	"github.com/orgsnap/orgsnap/repo/backend/retry"
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

// The retry decorator over a backend where every other save writes the file
// and then reports failure (the outcome of a lost reply) and every fifth
// other call fails must still pass the whole suite, conditional saves
// included.
func TestRetryOverFaults(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		var mu sync.Mutex
		saves := 0
		flaky := faulty.Wrap(mem.New(), func(n int, op faulty.Op, h backend.Handle) (bool, bool) {
			if op != faulty.OpSave {
				return n%5 == 0, false
			}
			mu.Lock()
			defer mu.Unlock()
			saves++
			return saves%2 == 1, true
		})
		return retry.Wrap(flaky, retry.Policy{Sleep: func(context.Context, time.Duration) error { return nil }})
	})
}

// Answers and permanent failures are not retried.
func TestRetryGivesUp(t *testing.T) {
	calls := 0
	flaky := faulty.Wrap(mem.New(), func(n int, op faulty.Op, h backend.Handle) (bool, bool) {
		calls++
		return false, false
	})
	b := retry.Wrap(flaky, retry.Policy{Sleep: func(context.Context, time.Duration) error { return nil }})
	ctx := context.Background()
	if _, err := b.Load(ctx, backend.Handle{Type: backend.Refs, Name: "none"}, 0, -1); !backend.IsNotExist(err) || calls != 1 {
		t.Fatalf("load of a missing file: %v after %d calls, want ErrNotExist after 1", err, calls)
	}
	calls = 0
	flaky.SetRule(func(n int, op faulty.Op, h backend.Handle) (bool, bool) { calls++; return true, false })
	if err := b.Save(ctx, backend.Handle{Type: backend.Refs, Name: "x"}, nil, backend.SaveOptions{}); !errors.Is(err, faulty.ErrInjected) || calls != 6 {
		t.Fatalf("save on a dead backend: %v after %d calls, want the injected error after 6", err, calls)
	}
}
