package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrWrongPassword means no key slot opens with the given password.
var ErrWrongPassword = errors.New("wrong password")

// KDF names.
const (
	KDFArgon2id = "argon2id"
	// KDFNone stores the master key unwrapped: the repository is encrypted
	// only against people who cannot read its keys/ folder. Chosen only with
	// --insecure-no-password.
	KDFNone = "none"
)

// KDFParams are argon2id's cost parameters.
type KDFParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF costs about 0.3 s and 64 MiB on one core of a 2026 laptop: slow
// enough to make password guessing expensive, fast enough for cron.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// TestKDF is cheap, for tests only.
var TestKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// KeyFile is one key slot: the master key wrapped by a password-derived key.
// Several slots may exist; each opens the same master key, so a password can
// be added, changed or revoked without touching any data.
type KeyFile struct {
	Version  int       `json:"version"`
	KDF      string    `json:"kdf"`
	Params   KDFParams `json:"params,omitempty"`
	Salt     []byte    `json:"salt,omitempty"`
	Wrapped  []byte    `json:"wrapped"` // Seal(master) with the derived key; raw master for KDFNone
	Created  time.Time `json:"created"`
	Host     string    `json:"host,omitempty"`
	Username string    `json:"username,omitempty"`
	Label    string    `json:"label,omitempty"`
}

// Wrap makes a key slot for k opened by password. An empty password with
// KDFNone makes an unprotected slot.
func Wrap(k *Key, password []byte, kdf string, p KDFParams, now time.Time) (*KeyFile, error) {
	kf := &KeyFile{Version: 1, KDF: kdf, Created: now.UTC()}
	master := k.Master()
	switch kdf {
	case KDFNone:
		kf.Wrapped = master[:]
		return kf, nil
	case KDFArgon2id:
		if len(password) == 0 {
			return nil, errors.New("empty password: set one, or pass --insecure-no-password")
		}
		kf.Params = p
		kf.Salt = make([]byte, 16)
		if _, err := rand.Read(kf.Salt); err != nil {
			return nil, err
		}
		aead, err := kf.wrapAEAD(password)
		if err != nil {
			return nil, err
		}
		kf.Wrapped = sealWith(aead, nil, master[:], kf.aad())
		return kf, nil
	}
	return nil, fmt.Errorf("unknown key derivation %q", kdf)
}

// aad binds the wrapped key to its slot's parameters, so they cannot be
// weakened by editing the file.
func (kf *KeyFile) aad() []byte {
	b, _ := json.Marshal(struct {
		V int
		K string
		P KDFParams
		S []byte
	}{kf.Version, kf.KDF, kf.Params, kf.Salt})
	return b
}

func (kf *KeyFile) wrapAEAD(password []byte) (cipher.AEAD, error) {
	if kf.Params.Time == 0 || kf.Params.MemoryKiB == 0 || kf.Params.Threads == 0 {
		return nil, fmt.Errorf("key slot has invalid argon2id parameters %+v", kf.Params)
	}
	dk := argon2.IDKey(password, kf.Salt, kf.Params.Time, kf.Params.MemoryKiB, kf.Params.Threads, KeySize)
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Unwrap opens the slot with password.
func (kf *KeyFile) Unwrap(password []byte) (*Key, error) {
	var master [KeySize]byte
	switch kf.KDF {
	case KDFNone:
		if len(kf.Wrapped) != KeySize {
			return nil, fmt.Errorf("key slot: unprotected key has %d bytes", len(kf.Wrapped))
		}
		copy(master[:], kf.Wrapped)
	case KDFArgon2id:
		aead, err := kf.wrapAEAD(password)
		if err != nil {
			return nil, err
		}
		m, err := openWith(aead, nil, kf.Wrapped, kf.aad())
		if err != nil {
			return nil, ErrWrongPassword
		}
		if len(m) != KeySize {
			return nil, fmt.Errorf("key slot: master key has %d bytes", len(m))
		}
		copy(master[:], m)
	default:
		return nil, fmt.Errorf("key slot uses unknown key derivation %q (written by a newer orgsnap?)", kf.KDF)
	}
	return KeyFromMaster(master)
}
