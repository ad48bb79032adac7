package repo

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Settings are small named documents that later features keep in the
// repository (org profiles, retention policies, remotes). Their content is
// opaque to this package. Unlike Config.Extra they are sealed, so they may
// hold credentials: nothing about them is readable without the master key,
// not even their names.
//
// Invariants (docs/FORMAT.md, "Settings"):
//   - the file of setting NAME is settings/<hex(Alias(settingNamespace, NAME))>,
//     so file names reveal nothing and each name has exactly one file;
//   - its content is Seal(version | uvarint len(NAME) | NAME | data,
//     aad = settingAAD || file name): a file copied or renamed onto another
//     setting's name fails to authenticate instead of being read as that
//     setting, and the embedded name lets Settings list names without
//     knowing them in advance;
//   - a save replaces the file atomically (backend contract), so readers see
//     the old or the new document, never a mix.
//
// Settings need neither the index nor the lock, so they can be read and
// written on a repository opened read-only, like key slots: adding an org
// profile must not wait for a long snapshot of another org to finish.

const (
	settingNamespace = "orgsnap setting name"
	settingVersion   = 1
	// MaxSettingSize bounds a setting's data: settings are loaded whole
	// and listed by decrypting every file.
	MaxSettingSize = 1 << 20
)

var settingAAD = []byte("orgsnap setting v1")

var settingSegRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidSettingName reports whether name can name a setting: one or more
// '/'-separated segments, each of letters, digits, '.', '_' or '-' (up to
// 64, starting with a letter or digit), like "org/prod".
func ValidSettingName(name string) error {
	segs := strings.Split(name, "/")
	if len(name) > 255 || len(segs) > 8 {
		return fmt.Errorf("setting name %q is too long", name)
	}
	for _, s := range segs {
		if !settingSegRE.MatchString(s) || strings.Contains(s, "..") {
			return fmt.Errorf("setting name %q: use '/'-separated parts of letters, digits, '.', '_' or '-'", name)
		}
	}
	return nil
}

func (r *Repository) settingHandle(name string) backend.Handle {
	id := r.key.Alias(settingNamespace, []byte(name))
	return backend.Handle{Type: backend.Settings, Name: hex.EncodeToString(id[:])}
}

func settingAADFor(file string) []byte {
	aad := make([]byte, 0, len(settingAAD)+len(file))
	return append(append(aad, settingAAD...), file...)
}

// SaveSetting stores data under name, replacing any previous value.
func (r *Repository) SaveSetting(ctx context.Context, name string, data []byte) error {
	if err := ValidSettingName(name); err != nil {
		return err
	}
	if len(data) > MaxSettingSize {
		return fmt.Errorf("setting %q: %d bytes is more than the %d a setting may hold", name, len(data), MaxSettingSize)
	}
	h := r.settingHandle(name)
	plain := make([]byte, 0, 1+binary.MaxVarintLen64+len(name)+len(data))
	plain = append(plain, settingVersion)
	plain = binary.AppendUvarint(plain, uint64(len(name)))
	plain = append(plain, name...)
	plain = append(plain, data...)
	sealed := r.key.Seal(nil, plain, settingAADFor(h.Name))
	clear(plain) // the data may be a credential; do not leave a copy behind
	if err := r.be.Save(ctx, h, sealed, backend.SaveOptions{}); err != nil {
		return fmt.Errorf("saving setting %q: %w", name, err)
	}
	return nil
}

// LoadSetting returns the data stored under name, or an error wrapping
// ErrNotFound when there is none.
func (r *Repository) LoadSetting(ctx context.Context, name string) ([]byte, error) {
	if err := ValidSettingName(name); err != nil {
		return nil, fmt.Errorf("setting %q: %w", name, ErrNotFound)
	}
	h := r.settingHandle(name)
	got, data, err := r.openSetting(ctx, h.Name)
	if err != nil {
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("setting %q: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("setting %q: %w", name, err)
	}
	if got != name {
		// Unreachable unless the alias hash collides; checked anyway, so a
		// setting is never returned under a name it was not saved as.
		return nil, fmt.Errorf("setting %q: its file holds %q", name, got)
	}
	return data, nil
}

// openSetting reads and authenticates one settings file, returning the
// name and data it holds.
func (r *Repository) openSetting(ctx context.Context, file string) (string, []byte, error) {
	sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.Settings, Name: file}, 0, -1)
	if err != nil {
		return "", nil, err
	}
	plain, err := r.key.Open(nil, sealed, settingAADFor(file))
	if err != nil {
		return "", nil, err
	}
	if len(plain) < 1 || plain[0] != settingVersion {
		return "", nil, errors.New("settings file has an unknown version (written by a newer orgsnap?)")
	}
	n, k := binary.Uvarint(plain[1:])
	if k <= 0 || n > uint64(len(plain)-1-k) {
		return "", nil, errors.New("settings file is malformed")
	}
	name := string(plain[1+k : 1+k+int(n)])
	if r.settingHandle(name).Name != file {
		return "", nil, fmt.Errorf("settings file holds %q, which belongs in another file", name)
	}
	return name, plain[1+k+int(n):], nil
}

// Settings lists the names of all settings, sorted. A file that cannot be
// read or does not authenticate is passed to bad (when not nil) and left
// out; check reports such files as problems.
func (r *Repository) Settings(ctx context.Context, bad func(file string, err error)) ([]string, error) {
	var names []string
	err := r.be.List(ctx, backend.Settings, func(fi backend.FileInfo) error {
		name, data, err := r.openSetting(ctx, fi.Name)
		clear(data)
		if err != nil {
			if bad != nil {
				bad(fi.Name, err)
			}
			return nil
		}
		names = append(names, name)
		return nil
	})
	if err != nil && !backend.IsNotExist(err) {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// DeleteSetting removes a setting. It fails with an error wrapping
// ErrNotFound when there is none, so a mistyped name is noticed.
func (r *Repository) DeleteSetting(ctx context.Context, name string) error {
	if ValidSettingName(name) != nil {
		return fmt.Errorf("setting %q: %w", name, ErrNotFound)
	}
	h := r.settingHandle(name)
	if _, err := r.be.Stat(ctx, h); err != nil {
		if backend.IsNotExist(err) {
			return fmt.Errorf("setting %q: %w", name, ErrNotFound)
		}
		return err
	}
	return r.be.Remove(ctx, h)
}

// checkSettings authenticates every settings file, for Check.
func (r *Repository) checkSettings(ctx context.Context) (int, []Problem, error) {
	var probs []Problem
	names, err := r.Settings(ctx, func(file string, err error) {
		probs = append(probs, Problem{Message: fmt.Sprintf("settings file %s is unreadable: %v", file, err)})
	})
	if err != nil {
		return 0, nil, err
	}
	return len(names) + len(probs), probs, nil
}
