// Package remote copies a repository to and from remotes — an S3 bucket
// (any S3-compatible server) or a directory (a NAS mount, a USB disk) — the
// way git pushes and fetches: push, pull, clone and ls-remote.
//
// A remote holds the same repository in the same layout as the local
// directory (docs/FORMAT.md, "Remotes"): same config, same key slots, same
// packs, snapshots and refs, file for file. So a remote can be opened as a
// repository of its own (clone does exactly that), and everything on it is
// sealed with the repository key: the bucket's owner sees sizes and counts,
// nothing else.
//
// Remote definitions are sealed settings of the local repository
// ("remote/NAME"), because they may hold S3 credentials; they are never
// pushed. The refs last seen on a remote (remote-tracking refs, git's
// origin/main) are the setting "remote-refs/NAME".
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/backend/retry"
	s3be "github.com/orgsnap/orgsnap/repo/backend/s3"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// Sentinel errors the CLI branches on.
var (
	// ErrNoRemote: no remote of that name (or none at all).
	ErrNoRemote = errors.New("no such remote")
	// ErrRemoteAhead: a ref on the remote names snapshots the local
	// repository does not have, so moving it would hide them.
	ErrRemoteAhead = errors.New("the remote has snapshots you do not have")
	// ErrOtherRepository: the remote holds a different repository.
	ErrOtherRepository = errors.New("the remote holds a different repository")
	// ErrEmptyRemote: there is no repository on the remote yet.
	ErrEmptyRemote = errors.New("the remote holds no repository")
	// ErrBadURL: a remote URL this package cannot use.
	ErrBadURL = errors.New("bad remote URL")
)

// Config defines one remote. For s3:// URLs, S3 says how to reach the
// bucket (Bucket and Prefix come from the URL).
type Config struct {
	Name string      `json:"name"`
	URL  string      `json:"url"`
	S3   s3be.Config `json:"s3,omitzero"`
}

const (
	settingPrefix = "remote/"      // remote/NAME: the sealed Config
	refsPrefix    = "remote-refs/" // remote-refs/NAME: refs last seen on it
)

// private reports whether a setting belongs to this machine's view of its
// remotes and must never be copied to or from one.
func private(setting string) bool {
	return strings.HasPrefix(setting, settingPrefix) || strings.HasPrefix(setting, refsPrefix)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a remote.
func ValidName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("remote name %q: use letters, digits, '.', '_' or '-' (up to 64)", name)
	}
	return nil
}

// ParseURL fills c's location from a URL: s3://bucket[/prefix],
// file:///abs/path, or a plain path (made absolute).
func ParseURL(raw string) (Config, error) {
	c := Config{URL: raw}
	switch {
	case strings.HasPrefix(raw, "s3://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return c, fmt.Errorf("%w %q: write s3://BUCKET/PREFIX", ErrBadURL, raw)
		}
		c.S3.Bucket, c.S3.Prefix = u.Host, strings.Trim(u.Path, "/")
	case strings.HasPrefix(raw, "file://"):
		u, err := url.Parse(raw)
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return c, fmt.Errorf("%w %q: write file:///ABSOLUTE/PATH", ErrBadURL, raw)
		}
		c.URL = "file://" + filepath.Clean(u.Path)
	case strings.Contains(raw, "://"):
		return c, fmt.Errorf("%w %q: use s3://BUCKET/PREFIX, file:///PATH or a directory", ErrBadURL, raw)
	case raw == "":
		return c, fmt.Errorf("%w: empty", ErrBadURL)
	default:
		abs, err := filepath.Abs(raw)
		if err != nil {
			return c, fmt.Errorf("%w %q: %v", ErrBadURL, raw, err)
		}
		c.URL = "file://" + abs
	}
	return c, nil
}

// IsS3 reports whether the remote is a bucket.
func (c Config) IsS3() bool { return strings.HasPrefix(c.URL, "s3://") }

func (c Config) dir() string { return strings.TrimPrefix(c.URL, "file://") }

// Redacted is c without secrets, for listings.
func (c Config) Redacted() Config {
	if c.S3.SecretAccessKey != "" {
		c.S3.SecretAccessKey = "(set)"
	}
	if c.S3.SessionToken != "" {
		c.S3.SessionToken = "(set)"
	}
	return c
}

// Open connects to the remote, with retries. create makes a directory
// remote's folder when missing (push); buckets must exist already.
func Open(ctx context.Context, c Config, create bool, p retry.Policy) (backend.Backend, error) {
	var be backend.Backend
	if c.IsS3() {
		b, err := s3be.Open(ctx, c.S3)
		if err != nil {
			return nil, err
		}
		be = b
	} else {
		b, err := local.Open(c.dir(), create)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", c.Name, err)
		}
		be = b
	}
	return retry.Wrap(be, p), nil
}

// Add stores a remote definition; it fails if the name is taken.
func Add(ctx context.Context, r *repo.Repository, c Config) error {
	if err := ValidName(c.Name); err != nil {
		return err
	}
	if _, err := r.LoadSetting(ctx, settingPrefix+c.Name); err == nil {
		return fmt.Errorf("remote %q exists already: remove it first (`orgsnap remote remove %s`)", c.Name, c.Name)
	}
	return save(ctx, r, c)
}

func save(ctx context.Context, r *repo.Repository, c Config) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	defer clear(data)
	return r.SaveSetting(ctx, settingPrefix+c.Name, data)
}

// Get loads the remote called name. An empty name picks "origin", or the
// only remote when there is exactly one.
func Get(ctx context.Context, r *repo.Repository, name string) (Config, error) {
	if name == "" {
		all, err := List(ctx, r)
		if err != nil {
			return Config{}, err
		}
		switch {
		case len(all) == 0:
			return Config{}, fmt.Errorf("%w: the repository has no remotes (add one with `orgsnap remote add NAME URL`)", ErrNoRemote)
		case len(all) == 1:
			return all[0], nil
		}
		for _, c := range all {
			if c.Name == "origin" {
				return c, nil
			}
		}
		return Config{}, fmt.Errorf("%w: there are %d remotes and none is called origin: name one", ErrNoRemote, len(all))
	}
	data, err := r.LoadSetting(ctx, settingPrefix+name)
	if errors.Is(err, repo.ErrNotFound) {
		return Config{}, fmt.Errorf("%w %q (see `orgsnap remote list`)", ErrNoRemote, name)
	}
	if err != nil {
		return Config{}, err
	}
	defer clear(data)
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("remote %q: stored definition is damaged: %w", name, err)
	}
	return c, nil
}

// List returns every remote, sorted by name.
func List(ctx context.Context, r *repo.Repository) ([]Config, error) {
	names, err := r.Settings(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []Config
	for _, n := range names {
		if !strings.HasPrefix(n, settingPrefix) {
			continue
		}
		c, err := Get(ctx, r, strings.TrimPrefix(n, settingPrefix))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove forgets a remote (and its remote-tracking refs). Nothing on the
// remote is touched.
func Remove(ctx context.Context, r *repo.Repository, name string) error {
	if err := r.DeleteSetting(ctx, settingPrefix+name); err != nil {
		if errors.Is(err, repo.ErrNotFound) {
			return fmt.Errorf("%w %q (see `orgsnap remote list`)", ErrNoRemote, name)
		}
		return err
	}
	if err := r.DeleteSetting(ctx, refsPrefix+name); err != nil && !errors.Is(err, repo.ErrNotFound) {
		return err
	}
	return nil
}

// TrackingRefs are the refs last seen on remote name (ref → snapshot).
func TrackingRefs(ctx context.Context, r *repo.Repository, name string) (map[string]crypto.ID, error) {
	data, err := r.LoadSetting(ctx, refsPrefix+name)
	if errors.Is(err, repo.ErrNotFound) {
		return map[string]crypto.ID{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]crypto.ID
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("remote-tracking refs of %s: %w", name, err)
	}
	return m, nil
}

// RefResolver lets revisions name remote-tracking refs (origin/main):
// it implements repo.RemoteRefs from the refs recorded here.
type RefResolver struct{}

// RemoteRef returns the snapshot ref named on remote when last seen.
func (RefResolver) RemoteRef(ctx context.Context, r *repo.Repository, remote, ref string) (crypto.ID, bool, error) {
	if ValidName(remote) != nil {
		return crypto.ID{}, false, nil
	}
	refs, err := TrackingRefs(ctx, r, remote)
	if err != nil {
		return crypto.ID{}, false, err
	}
	id, ok := refs[ref]
	return id, ok, nil
}

func saveTrackingRefs(ctx context.Context, r *repo.Repository, name string, refs map[string]crypto.ID) error {
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	return r.SaveSetting(ctx, refsPrefix+name, data)
}
