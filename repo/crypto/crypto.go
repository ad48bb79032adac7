// Package crypto holds the repository's keys and the two operations every
// stored byte goes through: a keyed content ID, and authenticated encryption.
//
// Key hierarchy (all derivations are BLAKE3 DeriveKey with the context
// strings below, from the 32-byte random master key):
//
//	master ─┬─ "orgsnap 2026-11 blob id"      → keyed BLAKE3 for blob IDs
//	        ├─ "orgsnap 2026-11 encryption"   → AES-256-GCM key
//	        ├─ "orgsnap 2026-11 tree salt"    → prolly-tree boundary salt
//	        ├─ "orgsnap 2026-11 chunker"      → file chunker gear-table key
//	        └─ "orgsnap 2026-11 alias"        → keyed hash for secondary lookups
//
// Blob IDs are keyed so that someone who sees IDs (pack trailers are
// encrypted, but the local index is not) cannot test whether the repository
// holds a known record or file.
//
// Sealed format: nonce (12 random bytes) || AES-256-GCM ciphertext || tag
// (16 bytes); 28 bytes of overhead. Random 96-bit nonces are safe for 2^32
// seals under one key; the repository seals frames of many blobs, not single
// blobs, so that bound is far away (a 10M-record org is ~100K frames).
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// KeySize is the size of the master key and of every derived key.
const KeySize = 32

// Overhead is what Seal adds to a plaintext.
const Overhead = nonceSize + tagSize

const (
	nonceSize = 12
	tagSize   = 16
)

// ErrAuth means a ciphertext did not authenticate: the data is damaged, or
// was not written with this repository's key.
var ErrAuth = errors.New("ciphertext does not authenticate (damaged data or wrong key)")

// ID is a 32-byte content address.
type ID [32]byte

// String returns the lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 bytes in hex, for display.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ID (used for "none").
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText writes the hex form (JSON and other text encodings).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the hex form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses a 64-character hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("invalid id %q: want 64 hex characters", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid id %q: %w", s, err)
	}
	return id, nil
}

// Key is an unwrapped master key with its derived keys. Safe for concurrent use.
type Key struct {
	master    [KeySize]byte
	idKey     [KeySize]byte
	TreeSalt  [KeySize]byte
	ChunkKey  [KeySize]byte
	aliasKey  [KeySize]byte
	aead      cipher.AEAD
	digestMAC cipher.AEAD // GMAC of record values in base digests (DigestMAC)
	hashers   sync.Pool   // keyed blake3 hashers for IDs
	aliasPool sync.Pool
}

// NewRandomKey makes a fresh master key.
func NewRandomKey() (*Key, error) {
	var m [KeySize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	return KeyFromMaster(m)
}

// KeyFromMaster derives the working keys from a master key.
func KeyFromMaster(master [KeySize]byte) (*Key, error) {
	k := &Key{master: master}
	derive := func(ctx string, out *[KeySize]byte) {
		blake3.DeriveKey(ctx, master[:], out[:])
	}
	var enc [KeySize]byte
	derive("orgsnap 2026-11 blob id", &k.idKey)
	derive("orgsnap 2026-11 encryption", &enc)
	derive("orgsnap 2026-11 tree salt", &k.TreeSalt)
	derive("orgsnap 2026-11 chunker", &k.ChunkKey)
	derive("orgsnap 2026-11 alias", &k.aliasKey)
	var dig [KeySize]byte
	derive("orgsnap 2026-11 base digest", &dig)
	db, err := aes.NewCipher(dig[:])
	if err != nil {
		return nil, err
	}
	if k.digestMAC, err = cipher.NewGCM(db); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc[:])
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	k.hashers.New = func() any {
		h, _ := blake3.NewKeyed(k.idKey[:])
		return h
	}
	k.aliasPool.New = func() any {
		h, _ := blake3.NewKeyed(k.aliasKey[:])
		return h
	}
	return k, nil
}

// Master returns the master key bytes (for wrapping into a key slot).
func (k *Key) Master() [KeySize]byte { return k.master }

// BlobID is the keyed BLAKE3 hash of a blob's plaintext.
func (k *Key) BlobID(data []byte) ID {
	h := k.hashers.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(data)
	var id ID
	h.Sum(id[:0])
	k.hashers.Put(h)
	return id
}

// DigestMAC is a keyed 128-bit hash of data for equality checks in local
// summaries (base digests): the GCM tag, under the key derived as "orgsnap
// 2026-11 base digest", of an empty plaintext with data as additional
// data and an all-zero nonce, i.e. GMAC. With the nonce fixed, two inputs
// share a tag exactly when their GHASH under the secret hash key does,
// which no one without the key can arrange (GHASH is almost-XOR-universal:
// chance collisions are about len/2^128), and it runs about seven times
// faster than BlobID on a record, which matters where every record of a
// snapshot is hashed. It is not a content address: never use it for
// blob IDs.
func (k *Key) DigestMAC(data []byte) [16]byte {
	var nonce [12]byte
	var out [16]byte
	k.digestMAC.Seal(out[:0], nonce[:], nil, data)
	return out
}

// Alias hashes a secondary lookup key (a Salesforce file checksum, an erased
// record Id) so that the index holds no plaintext identifiers.
func (k *Key) Alias(namespace string, key []byte) ID {
	h := k.aliasPool.Get().(*blake3.Hasher)
	h.Reset()
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write(key)
	var id ID
	h.Sum(id[:0])
	k.aliasPool.Put(h)
	return id
}

// Seal encrypts and authenticates plaintext, binding aad, and appends the
// result to dst.
func (k *Key) Seal(dst, plaintext, aad []byte) []byte {
	return sealWith(k.aead, dst, plaintext, aad)
}

// Open authenticates and decrypts sealed (as made by Seal with the same
// aad), appending the plaintext to dst.
func (k *Key) Open(dst, sealed, aad []byte) ([]byte, error) {
	return openWith(k.aead, dst, sealed, aad)
}

func sealWith(aead cipher.AEAD, dst, plaintext, aad []byte) []byte {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS RNG failing is not recoverable
	}
	dst = append(dst, nonce[:]...)
	return aead.Seal(dst, nonce[:], plaintext, aad)
}

func openWith(aead cipher.AEAD, dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than nonce and tag", ErrAuth, len(sealed))
	}
	out, err := aead.Open(dst, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
