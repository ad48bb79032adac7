// Package pack reads and writes pack files: many blobs, compressed together
// in frames and encrypted frame by frame, with an encrypted trailer that
// lists every blob so an index can be rebuilt from packs alone.
//
// Layout (all integers little-endian; uvarint is encoding/binary's):
//
//	header   "ORGSNPK1" (8) | version=1 (1) | kind 'd' or 't' (1) | salt (16 random bytes)
//	frames   frame_0 | frame_1 | …        each Seal(zstd(blob_a|blob_b|…), aad="")
//	trailer  Seal(trailer plaintext, aad=header)
//	footer   len(sealed trailer) uint32 | "ORGSNPKT" (8)
//
// Trailer plaintext:
//
//	version=1 (1) | kind (1) | uvarint len(group) | group | varint created (unix seconds)
//	uvarint nframes, then per frame:
//	  uvarint offset | uvarint sealed length | uvarint plain length |
//	  checksum (32: BLAKE3-256 of the sealed frame bytes) | uvarint nblobs, then per blob:
//	    id (32) | type (1) | flags (1) | uvarint offset in plain frame | uvarint length |
//	    alias (32, only when flags&1)
//
// A frame never splits a blob. The frame checksum lets check and prune verify
// or copy a frame without decrypting it; the AEAD tag authenticates it; and
// each blob is checked against its ID once decompressed.
//
// The pack ID is BLAKE3-256 (unkeyed) of the whole file, and its storage name
// is "<group>/<kind><hex id>": the group (the snapshot period, e.g. "2611")
// clusters packs so that dropping a period can delete whole packs.
package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

// ID names a pack.
type ID = crypto.ID

// Kind separates record and file data from metadata (tree nodes, schemas,
// file indexes), so metadata can be read, cached and walked without
// touching data packs.
type Kind byte

const (
	KindData Kind = 'd'
	KindTree Kind = 't'
)

// BlobType says what a blob holds.
type BlobType uint8

const (
	TypeRecordLeaf BlobType = 1 // prolly leaf with inline records (personal data ⇒ data pack)
	TypeRecord     BlobType = 2 // one large record stored out of line
	TypeFileChunk  BlobType = 3 // a piece of a file body
	TypeTreeNode   BlobType = 4 // internal prolly node (hashes and keys)
	TypeFileIndex  BlobType = 5 // a file's chunk list and attributes
	TypeSchema     BlobType = 6 // an object's describe, metadata components
	TypeMeta       BlobType = 7 // other small metadata
)

var typeNames = map[BlobType]string{
	TypeRecordLeaf: "leaf", TypeRecord: "record", TypeFileChunk: "chunk", TypeTreeNode: "node",
	TypeFileIndex: "file", TypeSchema: "schema", TypeMeta: "meta",
}

func (t BlobType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Valid reports whether t is a known type.
func (t BlobType) Valid() bool { _, ok := typeNames[t]; return ok }

// Kind is the pack kind blobs of this type go to.
func (t BlobType) Kind() Kind {
	switch t {
	case TypeRecordLeaf, TypeRecord, TypeFileChunk:
		return KindData
	}
	return KindTree
}

const (
	headerMagic = "ORGSNPK1"
	footerMagic = "ORGSNPKT"
	HeaderSize  = 8 + 1 + 1 + 16
	FooterSize  = 4 + 8
	version     = 1
	flagAlias   = 1
)

// ErrCorrupt marks a pack whose structure is damaged.
var ErrCorrupt = errors.New("corrupt pack")

var groupRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ValidGroup reports whether g can name a pack group.
func ValidGroup(g string) error {
	if !groupRE.MatchString(g) {
		return fmt.Errorf("pack group %q: use 1-32 letters, digits, '-' or '_'", g)
	}
	return nil
}

// Name is the storage name of a pack.
func Name(group string, kind Kind, id ID) string {
	return group + "/" + string(kind) + id.String()
}

// ParseName splits a storage name into group, kind and ID.
func ParseName(name string) (group string, kind Kind, id ID, err error) {
	slash := strings.IndexByte(name, '/')
	if slash < 0 || len(name) != slash+1+1+64 {
		return "", 0, id, fmt.Errorf("%w: bad pack name %q", ErrCorrupt, name)
	}
	group, kind = name[:slash], Kind(name[slash+1])
	if kind != KindData && kind != KindTree {
		return "", 0, id, fmt.Errorf("%w: bad pack kind in %q", ErrCorrupt, name)
	}
	id, err = crypto.ParseID(name[slash+2:])
	return group, kind, id, err
}

// Blob is one trailer entry.
type Blob struct {
	ID       crypto.ID
	Type     BlobType
	Offset   uint32 // in the frame's plaintext
	Length   uint32
	HasAlias bool
	Alias    crypto.ID // a secondary lookup key (e.g. keyed hash of a Salesforce file checksum)
}

// Frame is one sealed frame and the blobs in it.
type Frame struct {
	Offset    uint64 // in the pack file
	SealedLen uint32
	PlainLen  uint32
	Checksum  [32]byte
	Blobs     []Blob
}

// Trailer is a pack's table of contents.
type Trailer struct {
	Kind    Kind
	Group   string
	Created int64
	Frames  []Frame
}

// NumBlobs counts the blobs in the pack.
func (t *Trailer) NumBlobs() int {
	n := 0
	for i := range t.Frames {
		n += len(t.Frames[i].Blobs)
	}
	return n
}

func (t *Trailer) marshal() []byte {
	var b []byte
	b = append(b, version, byte(t.Kind))
	b = binary.AppendUvarint(b, uint64(len(t.Group)))
	b = append(b, t.Group...)
	b = binary.AppendVarint(b, t.Created)
	b = binary.AppendUvarint(b, uint64(len(t.Frames)))
	for _, f := range t.Frames {
		b = binary.AppendUvarint(b, f.Offset)
		b = binary.AppendUvarint(b, uint64(f.SealedLen))
		b = binary.AppendUvarint(b, uint64(f.PlainLen))
		b = append(b, f.Checksum[:]...)
		b = binary.AppendUvarint(b, uint64(len(f.Blobs)))
		for _, bl := range f.Blobs {
			b = append(b, bl.ID[:]...)
			var flags byte
			if bl.HasAlias {
				flags |= flagAlias
			}
			b = append(b, byte(bl.Type), flags)
			b = binary.AppendUvarint(b, uint64(bl.Offset))
			b = binary.AppendUvarint(b, uint64(bl.Length))
			if bl.HasAlias {
				b = append(b, bl.Alias[:]...)
			}
		}
	}
	return b
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: trailer: %s", ErrCorrupt, what)
	}
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.fail("truncated")
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func unmarshalTrailer(b []byte) (*Trailer, error) {
	d := &decoder{b: b}
	hdr := d.bytes(2)
	if d.err == nil && hdr[0] != version {
		return nil, fmt.Errorf("%w: trailer version %d (written by a newer orgsnap?)", ErrCorrupt, hdr[0])
	}
	t := &Trailer{Kind: Kind(hdr[1])}
	t.Group = string(d.bytes(int(d.uvarint(64))))
	if d.err == nil {
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("bad time")
		} else {
			t.Created, d.b = v, d.b[n:]
		}
	}
	nf := d.uvarint(1 << 24)
	for i := uint64(0); i < nf && d.err == nil; i++ {
		var f Frame
		f.Offset = d.uvarint(1 << 40)
		f.SealedLen = uint32(d.uvarint(1 << 31))
		f.PlainLen = uint32(d.uvarint(1 << 31))
		copy(f.Checksum[:], d.bytes(32))
		nb := d.uvarint(1 << 24)
		for j := uint64(0); j < nb && d.err == nil; j++ {
			var bl Blob
			copy(bl.ID[:], d.bytes(32))
			tf := d.bytes(2)
			bl.Type, bl.HasAlias = BlobType(tf[0]), tf[1]&flagAlias != 0
			bl.Offset = uint32(d.uvarint(1 << 31))
			bl.Length = uint32(d.uvarint(1 << 31))
			if bl.HasAlias {
				copy(bl.Alias[:], d.bytes(32))
			}
			if d.err == nil && (!bl.Type.Valid() || uint64(bl.Offset)+uint64(bl.Length) > uint64(f.PlainLen)) {
				d.fail(fmt.Sprintf("blob %s out of its frame or of unknown type", bl.ID.Short()))
			}
			f.Blobs = append(f.Blobs, bl)
		}
		t.Frames = append(t.Frames, f)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: trailer has %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return t, nil
}

// PackID computes a pack's ID from its bytes.
func PackID(data []byte) ID { return blake3.Sum256(data) }

// FrameChecksum is the checksum recorded for a sealed frame.
func FrameChecksum(sealed []byte) [32]byte { return blake3.Sum256(sealed) }

// TrailerLocation reads the footer (the last FooterSize bytes of a pack) and
// returns where the sealed trailer starts and how long it is.
func TrailerLocation(footer []byte, packSize int64) (offset int64, length int, err error) {
	if len(footer) != FooterSize || !bytes.Equal(footer[4:], []byte(footerMagic)) {
		return 0, 0, fmt.Errorf("%w: no pack footer", ErrCorrupt)
	}
	n := int64(binary.LittleEndian.Uint32(footer))
	off := packSize - FooterSize - n
	if off < HeaderSize {
		return 0, 0, fmt.Errorf("%w: trailer length %d does not fit a %d-byte pack", ErrCorrupt, n, packSize)
	}
	return off, int(n), nil
}

// OpenTrailer authenticates and decodes a sealed trailer, given the pack's header.
func OpenTrailer(key *crypto.Key, header, sealed []byte) (*Trailer, error) {
	if len(header) != HeaderSize || !bytes.Equal(header[:8], []byte(headerMagic)) {
		return nil, fmt.Errorf("%w: bad pack header", ErrCorrupt)
	}
	if header[8] != version {
		return nil, fmt.Errorf("%w: pack format version %d (written by a newer orgsnap?)", ErrCorrupt, header[8])
	}
	plain, err := key.Open(nil, sealed, header)
	if err != nil {
		return nil, fmt.Errorf("pack trailer: %w", err)
	}
	t, err := unmarshalTrailer(plain)
	if err != nil {
		return nil, err
	}
	if t.Kind != Kind(header[9]) {
		return nil, fmt.Errorf("%w: trailer kind %q, header kind %q", ErrCorrupt, t.Kind, header[9])
	}
	return t, nil
}

// ReadTrailer parses the trailer of a whole pack held in memory.
func ReadTrailer(key *crypto.Key, data []byte) (*Trailer, error) {
	if len(data) < HeaderSize+FooterSize {
		return nil, fmt.Errorf("%w: %d bytes is too short for a pack", ErrCorrupt, len(data))
	}
	off, n, err := TrailerLocation(data[len(data)-FooterSize:], int64(len(data)))
	if err != nil {
		return nil, err
	}
	return OpenTrailer(key, data[:HeaderSize], data[off:off+int64(n)])
}
