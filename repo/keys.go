package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"time"

	"github.com/zeebo/blake3"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// KeyInfo describes one key slot, for `orgsnap key list`.
type KeyInfo struct {
	ID       string    `json:"id"`
	Current  bool      `json:"current"` // the slot that opened this session
	KDF      string    `json:"kdf"`
	Created  time.Time `json:"created"`
	Host     string    `json:"host,omitempty"`
	Username string    `json:"username,omitempty"`
	Label    string    `json:"label,omitempty"`
}

func hostUser(kf *crypto.KeyFile) {
	kf.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		kf.Username = u.Username
	}
}

// saveKeyFile stores a slot under a name derived from its content.
func saveKeyFile(ctx context.Context, be backend.Backend, kf *crypto.KeyFile) (string, error) {
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return "", err
	}
	sum := blake3.Sum256(data)
	name := hex.EncodeToString(sum[:16])
	err = be.Save(ctx, backend.Handle{Type: backend.Keys, Name: name}, data, backend.SaveOptions{IfNotExists: true})
	return name, err
}

func loadKeyFiles(ctx context.Context, be backend.Backend) (map[string]*crypto.KeyFile, error) {
	out := map[string]*crypto.KeyFile{}
	err := be.List(ctx, backend.Keys, func(fi backend.FileInfo) error {
		data, err := be.Load(ctx, backend.Handle{Type: backend.Keys, Name: fi.Name}, 0, -1)
		if err != nil {
			return err
		}
		kf := &crypto.KeyFile{}
		if err := json.Unmarshal(data, kf); err != nil {
			return fmt.Errorf("key slot %s is damaged: %w", fi.Name, err)
		}
		out[fi.Name] = kf
		return nil
	})
	return out, err
}

// unlock tries every key slot with the password. Unprotected slots open
// without one. It returns the key and the name of the slot that opened it.
func unlock(ctx context.Context, be backend.Backend, password []byte) (*crypto.Key, string, error) {
	slots, err := loadKeyFiles(ctx, be)
	if err != nil {
		return nil, "", err
	}
	if len(slots) == 0 {
		return nil, "", fmt.Errorf("%w: the repository has no key slots (keys/ is empty)", ErrWrongPassword)
	}
	names := make([]string, 0, len(slots))
	for n := range slots {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k, err := slots[n].Unwrap(password)
		if err == nil {
			return k, n, nil
		}
		if !errors.Is(err, crypto.ErrWrongPassword) {
			return nil, "", fmt.Errorf("key slot %s: %w", n, err)
		}
	}
	return nil, "", ErrWrongPassword
}

// Keys lists the key slots.
func (r *Repository) Keys(ctx context.Context, currentPassword []byte) ([]KeyInfo, error) {
	slots, err := loadKeyFiles(ctx, r.be)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for name, kf := range slots {
		cur := false
		if kf.KDF == crypto.KDFNone || currentPassword != nil {
			if k, err := kf.Unwrap(currentPassword); err == nil && k.Master() == r.key.Master() {
				cur = true
			}
		}
		out = append(out, KeyInfo{ID: name, Current: cur, KDF: kf.KDF, Created: kf.Created, Host: kf.Host, Username: kf.Username, Label: kf.Label})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].ID < out[j].ID
	})
	return out, nil
}

// AddKey adds a slot opened by password. It returns the slot's id.
func (r *Repository) AddKey(ctx context.Context, password []byte, params crypto.KDFParams, label string) (string, error) {
	if params == (crypto.KDFParams{}) {
		params = crypto.DefaultKDF
	}
	kf, err := crypto.Wrap(r.key, password, crypto.KDFArgon2id, params, r.now())
	if err != nil {
		return "", err
	}
	hostUser(kf)
	kf.Label = label
	return saveKeyFile(ctx, r.be, kf)
}

// RemoveKey deletes a slot. The last slot cannot be removed: that would
// make the repository unreadable.
func (r *Repository) RemoveKey(ctx context.Context, id string) error {
	slots, err := loadKeyFiles(ctx, r.be)
	if err != nil {
		return err
	}
	if _, ok := slots[id]; !ok {
		return fmt.Errorf("key slot %q: %w (see `orgsnap key list`)", id, ErrNotFound)
	}
	if len(slots) == 1 {
		return errors.New("refusing to remove the last key slot: the repository would become unreadable")
	}
	if err := r.logKeyRemoval(ctx, id); err != nil {
		return err
	}
	return r.be.Remove(ctx, backend.Handle{Type: backend.Keys, Name: id})
}

// logKeyRemoval records in the audit log that a key slot is being removed
// on purpose, before it goes, so that push removes it from remotes too
// (RemovalLog.KeyRemoved). A slot another machine added is not in the log,
// and push leaves it there.
func (r *Repository) logKeyRemoval(ctx context.Context, id string) error {
	_, err := r.AppendAudit(ctx, "keyremoved", struct {
		RemovedKeys []string `json:"removed_keys"`
	}{[]string{id}})
	return err
}

// ChangePassword replaces the slot that old opens with one for new. The new
// slot is written before the old one is removed, so a crash in between
// leaves both working.
func (r *Repository) ChangePassword(ctx context.Context, old, new []byte, params crypto.KDFParams) (string, error) {
	_, oldName, err := unlock(ctx, r.be, old)
	if err != nil {
		return "", err
	}
	id, err := r.AddKey(ctx, new, params, "")
	if err != nil {
		return "", err
	}
	if err := r.logKeyRemoval(ctx, oldName); err != nil {
		return id, fmt.Errorf("new password added, but recording the removal of the old slot %s failed: %w", oldName, err)
	}
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.Keys, Name: oldName}); err != nil {
		return id, fmt.Errorf("new password added, but removing the old slot %s failed: %w", oldName, err)
	}
	return id, nil
}

// CheckPassword reports whether password opens one of the key slots
// stored on be (ErrWrongPassword if none does): clone asks it of a remote
// before downloading its packs. An unprotected slot opens with any password.
func CheckPassword(ctx context.Context, be backend.Backend, password []byte) error {
	_, _, err := unlock(ctx, be, password)
	return err
}
