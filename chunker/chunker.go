// Package chunker splits byte streams into content-defined chunks (FastCDC
// style, with normalized chunking and a keyed gear table).
//
// # Boundary function (format, version 1)
//
// The boundaries are a pure function of (Key, Params, input bytes). A second
// implementation reproduces them exactly as follows.
//
// Gear table. G[0..255] are 64-bit words: let T be the first 2048 bytes of
// the BLAKE3 derive-key output (XOF) for context string GearContext and key
// material Key (32 bytes), i.e. blake3.DeriveKey(GearContext, Key[:], T).
// Then G[i] = little-endian uint64 of T[8i : 8i+8].
//
// Masks. Let b = log2(Avg) (Avg is a power of two). The "small" mask MS has
// its top b+2 bits set and the "large" mask ML its top b-2 bits set:
// MS = ^uint64(0) << (64-(b+2)), ML = ^uint64(0) << (64-(b-2)). Using the top
// bits makes every tested bit depend on the last 42..64 bytes (the gear hash
// shifts left once per byte).
//
// Cutting. Chunks are cut one after another from the start of the stream.
// For the chunk starting at stream offset s, with n bytes remaining in the
// stream:
//
//   - if n <= Min, the chunk is the remaining n bytes (the last chunk);
//   - otherwise fp = 0, and for i = Min, Min+1, ..., min(n, Max)-1 (i is the
//     offset inside the chunk of byte x = input[s+i]):
//     fp = fp<<1 + G[x] (mod 2^64); mask = MS if i < Avg else ML;
//     if fp&mask == 0 the chunk has length i+1 and the scan stops;
//   - if no cut was found the chunk has length min(n, Max).
//
// Bytes below Min are never hashed (FastCDC's "skip"), the stricter mask
// before Avg and the looser one after it pull chunk sizes towards Avg
// (normalized chunking, level 2). Every chunk except the last has a length
// in (Min, Max]; the last may be anything from 1 byte up to Max. An empty
// stream has no chunks.
//
// The key randomises the gear table so chunk lengths do not fingerprint
// known content (the chunk-size side channel against deduplicating backups):
// without the key, an observer of chunk sizes cannot tell which boundaries
// a given file would produce.
package chunker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/zeebo/blake3"
)

// GearContext is the BLAKE3 derive-key context of the gear table. Changing it
// changes every boundary: it is part of the repository format.
const GearContext = "orgsnap 2025-01-01 chunker gear table v1"

// Default parameters, as restic: 512 KiB / 1 MiB / 8 MiB.
const (
	DefaultMin = 512 << 10
	DefaultAvg = 1 << 20
	DefaultMax = 8 << 20
)

// Limits enforced by Params.Validate.
const (
	MinMin = 64      // the gear hash window: smaller minimums make no sense
	MaxMax = 1 << 30 // a chunk is held in memory
)

// ErrInvalidParams is wrapped by every Params validation error.
var ErrInvalidParams = errors.New("chunker: invalid parameters")

// Key is a per-repository secret that selects the gear table.
type Key [32]byte

// Params are the chunk size bounds, in bytes.
type Params struct {
	Min, Avg, Max int
}

// DefaultParams returns the default 512 KiB / 1 MiB / 8 MiB parameters.
func DefaultParams() Params { return Params{Min: DefaultMin, Avg: DefaultAvg, Max: DefaultMax} }

// Validate reports whether p satisfies MinMin <= Min, Min+4 <= Avg < Max <=
// MaxMax with Avg a power of two.
func (p Params) Validate() error {
	switch {
	case p.Min < MinMin:
		return fmt.Errorf("%w: Min %d below %d", ErrInvalidParams, p.Min, MinMin)
	case p.Avg <= 0 || p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("%w: Avg %d is not a power of two", ErrInvalidParams, p.Avg)
	case p.Avg < 64:
		return fmt.Errorf("%w: Avg %d below 64", ErrInvalidParams, p.Avg)
	case p.Avg <= p.Min:
		return fmt.Errorf("%w: Avg %d must exceed Min %d", ErrInvalidParams, p.Avg, p.Min)
	case p.Max <= p.Avg:
		return fmt.Errorf("%w: Max %d must exceed Avg %d", ErrInvalidParams, p.Max, p.Avg)
	case p.Max > MaxMax:
		return fmt.Errorf("%w: Max %d above %d", ErrInvalidParams, p.Max, MaxMax)
	}
	return nil
}

// Chunk is one piece of the input.
type Chunk struct {
	Start  uint64 // offset of the chunk in the stream
	Length int    // len(Data)
	Data   []byte // the chunk bytes, stored in the buffer passed to Next
}

// Chunker cuts a stream into chunks. It holds one internal read buffer of
// bufSize bytes; the chunk itself is assembled in the caller's buffer, so
// memory is bounded by bufSize + Max whatever the stream length.
// A Chunker is not safe for concurrent use.
type Chunker struct {
	gear         [256]uint64
	maskS, maskL uint64
	p            Params

	r          io.Reader
	buf        []byte
	bpos, bmax int    // unread bytes are buf[bpos:bmax]
	pos        uint64 // stream offset of the next chunk
	err        error  // sticky read error (io.EOF at the end)
}

const bufSize = 512 << 10

// New returns a Chunker reading r, with the gear table derived from key.
func New(r io.Reader, key Key, p Params) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Chunker{p: p, buf: make([]byte, bufSize)}
	var t [256 * 8]byte
	blake3.DeriveKey(GearContext, key[:], t[:])
	for i := range c.gear {
		c.gear[i] = binary.LittleEndian.Uint64(t[8*i:])
	}
	b := bits.TrailingZeros(uint(p.Avg))
	c.maskS = ^uint64(0) << (64 - (b + 2))
	c.maskL = ^uint64(0) << (64 - (b - 2))
	c.Reset(r)
	return c, nil
}

// Reset makes c read a new stream from r, keeping its key, parameters and
// buffers (cheap: use one Chunker for many small files).
func (c *Chunker) Reset(r io.Reader) {
	c.r, c.bpos, c.bmax, c.pos, c.err = r, 0, 0, 0, nil
}

// fill reads more input into the internal buffer. It returns false when no
// more bytes will come (c.err is then set).
func (c *Chunker) fill() bool {
	if c.err != nil {
		return false
	}
	for {
		n, err := c.r.Read(c.buf)
		c.bpos, c.bmax = 0, n
		if err != nil {
			c.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// Next returns the next chunk, appending its bytes to buf[:0] (pass the
// previous chunk's Data back in to reuse it; it grows up to Max). At the end
// of the stream it returns io.EOF; read errors are returned wrapped.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	data := buf[:0]
	lo, avg, hi := c.p.Min, c.p.Avg, c.p.Max
	var fp uint64
	for {
		if c.bpos >= c.bmax && !c.fill() {
			if c.err != io.EOF {
				return Chunk{}, fmt.Errorf("chunker: read at offset %d: %w", c.pos+uint64(len(data)), c.err)
			}
			if len(data) == 0 {
				return Chunk{}, io.EOF
			}
			return c.emit(data), nil
		}
		in := c.buf[c.bpos:c.bmax]
		n := len(data)
		if n < lo { // skip: copy without hashing
			k := min(lo-n, len(in))
			data = append(data, in[:k]...)
			c.bpos += k
			continue
		}
		// Hash bytes at chunk offsets n, n+1, ... up to Max.
		in = in[:min(len(in), hi-n)]
		gear := &c.gear
		i := 0
		if n < avg {
			m := min(len(in), avg-n)
			mask := c.maskS
			for ; i < m; i++ {
				fp = fp<<1 + gear[in[i]]
				if fp&mask == 0 {
					i++
					goto cut
				}
			}
		}
		{
			mask := c.maskL
			for ; i < len(in); i++ {
				fp = fp<<1 + gear[in[i]]
				if fp&mask == 0 {
					i++
					goto cut
				}
			}
		}
		data = append(data, in...)
		c.bpos += len(in)
		if len(data) == hi {
			return c.emit(data), nil
		}
		continue
	cut:
		data = append(data, in[:i]...)
		c.bpos += i
		return c.emit(data), nil
	}
}

func (c *Chunker) emit(data []byte) Chunk {
	ch := Chunk{Start: c.pos, Length: len(data), Data: data}
	c.pos += uint64(len(data))
	return ch
}
