package crypto

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	k, err := NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("Account 001000000000001AAA")
	sealed := k.Seal(nil, msg, []byte("aad"))
	if len(sealed) != len(msg)+Overhead {
		t.Fatalf("sealed %d bytes, want %d", len(sealed), len(msg)+Overhead)
	}
	got, err := k.Open(nil, sealed, []byte("aad"))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := k.Open(nil, sealed, []byte("other")); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong aad: %v", err)
	}
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 1
		if _, err := k.Open(nil, bad, []byte("aad")); !errors.Is(err, ErrAuth) {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := k.Open(nil, sealed[:10], nil); !errors.Is(err, ErrAuth) {
		t.Fatal("short input accepted")
	}
}

func TestBlobIDKeyed(t *testing.T) {
	k1, _ := NewRandomKey()
	k2, _ := NewRandomKey()
	data := []byte("same plaintext")
	if k1.BlobID(data) != k1.BlobID(data) {
		t.Fatal("blob id not deterministic")
	}
	if k1.BlobID(data) == k2.BlobID(data) {
		t.Fatal("blob ids equal across keys: ids would leak content")
	}
	if k1.Alias("md5", data) == k1.BlobID(data) {
		t.Fatal("alias and blob id share a key")
	}
}

func TestKeyFile(t *testing.T) {
	k, _ := NewRandomKey()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kf, err := Wrap(k, []byte("s3cret"), KDFArgon2id, TestKDF, now)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := kf.Unwrap([]byte("s3cret"))
	if err != nil || k2.Master() != k.Master() {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := kf.Unwrap([]byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	// Weakening the parameters in the file breaks the slot rather than
	// making guessing cheaper.
	kf.Params.Time = 1
	kf.Params.MemoryKiB = 8
	if _, err := kf.Unwrap([]byte("s3cret")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("tampered params: %v", err)
	}
	if _, err := Wrap(k, nil, KDFArgon2id, TestKDF, now); err == nil {
		t.Fatal("empty password accepted")
	}
	none, err := Wrap(k, nil, KDFNone, KDFParams{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if k3, err := none.Unwrap(nil); err != nil || k3.Master() != k.Master() {
		t.Fatalf("unprotected slot: %v", err)
	}
}

func BenchmarkBlobID600(b *testing.B) {
	k, _ := NewRandomKey()
	data := bytes.Repeat([]byte("x"), 600)
	b.SetBytes(600)
	for i := 0; i < b.N; i++ {
		k.BlobID(data)
	}
}
