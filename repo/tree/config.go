package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/zeebo/blake3"
)

// SaltContext is the BLAKE3 derive-key context of the per-level boundary
// hash keys. It is part of the format: changing it changes every tree.
const SaltContext = "orgsnap 2025-01-01 tree boundary salt v1"

// InternalEntryWeight is the weight of an internal entry beyond its key
// length: a 32-byte child ID plus nominal length and count bytes.
const InternalEntryWeight = 40

// Defaults of Config.
const (
	DefaultMinNode         = 512
	DefaultTargetNode      = 4096
	DefaultMaxNode         = 16384
	DefaultLeafValueWeight = 48
	DefaultBufferEdits     = 100_000
	DefaultBufferBytes     = 32 << 20
)

// ErrInvalidConfig is wrapped by Config validation errors.
var ErrInvalidConfig = errors.New("tree: invalid config")

// Config parameterises trees. Key, MinNode, TargetNode, MaxNode and
// LeafValueWeight decide the tree shape: they must be the same for every
// tree of a repository (store them in its config), or equal contents stop
// having equal root IDs. BufferEdits, BufferBytes and TempDir only tune the
// Editor. Zero fields take the defaults.
type Config struct {
	// Key is a per-repository secret from which the boundary hash keys are
	// derived, so node boundaries (and sizes) do not reveal which Ids exist.
	Key [32]byte

	// Node weight bounds (see the package documentation for the weight of
	// an entry): no cut below MinNode, always a cut at MaxNode, and cut
	// probabilities in between follow a Weibull distribution with shape 4 and
	// scale TargetNode.
	MinNode, TargetNode, MaxNode int

	// LeafValueWeight stands in for the value size in a leaf entry's weight
	// (values do not count, so that changing a value never moves a boundary).
	// Set it near the typical encoded value size; defaults to 48.
	LeafValueWeight int

	// BufferEdits and BufferBytes bound the edits an Editor keeps in memory;
	// beyond either it spills a sorted run to a file in TempDir (the system
	// temp dir if empty).
	BufferEdits int
	BufferBytes int
	TempDir     string
}

// withDefaults fills zero fields and validates c.
func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MinNode, DefaultMinNode)
	def(&c.TargetNode, DefaultTargetNode)
	def(&c.MaxNode, DefaultMaxNode)
	def(&c.LeafValueWeight, DefaultLeafValueWeight)
	def(&c.BufferEdits, DefaultBufferEdits)
	def(&c.BufferBytes, DefaultBufferBytes)
	switch {
	case c.MinNode < 1 || c.MinNode >= c.TargetNode || c.TargetNode >= c.MaxNode:
		return c, fmt.Errorf("%w: need 0 < MinNode < TargetNode < MaxNode, have %d, %d, %d", ErrInvalidConfig, c.MinNode, c.TargetNode, c.MaxNode)
	case c.TargetNode > 1<<16 || c.MaxNode > 1<<20:
		return c, fmt.Errorf("%w: TargetNode %d (max 65536) or MaxNode %d (max 1 MiB) too large", ErrInvalidConfig, c.TargetNode, c.MaxNode)
	case c.LeafValueWeight < 0 || c.LeafValueWeight > MaxValueLen:
		return c, fmt.Errorf("%w: LeafValueWeight %d outside [0, %d]", ErrInvalidConfig, c.LeafValueWeight, MaxValueLen)
	case c.BufferEdits < 1 || c.BufferBytes < 1 || c.BufferEdits > 1<<30 || c.BufferBytes > 1<<30:
		return c, fmt.Errorf("%w: BufferEdits %d and BufferBytes %d must be in [1, 2^30]", ErrInvalidConfig, c.BufferEdits, c.BufferBytes)
	}
	return c, nil
}

// Validate reports whether c (with defaults applied) is usable.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// splitter decides node boundaries. See the package documentation.
type splitter struct {
	min, max, leafW uint64
	t4              uint64 // TargetNode^4
	salts           [MaxLevel + 1][2]uint64
}

func newSplitter(c Config) *splitter {
	s := &splitter{min: uint64(c.MinNode), max: uint64(c.MaxNode), leafW: uint64(c.LeafValueWeight)}
	t := uint64(c.TargetNode)
	s.t4 = t * t * t * t
	var out [16 * (MaxLevel + 1)]byte
	blake3.DeriveKey(SaltContext, c.Key[:], out[:])
	for l := range s.salts {
		s.salts[l] = [2]uint64{binary.LittleEndian.Uint64(out[16*l:]), binary.LittleEndian.Uint64(out[16*l+8:])}
	}
	return s
}

// weight is the weight of an entry with the given key at level.
func (s *splitter) weight(level int, key []byte) uint64 {
	if level == 0 {
		return uint64(len(key)) + s.leafW
	}
	return uint64(len(key)) + InternalEntryWeight
}

// cut reports whether a node at level must end after an entry with key and
// weight w, given the node's total weight W including that entry.
func (s *splitter) cut(level int, key []byte, w, W uint64) bool {
	if W < s.min {
		return false
	}
	if W >= s.max {
		return true
	}
	// Probability w·h(W) with the Weibull(k=4, λ=Target) hazard
	// h(x) = 4x³/λ⁴, as a 64-bit fixed-point threshold.
	hi, lo := bits.Mul64(4*w, W*W*W)
	if hi != 0 || lo >= s.t4 {
		return true
	}
	thr, _ := bits.Div64(lo, 0, s.t4)
	salt := &s.salts[level]
	return sipHash24(salt[0], salt[1], key) < thr
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein) of m with key (k0, k1).
func sipHash24(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
		m = m[8:]
	}
	b := uint64(n) << 56
	for i := len(m) - 1; i >= 0; i-- {
		b |= uint64(m[i]) << (8 * i)
	}
	v3 ^= b
	round()
	round()
	v0 ^= b
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
