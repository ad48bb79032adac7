// Package backend defines the storage interface a repository lives on, and
// the small set of guarantees every implementation must give.
//
// A backend is a flat namespace of immutable files grouped by type. The
// contract, checked by the conformance suite in backendtest:
//
//   - Save is atomic: a reader sees the whole file or no file, never a prefix.
//   - Save with IfNotExists fails with ErrExists when the file is there; with
//     IfMatch it replaces the file only when its current ETag equals the given
//     one, else ErrPrecondition. These are what refs and locks on shared
//     remotes are built on.
//   - Load of a missing file fails with an error for which IsNotExist is true.
//   - List calls fn once per file, in no particular order.
//   - Remove of a missing file is not an error (removal is idempotent, so an
//     interrupted prune can simply be run again).
package backend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// FileType is the top-level folder a file lives in.
type FileType string

// The file types of a repository. Config is a single file (Name is empty).
const (
	Config    FileType = "config"
	Keys      FileType = "keys"
	Packs     FileType = "packs"
	Snapshots FileType = "snapshots"
	Refs      FileType = "refs"
	Settings  FileType = "settings" // sealed named documents (org profiles, …)
	Locks     FileType = "locks"
	Audit     FileType = "audit"
)

// AllTypes lists every file type, in the order a copy must write them for the
// destination to stay consistent at each step (packs before the snapshots that
// use them, snapshots before the refs that name them).
var AllTypes = []FileType{Config, Keys, Settings, Packs, Snapshots, Refs, Audit, Locks}

// Handle names one file.
type Handle struct {
	Type FileType
	Name string // may contain '/' (packs are grouped by period); empty only for Config
}

func (h Handle) String() string {
	if h.Name == "" {
		return string(h.Type)
	}
	return string(h.Type) + "/" + h.Name
}

// Valid reports whether the handle is well-formed: the name cannot escape its
// type's folder.
func (h Handle) Valid() error {
	if h.Type == "" {
		return fmt.Errorf("backend: handle %q has no type", h.Name)
	}
	if h.Type == Config {
		if h.Name != "" {
			return fmt.Errorf("backend: config handle has a name %q", h.Name)
		}
		return nil
	}
	if h.Name == "" || strings.HasPrefix(h.Name, "/") || strings.HasSuffix(h.Name, "/") {
		return fmt.Errorf("backend: bad file name %q", h.Name)
	}
	for _, part := range strings.Split(h.Name, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\\\x00") {
			return fmt.Errorf("backend: bad file name %q", h.Name)
		}
	}
	return nil
}

// FileInfo describes one stored file.
type FileInfo struct {
	Name string // relative to its type's folder
	Size int64
	// ETag identifies this version of the file's content; two different
	// contents never share an ETag. Empty when the backend cannot tell.
	ETag string
}

// SaveOptions make a Save conditional.
type SaveOptions struct {
	IfNotExists bool   // create only
	IfMatch     string // replace only this version (an ETag from Stat or List)
}

// Backend is where a repository's files are stored.
type Backend interface {
	// Save writes data as the file h, atomically.
	Save(ctx context.Context, h Handle, data []byte, opts SaveOptions) error
	// Load reads length bytes at offset of file h; length < 0 reads to the end.
	// Reading past the end returns what exists (possibly nothing).
	Load(ctx context.Context, h Handle, offset, length int64) ([]byte, error)
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	Remove(ctx context.Context, h Handle) error
	// Location says where the backend stores files, for messages.
	Location() string
	Close() error
}

// Sentinel errors callers branch on. Implementations wrap them.
var (
	ErrNotExist     = errors.New("file does not exist")
	ErrExists       = errors.New("file already exists")
	ErrPrecondition = errors.New("file changed since it was read")
	// ErrPermanent marks failures another attempt cannot fix (access
	// denied, no such bucket, a wrong region), so retry layers give up at
	// once instead of backing off for minutes.
	ErrPermanent = errors.New("permanent storage error")
	// ErrPermission: the storage refused the operation to these
	// credentials (S3 AccessDenied/403, a read-only directory). Read-only
	// callers (pull, clone) may go on without writing.
	ErrPermission = errors.New("permission denied")
)

// IsPermission reports whether err says the credentials may not do that
// (ErrPermission, or a file system's permission error).
func IsPermission(err error) bool {
	return errors.Is(err, ErrPermission) || errors.Is(err, fs.ErrPermission)
}

// IsNotExist reports whether err says the file is missing.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// ListConfig is List for the Config type, which is one file without a name:
// backends list it by a Stat, and an absent config lists nothing.
func ListConfig(ctx context.Context, b Backend, fn func(FileInfo) error) error {
	fi, err := b.Stat(ctx, Handle{Type: Config})
	if IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(fi)
}
