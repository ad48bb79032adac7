package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// Snapshot kinds.
const (
	KindFull      = "full"      // every record read from the org
	KindSynthetic = "synthetic" // the parent plus what changed since
	KindPartial   = "partial"   // only some objects were read
	KindArchive   = "archive"   // imported or kept for legal hold
	// KindCheckpoint is an unfinished run's progress, committed so that a
	// crash loses little: the engine resumes from it (WriterOptions.Resume)
	// and the finished snapshot names the real parent, not the checkpoint.
	// Listings hide checkpoints; prune removes those no run will resume.
	KindCheckpoint = "checkpoint"
)

// ObjectStats are one object's figures in a snapshot.
type ObjectStats struct {
	Records uint64 `json:"records"`
	Files   uint64 `json:"files,omitempty"`
	Added   uint64 `json:"added,omitempty"`
	Changed uint64 `json:"changed,omitempty"`
	Deleted uint64 `json:"deleted,omitempty"`
	// HighWater is the engine's resume point (e.g. SystemModstamp,Id of the
	// last record read); opaque to the repository.
	HighWater string `json:"high_water,omitempty"`
}

// Snapshot is an immutable record of the org at one time. Its ID is the
// keyed hash of its encoding, so it cannot be altered without changing it.
type Snapshot struct {
	ID          crypto.ID              `json:"-"`
	Version     int                    `json:"version"`
	Time        time.Time              `json:"time"`
	Org         string                 `json:"org,omitempty"`
	Instance    string                 `json:"instance,omitempty"`
	Period      string                 `json:"period"`
	Kind        string                 `json:"kind"`
	Parent      *crypto.ID             `json:"parent,omitempty"`
	Root        crypto.ID              `json:"root"`
	Objects     map[string]ObjectStats `json:"objects,omitempty"`
	Tags        []string               `json:"tags,omitempty"`
	Host        string                 `json:"host,omitempty"`
	User        string                 `json:"user,omitempty"`
	ToolVersion string                 `json:"tool_version,omitempty"`
	// Original is the snapshot this one replaces after an erase rewrote it.
	Original *crypto.ID `json:"original,omitempty"`
	// State is the engine's own document (opaque to the repository): what
	// a checkpoint has done, or settings a later run needs.
	State json.RawMessage `json:"state,omitempty"`
}

// PeriodOf is the default period of a time: YYMM in UTC.
func PeriodOf(t time.Time) string { return t.UTC().Format("0601") }

// Records totals the records of all objects.
func (s *Snapshot) Records() uint64 {
	var n uint64
	for _, o := range s.Objects {
		n += o.Records
	}
	return n
}

// snapshotAAD binds a sealed snapshot to its file type, so a snapshot file
// cannot be passed off as a key or ref.
var snapshotAAD = []byte("orgsnap snapshot v1")

func (r *Repository) saveSnapshot(ctx context.Context, s *Snapshot) error {
	s.Version = 1
	plain, err := json.Marshal(s)
	if err != nil {
		return err
	}
	s.ID = r.key.BlobID(plain)
	sealed := r.key.Seal(nil, plain, snapshotAAD)
	err = r.be.Save(ctx, backend.Handle{Type: backend.Snapshots, Name: s.ID.String()}, sealed, backend.SaveOptions{IfNotExists: true})
	if errors.Is(err, backend.ErrExists) {
		return nil // the same snapshot, byte for byte
	}
	return err
}

// LoadSnapshot reads and verifies one snapshot.
func (r *Repository) LoadSnapshot(ctx context.Context, id crypto.ID) (*Snapshot, error) {
	sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.Snapshots, Name: id.String()}, 0, -1)
	if err != nil {
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("snapshot %s: %w", id.Short(), ErrNotFound)
		}
		return nil, err
	}
	plain, err := r.key.Open(nil, sealed, snapshotAAD)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	if r.key.BlobID(plain) != id {
		return nil, fmt.Errorf("snapshot %s: content does not match its id", id.Short())
	}
	s := &Snapshot{}
	if err := json.Unmarshal(plain, s); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	s.ID = id
	return s, nil
}

// Snapshots lists every snapshot, oldest first. Unreadable snapshot files
// are reported through bad (if not nil) and skipped.
func (r *Repository) Snapshots(ctx context.Context, bad func(name string, err error)) ([]*Snapshot, error) {
	var out []*Snapshot
	err := r.be.List(ctx, backend.Snapshots, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err == nil {
			var s *Snapshot
			if s, err = r.LoadSnapshot(ctx, id); err == nil {
				out = append(out, s)
				return nil
			}
		}
		if bad != nil {
			bad(fi.Name, err)
		}
		return nil
	})
	sortSnapshots(out)
	return out, err
}

// FindSnapshot resolves a revision (see ResolveRevision).
func (r *Repository) FindSnapshot(ctx context.Context, rev string) (*Snapshot, error) {
	return r.ResolveRevision(ctx, rev)
}

var refRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidRefName reports whether name can be a ref.
func ValidRefName(name string) error {
	if !refRE.MatchString(name) || name == "latest" || strings.Contains(name, "..") {
		return fmt.Errorf("ref name %q: use letters, digits, '.', '_' or '-' (up to 64), not \"latest\"", name)
	}
	return nil
}

var refAAD = []byte("orgsnap ref v1")

// Ref returns the snapshot a ref names and the version token to pass to
// SetRef for a compare-and-swap.
func (r *Repository) Ref(ctx context.Context, name string) (crypto.ID, string, error) {
	if ValidRefName(name) != nil {
		return crypto.ID{}, "", fmt.Errorf("ref %q: %w", name, ErrNotFound)
	}
	h := backend.Handle{Type: backend.Refs, Name: name}
	fi, err := r.be.Stat(ctx, h)
	if err != nil {
		if backend.IsNotExist(err) {
			return crypto.ID{}, "", fmt.Errorf("ref %q: %w", name, ErrNotFound)
		}
		return crypto.ID{}, "", err
	}
	sealed, err := r.be.Load(ctx, h, 0, -1)
	if err != nil {
		return crypto.ID{}, "", err
	}
	plain, err := r.key.Open(nil, sealed, append(refAAD, name...))
	if err != nil {
		return crypto.ID{}, "", fmt.Errorf("ref %q: %w", name, err)
	}
	var id crypto.ID
	if len(plain) != len(id) {
		return id, "", fmt.Errorf("ref %q: bad length %d", name, len(plain))
	}
	copy(id[:], plain)
	return id, fi.ETag, nil
}

// ErrRefMoved means a compare-and-swap on a ref lost a race.
var ErrRefMoved = errors.New("ref was moved by someone else")

// SetRef points name at id. With version "" the ref must not exist yet;
// otherwise it must still be at that version (from Ref). Use ForceRef to
// overwrite unconditionally.
func (r *Repository) SetRef(ctx context.Context, name string, id crypto.ID, version string) error {
	if err := ValidRefName(name); err != nil {
		return err
	}
	sealed := r.key.Seal(nil, id[:], append(refAAD, name...))
	opts := backend.SaveOptions{IfNotExists: version == "", IfMatch: version}
	err := r.be.Save(ctx, backend.Handle{Type: backend.Refs, Name: name}, sealed, opts)
	if errors.Is(err, backend.ErrExists) || errors.Is(err, backend.ErrPrecondition) {
		return fmt.Errorf("ref %q: %w", name, ErrRefMoved)
	}
	return err
}

// Refs lists ref names and targets.
func (r *Repository) Refs(ctx context.Context) (map[string]crypto.ID, error) {
	out := map[string]crypto.ID{}
	err := r.be.List(ctx, backend.Refs, func(fi backend.FileInfo) error {
		id, _, err := r.Ref(ctx, fi.Name)
		if err != nil {
			return err
		}
		out[fi.Name] = id
		return nil
	})
	return out, err
}

// DeleteRef removes a ref.
func (r *Repository) DeleteRef(ctx context.Context, name string) error {
	return r.be.Remove(ctx, backend.Handle{Type: backend.Refs, Name: name})
}
