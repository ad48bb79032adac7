package pack

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

func TestWriteRead(t *testing.T) {
	key, _ := crypto.NewRandomKey()
	w, err := NewWriter(key, KindData, "2611", Options{FrameSize: 1000, Now: func() int64 { return 42 }})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var blobs [][]byte
	for i := 0; i < 50; i++ {
		b := []byte(fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte{'x'}, rng.Intn(300))))
		if i == 7 {
			b = make([]byte, 5000) // larger than a frame
			rng.Read(b)            // and incompressible
		}
		blobs = append(blobs, b)
		var alias *crypto.ID
		if i%10 == 0 {
			a := key.Alias("md5", b)
			alias = &a
		}
		w.Add(key.BlobID(b), TypeRecordLeaf, b, alias)
	}
	data, id, tr, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if id != PackID(data) {
		t.Fatal("pack id mismatch")
	}
	got, err := ReadTrailer(key, data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Group != "2611" || got.Kind != KindData || got.Created != 42 || got.NumBlobs() != 50 || len(got.Frames) != len(tr.Frames) {
		t.Fatalf("trailer = %+v", got)
	}
	i := 0
	for _, f := range got.Frames {
		sealed := data[f.Offset : f.Offset+uint64(f.SealedLen)]
		if FrameChecksum(sealed) != f.Checksum {
			t.Fatal("frame checksum")
		}
		plain, err := OpenFrame(key, sealed)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range f.Blobs {
			body := plain[b.Offset : b.Offset+b.Length]
			if !bytes.Equal(body, blobs[i]) || key.BlobID(body) != b.ID {
				t.Fatalf("blob %d differs", i)
			}
			if b.HasAlias != (i%10 == 0) {
				t.Fatalf("blob %d alias flag", i)
			}
			i++
		}
	}
	// A different key cannot read it.
	other, _ := crypto.NewRandomKey()
	if _, err := ReadTrailer(other, data); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("other key: %v", err)
	}
	// Any flipped byte is detected somewhere: trailer, footer, or a frame.
	for _, pos := range []int{0, 12, HeaderSize + 3, len(data) / 2, len(data) - 20, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[pos] ^= 0x40
		if err := verify(key, bad); err == nil {
			t.Errorf("flip at %d not detected", pos)
		}
	}
}

// verify reads a whole pack the way check --read-data does.
func verify(key *crypto.Key, data []byte) error {
	tr, err := ReadTrailer(key, data)
	if err != nil {
		return err
	}
	for _, f := range tr.Frames {
		end := f.Offset + uint64(f.SealedLen)
		if end > uint64(len(data)) {
			return ErrCorrupt
		}
		sealed := data[f.Offset:end]
		if FrameChecksum(sealed) != f.Checksum {
			return ErrCorrupt
		}
		plain, err := OpenFrame(key, sealed)
		if err != nil {
			return err
		}
		for _, b := range f.Blobs {
			if key.BlobID(plain[b.Offset:b.Offset+b.Length]) != b.ID {
				return ErrCorrupt
			}
		}
	}
	return nil
}

func TestName(t *testing.T) {
	var id ID
	id[0] = 0xab
	n := Name("2611", KindTree, id)
	g, k, got, err := ParseName(n)
	if err != nil || g != "2611" || k != KindTree || got != id {
		t.Fatalf("ParseName(%q) = %q %q %v %v", n, g, k, got, err)
	}
	for _, bad := range []string{"", "2611", "2611/x" + id.String(), "2611/t" + id.String()[1:]} {
		if _, _, _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	if ValidGroup("../x") == nil || ValidGroup("") == nil || ValidGroup("2611") != nil {
		t.Fatal("ValidGroup")
	}
}

func FuzzTrailer(f *testing.F) {
	key, _ := crypto.NewRandomKey()
	w, _ := NewWriter(key, KindTree, "g", Options{})
	w.Add(key.BlobID([]byte("a")), TypeTreeNode, []byte("a"), nil)
	_, _, tr, _ := w.Finish()
	f.Add(tr.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := unmarshalTrailer(b)
		if err == nil && tr == nil {
			t.Fatal("nil trailer without error")
		}
	})
}
