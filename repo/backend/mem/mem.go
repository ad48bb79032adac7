// Package mem is an in-memory backend for tests.
package mem

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Backend keeps files in a map. Safe for concurrent use.
type Backend struct {
	mu    sync.Mutex
	files map[backend.Handle][]byte
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend { return &Backend{files: map[backend.Handle][]byte{}} }

func etag(data []byte) string {
	sum := blake3.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte, opts backend.SaveOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.Valid(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, exists := b.files[h]
	if opts.IfNotExists && exists {
		return fmt.Errorf("save %v: %w", h, backend.ErrExists)
	}
	if opts.IfMatch != "" && (!exists || etag(cur) != opts.IfMatch) {
		return fmt.Errorf("save %v: %w", h, backend.ErrPrecondition)
	}
	b.files[h] = append([]byte(nil), data...)
	return nil
}

func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	data, ok := b.files[h]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%v: %w", h, backend.ErrNotExist)
	}
	if offset > int64(len(data)) {
		return nil, nil
	}
	data = data[offset:]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return append([]byte(nil), data...), nil
}

func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.files[h]
	if !ok {
		return backend.FileInfo{}, fmt.Errorf("%v: %w", h, backend.ErrNotExist)
	}
	return backend.FileInfo{Name: h.Name, Size: int64(len(data)), ETag: etag(data)}, nil
}

func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	b.mu.Lock()
	var infos []backend.FileInfo
	for h, data := range b.files {
		if h.Type == t {
			infos = append(infos, backend.FileInfo{Name: h.Name, Size: int64(len(data)), ETag: etag(data)})
		}
	}
	b.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	b.mu.Lock()
	delete(b.files, h)
	b.mu.Unlock()
	return nil
}

func (b *Backend) Location() string { return "mem:" }
func (b *Backend) Close() error     { return nil }

// Corrupt flips one byte of a stored file, for corruption tests. It reports
// whether the file exists.
func (b *Backend) Corrupt(h backend.Handle, offset int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.files[h]
	if !ok || len(data) == 0 {
		return false
	}
	data[offset%len(data)] ^= 0x5a
	return true
}

// Names lists the stored handles of one type whose name has the prefix.
func (b *Backend) Names(t backend.FileType, prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for h := range b.files {
		if h.Type == t && strings.HasPrefix(h.Name, prefix) {
			out = append(out, h.Name)
		}
	}
	sort.Strings(out)
	return out
}
