package chunker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
)

func randBytes(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// refCuts is a direct transcription of the package doc comment, working on
// the whole input at once. The streaming Chunker must agree with it.
func refCuts(key Key, p Params, in []byte) []int {
	var t [2048]byte
	blake3.DeriveKey(GearContext, key[:], t[:])
	var g [256]uint64
	for i := range g {
		g[i] = binary.LittleEndian.Uint64(t[8*i:])
	}
	b := bits.Len(uint(p.Avg)) - 1
	ms, ml := ^uint64(0)<<(64-(b+2)), ^uint64(0)<<(64-(b-2))
	var lens []int
	for s := 0; s < len(in); {
		n := len(in) - s
		l := min(n, p.Max)
		if n > p.Min {
			var fp uint64
			for i := p.Min; i < min(n, p.Max); i++ {
				fp = fp<<1 + g[in[s+i]]
				mask := ml
				if i < p.Avg {
					mask = ms
				}
				if fp&mask == 0 {
					l = i + 1
					break
				}
			}
		} else {
			l = n
		}
		lens = append(lens, l)
		s += l
	}
	return lens
}

func chunkAll(t testing.TB, r io.Reader, key Key, p Params) (lens []int, data [][]byte) {
	t.Helper()
	c, err := New(r, key, p)
	if err != nil {
		t.Fatal(err)
	}
	var off uint64
	for {
		ch, err := c.Next(nil)
		if err == io.EOF {
			return lens, data
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Start != off || ch.Length != len(ch.Data) {
			t.Fatalf("chunk start %d length %d/%d, want start %d", ch.Start, ch.Length, len(ch.Data), off)
		}
		off += uint64(ch.Length)
		lens = append(lens, ch.Length)
		data = append(data, ch.Data)
	}
}

var smallParams = Params{Min: 256, Avg: 1024, Max: 4096}

func TestValidate(t *testing.T) {
	for _, p := range []Params{
		{}, {Min: 63, Avg: 1024, Max: 4096}, {Min: 256, Avg: 1000, Max: 4096},
		{Min: 1024, Avg: 1024, Max: 4096}, {Min: 256, Avg: 1024, Max: 1024},
		{Min: 256, Avg: 1024, Max: 2 << 30},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%+v: got %v, want ErrInvalidParams", p, err)
		}
		if _, err := New(bytes.NewReader(nil), Key{}, p); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
	}
	for _, p := range []Params{DefaultParams(), smallParams} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// TestReference checks the streaming chunker against the documented
// algorithm for many lengths and read patterns, and checks the invariants:
// sizes within bounds and concatenation equals the input.
func TestReference(t *testing.T) {
	key := Key{1, 2, 3}
	in := randBytes(1, 3<<20)
	for _, p := range []Params{smallParams, {Min: 64, Avg: 128, Max: 256}, {Min: 64 << 10, Avg: 256 << 10, Max: 1 << 20}} {
		for _, n := range []int{0, 1, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max, p.Max + 1, 100000, len(in)} {
			want := refCuts(key, p, in[:n])
			readers := map[string]io.Reader{
				"whole":   bytes.NewReader(in[:n]),
				"half":    iotest.HalfReader(bytes.NewReader(in[:n])),
				"dataerr": iotest.DataErrReader(bytes.NewReader(in[:n])),
			}
			if n < 20000 {
				readers["onebyte"] = iotest.OneByteReader(bytes.NewReader(in[:n]))
			}
			for name, r := range readers {
				lens, data := chunkAll(t, r, key, p)
				if !equalInts(lens, want) {
					t.Fatalf("%+v n=%d %s: lens %v, want %v", p, n, name, head(lens), head(want))
				}
				if got := bytes.Join(data, nil); !bytes.Equal(got, in[:n]) {
					t.Fatalf("%+v n=%d %s: concatenation differs from input", p, n, name)
				}
				for i, l := range lens {
					if l > p.Max || (i < len(lens)-1 && l <= p.Min) {
						t.Fatalf("%+v n=%d: chunk %d has length %d", p, n, i, l)
					}
				}
			}
		}
	}
}

func head(x []int) []int { return x[:min(len(x), 10)] }

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGolden pins the boundary function: if this fails, existing
// repositories would stop deduplicating against new backups.
func TestGolden(t *testing.T) {
	in := randBytes(42, 1<<20)
	lens, _ := chunkAll(t, bytes.NewReader(in), Key{0xaa}, smallParams)
	want := []int{1680, 1751, 1049, 944, 274, 757, 1127, 1263, 444, 1062}
	if !equalInts(head(lens), want) {
		t.Fatalf("first lengths %v, want %v", head(lens), want)
	}
	if len(lens) != 887 {
		t.Fatalf("%d chunks, want 887", len(lens))
	}
}

func shared(a, b [][]byte) (n int) {
	seen := map[[32]byte]bool{}
	for _, d := range a {
		seen[blake3.Sum256(d)] = true
	}
	for _, d := range b {
		if seen[blake3.Sum256(d)] {
			n++
		}
	}
	return n
}

// TestInsertLocality inserts a few bytes in the middle of a 64 MiB random
// stream: only the chunks around the insert may change.
func TestInsertLocality(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 16 << 20
	}
	in := randBytes(7, size)
	mod := append(append(append([]byte{}, in[:size/2]...), "hello"...), in[size/2:]...)
	for _, p := range []Params{DefaultParams(), smallParams} {
		_, a := chunkAll(t, bytes.NewReader(in), Key{9}, p)
		_, b := chunkAll(t, bytes.NewReader(mod), Key{9}, p)
		s := shared(a, b)
		t.Logf("%+v: %d/%d chunks shared", p, s, len(b))
		if len(b)-s > 3 || float64(s) < 0.9*float64(len(b)) {
			t.Errorf("%+v: only %d of %d chunks shared", p, s, len(b))
		}
	}
}

func TestKeyChangesBoundaries(t *testing.T) {
	in := randBytes(3, 4<<20)
	a, _ := chunkAll(t, bytes.NewReader(in), Key{1}, smallParams)
	b, _ := chunkAll(t, bytes.NewReader(in), Key{2}, smallParams)
	if equalInts(a, b) {
		t.Fatal("different keys gave the same boundaries")
	}
	// Boundaries of the two keys should coincide only by chance.
	cuts := map[int]bool{}
	off := 0
	for _, l := range a {
		off += l
		cuts[off] = true
	}
	same := 0
	off = 0
	for _, l := range b {
		off += l
		if cuts[off] {
			same++
		}
	}
	if same > len(b)/10 {
		t.Fatalf("%d of %d boundaries coincide across keys", same, len(b))
	}
}

func TestDeterministicAndReset(t *testing.T) {
	in := randBytes(5, 2<<20)
	c, err := New(bytes.NewReader(in), Key{}, smallParams)
	if err != nil {
		t.Fatal(err)
	}
	var first []int
	for round := 0; round < 2; round++ {
		var lens []int
		var buf []byte
		for {
			ch, err := c.Next(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			lens = append(lens, ch.Length)
			buf = ch.Data
		}
		if round == 0 {
			first = lens
		} else if !equalInts(first, lens) {
			t.Fatal("boundaries differ after Reset")
		}
		c.Reset(bytes.NewReader(in))
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(randBytes(1, 10000)), iotest.ErrReader(boom))
	c, _ := New(r, Key{}, smallParams)
	for {
		_, err := c.Next(nil)
		if err == nil {
			continue
		}
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want wrapped boom", err)
		}
		// The error is sticky.
		if _, err := c.Next(nil); !errors.Is(err, boom) {
			t.Fatalf("second Next: %v", err)
		}
		return
	}
}

func BenchmarkChunker(b *testing.B) {
	in := randBytes(11, 64<<20)
	for _, bc := range []struct {
		name string
		p    Params
	}{{"default", DefaultParams()}, {"64KiB", Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}}} {
		b.Run(bc.name, func(b *testing.B) {
			r := bytes.NewReader(in)
			c, err := New(r, Key{}, bc.p)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, bc.p.Max)
			b.SetBytes(int64(len(in)))
			b.ResetTimer()
			for b.Loop() {
				r.Reset(in)
				c.Reset(r)
				for {
					ch, err := c.Next(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					buf = ch.Data
				}
			}
		})
	}
}
