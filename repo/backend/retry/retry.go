// Package retry wraps a backend so that transient failures (a dropped
// connection, a 503 from a busy server, a timeout) are retried with
// exponential backoff. It is the one retry layer for every backend: the S3
// backend turns the SDK's own retries off, so attempts do not multiply.
//
// What is never retried: answers (ErrNotExist, ErrExists, ErrPrecondition),
// ErrPermanent, a malformed handle, a cancelled context, and errors returned
// by a List callback.
//
// The subtle case is a conditional save whose reply was lost: the write may
// have landed, and the retry then fails its own condition (ErrExists or
// ErrPrecondition). The decorator resolves it by reading the file back: if
// it holds exactly the bytes being saved, the earlier attempt won and the
// save succeeded. (Refs and locks are sealed with a random nonce, so equal
// bytes cannot come from another writer.)
package retry

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Policy bounds the retries. Zero fields take the defaults.
type Policy struct {
	MaxAttempts int           // per operation, including the first (default 6)
	BaseDelay   time.Duration // before the second attempt (default 200ms), doubled each time
	MaxDelay    time.Duration // cap of one wait (default 15s)
	// OnRetry, when set, hears about each failure that will be retried.
	OnRetry func(op string, h backend.Handle, attempt int, err error)
	// Sleep waits d or until ctx ends (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p *Policy) defaults() {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 15 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backend retries the operations of the backend it wraps.
type Backend struct {
	backend.Backend
	p Policy
}

// Wrap returns b with retries.
func Wrap(b backend.Backend, p Policy) *Backend {
	p.defaults()
	return &Backend{Backend: b, p: p}
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// transient reports whether another attempt may succeed.
func transient(ctx context.Context, err error) bool {
	var ce callbackError
	switch {
	case errors.As(err, &ce):
		return false
	case err == nil, ctx.Err() != nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, backend.ErrNotExist), errors.Is(err, backend.ErrExists),
		errors.Is(err, backend.ErrPrecondition), errors.Is(err, backend.ErrPermanent),
		backend.IsPermission(err):
		return false
	}
	return true
}

// do runs fn until it succeeds, fails for good, or runs out of attempts.
// fn gets the attempt number (from 1).
func (b *Backend) do(ctx context.Context, op string, h backend.Handle, fn func(attempt int) error) error {
	if err := h.Valid(); err != nil && h.Name != "" {
		return err // a bad name is bad on every attempt
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(attempt)
		if !transient(ctx, err) || attempt >= b.p.MaxAttempts {
			return err
		}
		if b.p.OnRetry != nil {
			b.p.OnRetry(op, h, attempt, err)
		}
		d := b.p.BaseDelay << (attempt - 1)
		if d > b.p.MaxDelay || d <= 0 {
			d = b.p.MaxDelay
		}
		d = d/2 + rand.N(d/2+1) // jitter: racing clients do not retry in step
		if serr := b.p.Sleep(ctx, d); serr != nil {
			return err
		}
	}
}

func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte, opts backend.SaveOptions) error {
	conditional := opts.IfNotExists || opts.IfMatch != ""
	return b.do(ctx, "save", h, func(attempt int) error {
		err := b.Backend.Save(ctx, h, data, opts)
		if attempt > 1 && conditional && (errors.Is(err, backend.ErrExists) || errors.Is(err, backend.ErrPrecondition)) {
			// Did the attempt whose answer was lost write these very bytes?
			if got, lerr := b.Backend.Load(ctx, h, 0, -1); lerr == nil && bytes.Equal(got, data) {
				return nil
			}
		}
		return err
	})
}

func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	var out []byte
	err := b.do(ctx, "load", h, func(int) error {
		var err error
		out, err = b.Backend.Load(ctx, h, offset, length)
		return err
	})
	return out, err
}

func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := b.do(ctx, "stat", h, func(int) error {
		var err error
		fi, err = b.Backend.Stat(ctx, h)
		return err
	})
	return fi, err
}

// callbackError carries an error of the List callback through do untouched.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// List retries a listing that broke off, without calling fn twice for the
// same file: names already passed on are skipped on the next attempt.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	seen := map[string]bool{}
	err := b.do(ctx, "list", backend.Handle{Type: t}, func(int) error {
		return b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
			if seen[fi.Name] {
				return nil
			}
			seen[fi.Name] = true
			if err := fn(fi); err != nil {
				return callbackError{err}
			}
			return nil
		})
	})
	var ce callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	return b.do(ctx, "remove", h, func(int) error { return b.Backend.Remove(ctx, h) })
}
