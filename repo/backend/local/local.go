// Package local stores a repository's files in a directory of the local
// file system (or a mounted NAS share).
//
// Layout: <root>/config, <root>/<type>/<name>. Files are written to
// <root>/tmp/ first, fsynced, then renamed (or hard-linked, for create-only
// saves) into place and the directory fsynced, so a crash never leaves a
// partial file under its final name. Leftovers in tmp/ are garbage and are
// removed by Clean.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zeebo/blake3"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// hashedETagLimit: files up to this size get a content-hash ETag (exact);
// larger ones (packs, which are immutable) get size+mtime.
const hashedETagLimit = 1 << 20

// Backend is a directory-backed backend.
type Backend struct {
	root string
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend rooted at dir, creating it when create is true.
func Open(dir string, create bool) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if create {
		if err := os.MkdirAll(filepath.Join(abs, "tmp"), 0o700); err != nil {
			return nil, fmt.Errorf("local backend: create %s: %w", abs, err)
		}
	} else if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("local backend: %s is not a directory", abs)
	}
	return &Backend{root: abs}, nil
}

// Root is the directory the backend writes to.
func (b *Backend) Root() string { return b.root }

func (b *Backend) Location() string { return b.root }
func (b *Backend) Close() error     { return nil }

func (b *Backend) path(h backend.Handle) (string, error) {
	if err := h.Valid(); err != nil {
		return "", err
	}
	if h.Type == backend.Config {
		return filepath.Join(b.root, "config"), nil
	}
	return filepath.Join(b.root, string(h.Type), filepath.FromSlash(h.Name)), nil
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte, opts backend.SaveOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	final, err := b.path(h)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	tmp, err := b.writeTemp(data)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	defer os.Remove(tmp) // no-op once renamed or linked

	if opts.IfNotExists || opts.IfMatch != "" {
		// Conditional saves are serialised across processes by an flock, so
		// compare-then-rename is atomic with respect to other conditional
		// savers. (Unconditional saves of immutable files need no lock.)
		unlock, err := b.casLock()
		if err != nil {
			return fmt.Errorf("save %v: %w", h, err)
		}
		defer unlock()
		if opts.IfNotExists {
			if err := os.Link(tmp, final); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("save %v: %w", h, backend.ErrExists)
				}
				return fmt.Errorf("save %v: %w", h, err)
			}
			return syncDir(filepath.Dir(final))
		}
		cur, err := statFile(final, h.Name, hashedETags(h.Type))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("save %v: %w", h, backend.ErrPrecondition)
			}
			return fmt.Errorf("save %v: %w", h, err)
		}
		if cur.ETag != opts.IfMatch {
			return fmt.Errorf("save %v: %w", h, backend.ErrPrecondition)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	return syncDir(filepath.Dir(final))
}

func (b *Backend) writeTemp(data []byte) (string, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	dir := filepath.Join(b.root, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := filepath.Join(dir, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func (b *Backend) casLock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(b.root, "tmp", ".cas.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := b.path(h)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, wrapNotExist(h, err)
	}
	defer f.Close()
	if length < 0 {
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("load %v: %w", h, err)
		}
		length = st.Size() - offset
		if length < 0 {
			length = 0
		}
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	return buf[:n], nil
}

func wrapNotExist(h backend.Handle, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%v: %w", h, backend.ErrNotExist)
	}
	return fmt.Errorf("%v: %w", h, err)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	p, err := b.path(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	fi, err := statFile(p, h.Name, hashedETags(h.Type))
	if err != nil {
		return fi, wrapNotExist(h, err)
	}
	return fi, nil
}

// hashedETags says whether files of type t get content-hash ETags when
// small. Not packs and snapshots: they are never rewritten under one name
// (their names are their content's ids), so size+mtime is exact, and
// opening a repository lists every pack: thousands of small ones must not
// all be read and hashed.
func hashedETags(t backend.FileType) bool { return t != backend.Packs && t != backend.Snapshots }

// statFile describes one file. hashSmall asks for content-hash ETags on
// small files; without it every ETag is size+mtime, which is exact only for
// files never rewritten under the same name (packs and snapshots, whose
// names are their content's ids).
func statFile(path, name string, hashSmall bool) (backend.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return backend.FileInfo{}, err
	}
	fi := backend.FileInfo{Name: name, Size: st.Size()}
	if hashSmall && st.Size() <= hashedETagLimit {
		data, err := os.ReadFile(path)
		if err != nil {
			return backend.FileInfo{}, err
		}
		sum := blake3.Sum256(data)
		fi.ETag = hex.EncodeToString(sum[:16])
	} else {
		fi.ETag = fmt.Sprintf("s%d-m%d", st.Size(), st.ModTime().UnixNano())
	}
	return fi, nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.Config {
		return backend.ListConfig(ctx, b, fn)
	}
	dir := filepath.Join(b.root, string(t))
	hashSmall := hashedETags(t)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if strings.HasPrefix(filepath.Base(name), ".") {
			return nil // lock files and other private state
		}
		fi, err := statFile(p, name, hashSmall)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		return fn(fi)
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	return nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	p, err := b.path(h)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	return nil
}

// Clean removes temporary files a crashed writer left behind. Only call it
// while holding the repository's exclusive lock.
func (b *Backend) Clean() error {
	dir := filepath.Join(b.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		// RemoveAll: prune's scratch databases are directories.
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
	return nil
}
