// Package faulty wraps a backend and makes chosen operations fail, to test
// that the repository survives crashes and storage errors at every point.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// ErrInjected is the error the wrapper injects.
var ErrInjected = errors.New("injected storage fault")

// Op names a backend operation.
type Op string

const (
	OpSave   Op = "save"
	OpLoad   Op = "load"
	OpStat   Op = "stat"
	OpList   Op = "list"
	OpRemove Op = "remove"
)

// Rule decides whether one call fails. n counts calls to the wrapper (all
// operations), from 1. A rule returning (true, true) for a Save means "write
// the file, then report failure" — the ambiguous outcome a network timeout
// produces.
type Rule func(n int, op Op, h backend.Handle) (fail bool, afterWrite bool)

// Backend is a fault-injecting wrapper.
type Backend struct {
	backend.Backend
	mu   sync.Mutex
	n    int
	rule Rule
}

// Wrap returns b wrapped with rule (nil: never fail).
func Wrap(b backend.Backend, rule Rule) *Backend { return &Backend{Backend: b, rule: rule} }

// SetRule replaces the rule and resets the call counter.
func (f *Backend) SetRule(rule Rule) {
	f.mu.Lock()
	f.rule, f.n = rule, 0
	f.mu.Unlock()
}

// Calls reports how many calls were made since the last SetRule.
func (f *Backend) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *Backend) check(op Op, h backend.Handle) (bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.rule == nil {
		return false, false
	}
	return f.rule(f.n, op, h)
}

func injected(op Op, h backend.Handle) error {
	return fmt.Errorf("%s %v: %w", op, h, ErrInjected)
}

// CrashAfter fails every call after the first n: the storage "dies" at call
// n+1, the way a killed process stops writing.
func CrashAfter(n int) Rule {
	return func(i int, op Op, h backend.Handle) (bool, bool) { return i > n, false }
}

func (f *Backend) Save(ctx context.Context, h backend.Handle, data []byte, opts backend.SaveOptions) error {
	if fail, after := f.check(OpSave, h); fail {
		if after {
			if err := f.Backend.Save(ctx, h, data, opts); err != nil {
				return err
			}
		}
		return injected(OpSave, h)
	}
	return f.Backend.Save(ctx, h, data, opts)
}

func (f *Backend) Load(ctx context.Context, h backend.Handle, off, n int64) ([]byte, error) {
	if fail, _ := f.check(OpLoad, h); fail {
		return nil, injected(OpLoad, h)
	}
	return f.Backend.Load(ctx, h, off, n)
}

func (f *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if fail, _ := f.check(OpStat, h); fail {
		return backend.FileInfo{}, injected(OpStat, h)
	}
	return f.Backend.Stat(ctx, h)
}

func (f *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if fail, _ := f.check(OpList, backend.Handle{Type: t}); fail {
		return injected(OpList, backend.Handle{Type: t})
	}
	return f.Backend.List(ctx, t, fn)
}

func (f *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if fail, _ := f.check(OpRemove, h); fail {
		return injected(OpRemove, h)
	}
	return f.Backend.Remove(ctx, h)
}
