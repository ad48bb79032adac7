package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
)

// Record value encoding: see the format comment in objtree.go.

// Field value markers on the wire: the first byte of each field's encoding.
// A first byte of 0x08 or more is not a marker but the first byte of a
// string stored as its bytes and a 0x00 terminator: like a CSV separator,
// the terminator is the same byte every time, so it costs almost nothing
// once compressed (a length prefix varies, and costs about a byte).
const (
	wireNull      = 0x01
	wireFalse     = 0x02
	wireTrue      = 0x03
	wireNumber    = 0x04 // text | 0x00 (JSON number syntax never holds 0x00)
	wireString    = 0x05 // uvarint len | bytes: "", or holds 0x00, or starts below 0x08
	wireFirstText = 0x08 // lowest first byte of a terminated string
)

// needsLength reports whether string s must use the length-prefixed form.
func needsLength(s string) bool {
	return s == "" || s[0] < wireFirstText || strings.IndexByte(s, 0) >= 0
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

const fieldTableVersion = 1

// fieldTable is one object's field-list table: the distinct lists of field
// names its records use, indexed by position. Along a snapshot lineage it is
// append-only (a list's index never changes), which is what makes equal
// records encode to equal bytes in every snapshot of the lineage.
//
// A table loaded for reading is shared (cached) and never modified; the
// writer works on a clone.
type fieldTable struct {
	lists [][]string
	index map[string]int // listKey → position; built by clone (writers only)
	saved int            // lists[:saved] are already stored (the parent's table)
	last  int            // the list used last: most records of an object share one
	key   []byte         // scratch for listKey
}

// listKey identifies a list of names unambiguously (names may hold any byte).
func appendListKey(dst []byte, rec record.Record) []byte {
	for _, f := range rec {
		dst = binary.AppendUvarint(dst, uint64(len(f.Name)))
		dst = append(dst, f.Name...)
	}
	return dst
}

// clone returns a writable copy of t (t may be nil: an empty table).
func (t *fieldTable) clone() *fieldTable {
	c := &fieldTable{index: map[string]int{}}
	if t != nil {
		c.lists = append([][]string(nil), t.lists...)
	}
	for i, l := range c.lists {
		k := c.key[:0]
		for _, n := range l {
			k = binary.AppendUvarint(k, uint64(len(n)))
			k = append(k, n...)
		}
		c.key = k
		c.index[string(k)] = i
	}
	c.saved = len(c.lists)
	return c
}

// indexOf returns the position of rec's name list, appending it if new.
func (t *fieldTable) indexOf(rec record.Record) int {
	if t.last < len(t.lists) && sameNames(t.lists[t.last], rec) {
		return t.last
	}
	t.key = appendListKey(t.key[:0], rec)
	i, ok := t.index[string(t.key)]
	if !ok {
		i = len(t.lists)
		t.lists = append(t.lists, rec.Names())
		t.index[string(t.key)] = i
	}
	t.last = i
	return i
}

func sameNames(names []string, rec record.Record) bool {
	if len(names) != len(rec) {
		return false
	}
	for i, n := range names {
		if rec[i].Name != n {
			return false
		}
	}
	return true
}

// isPrefixOf reports whether t's lists are the first lists of u: then a
// value encoded against t means the same against u.
func (t *fieldTable) isPrefixOf(u *fieldTable) bool {
	if len(t.lists) > len(u.lists) {
		return false
	}
	for i, l := range t.lists {
		m := u.lists[i]
		if len(l) != len(m) {
			return false
		}
		for j := range l {
			if l[j] != m[j] {
				return false
			}
		}
	}
	return true
}

func (t *fieldTable) encode() []byte {
	b := []byte{fieldTableVersion}
	b = binary.AppendUvarint(b, uint64(len(t.lists)))
	for _, l := range t.lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, n := range l {
			b = binary.AppendUvarint(b, uint64(len(n)))
			b = append(b, n...)
		}
	}
	return b
}

func decodeFieldTable(b []byte) (*fieldTable, error) {
	bad := func(what string) (*fieldTable, error) {
		return nil, fmt.Errorf("%w: field-list table: %s", pack.ErrCorrupt, what)
	}
	if len(b) == 0 || b[0] != fieldTableVersion {
		return bad("unknown version")
	}
	b = b[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || n != uvarintLen(v) { // canonical: no over-long uvarints
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nl, ok := uv()
	if !ok || nl > uint64(len(b)) { // every list costs at least one byte
		return bad("bad list count")
	}
	t := &fieldTable{lists: make([][]string, 0, nl)}
	seen := map[string]bool{}
	var key []byte
	for range nl {
		nn, ok := uv()
		if !ok || nn > uint64(len(b)) {
			return bad("bad name count")
		}
		l := make([]string, 0, nn)
		key = key[:0]
		for range nn {
			ln, ok := uv()
			if !ok || ln == 0 || ln > uint64(len(b)) {
				return bad("bad name length")
			}
			n := string(b[:ln])
			b = b[ln:]
			if len(l) > 0 && l[len(l)-1] >= n {
				return bad("names not strictly increasing")
			}
			l = append(l, n)
			key = binary.AppendUvarint(key, ln)
			key = append(key, n...)
		}
		if seen[string(key)] {
			return bad("a list appears twice")
		}
		seen[string(key)] = true
		t.lists = append(t.lists, l)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return t, nil
}

// appendRecordValue appends rec's encoding (tag valFields) against list idx.
func appendRecordValue(dst []byte, idx int, rec record.Record) []byte {
	dst = append(dst, valFields)
	dst = binary.AppendUvarint(dst, uint64(idx))
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	for _, f := range rec {
		switch f.Kind {
		case record.Null:
			dst = append(dst, wireNull)
		case record.Bool:
			if f.Value == "true" {
				dst = append(dst, wireTrue)
			} else {
				dst = append(dst, wireFalse)
			}
		case record.Number:
			dst = append(dst, wireNumber)
			dst = append(dst, f.Value...)
			dst = append(dst, 0)
		case record.String:
			if needsLength(f.Value) {
				dst = append(dst, wireString)
				dst = binary.AppendUvarint(dst, uint64(len(f.Value)))
				dst = append(dst, f.Value...)
			} else {
				dst = append(dst, f.Value...)
				dst = append(dst, 0)
			}
		}
	}
	return dst
}

// wireText is what scanField reports for a terminated string (whose first
// byte, 0x08 or more, is the string's own).
const wireText = wireFirstText

// scanField reads the field encoding at b[p:]: its marker (wireText for a
// terminated string), where its value text lies (b[vs:ve]; empty for null
// and booleans) and where the next field begins. ok is false if b[p:] does
// not begin with a whole field: an invalid marker, a missing terminator, a
// length that is not a shortest-form uvarint or runs past b. It is the one
// reader of field boundaries, shared by the decoder and the delimiter, so
// the two cannot disagree about where a field ends.
func scanField(b []byte, p int) (marker byte, vs, ve, next int, ok bool) {
	if p >= len(b) {
		return 0, 0, 0, 0, false
	}
	switch k := b[p]; {
	case k == wireNull || k == wireFalse || k == wireTrue:
		return k, p + 1, p + 1, p + 1, true
	case k == wireNumber || k >= wireFirstText:
		vs = p
		if k == wireNumber {
			vs++
		} else {
			k = wireText
		}
		e := bytes.IndexByte(b[vs:], 0)
		if e < 0 {
			return 0, 0, 0, 0, false
		}
		return k, vs, vs + e, vs + e + 1, true
	case k == wireString:
		l, n := binary.Uvarint(b[p+1:])
		if n <= 0 || n != uvarintLen(l) || l > uint64(len(b)-p-1-n) {
			return 0, 0, 0, 0, false
		}
		vs = p + 1 + n
		return k, vs, vs + int(l), vs + int(l), true
	}
	return 0, 0, 0, 0, false
}

// recordValueLen returns the length of the leaf value that begins b (b may
// go on with the rest of a tree node): the value encoding delimits itself,
// by its tag and, for valFields, the field count and each field's own end,
// so record-tree leaves need not store value lengths (tree.ValueDelimiter).
// It reads no further than the value. Its uvarints must be in shortest
// form (as everywhere), but beyond that it only finds the end: whether the
// value is canonical and fits the object's field-list table is
// decodeRecord's business.
func recordValueLen(b []byte) (int, error) {
	bad := func(what string) (int, error) {
		return 0, fmt.Errorf("%w: record value: %s", pack.ErrCorrupt, what)
	}
	if len(b) == 0 {
		return bad("empty")
	}
	switch b[0] {
	case valTombstone:
		return 1, nil
	case valBlob:
		if len(b) < valBlobLen {
			return bad("truncated record reference")
		}
		return valBlobLen, nil
	case valFields:
	default:
		return bad(fmt.Sprintf("tag %d", b[0]))
	}
	p := 1
	idx, n := binary.Uvarint(b[p:])
	if n <= 0 || n != uvarintLen(idx) {
		return bad("bad list index")
	}
	p += n
	nf, n := binary.Uvarint(b[p:])
	if n <= 0 || n != uvarintLen(nf) || nf > uint64(len(b)-p-n) { // every field is at least one byte
		return bad("bad field count")
	}
	p += n
	for range nf {
		_, _, _, next, ok := scanField(b, p)
		if !ok {
			return bad("truncated or bad field")
		}
		p = next
	}
	return p, nil
}

// decodeRecordValue decodes a valFields encoding against table t. Corrupt
// or non-canonical input (anything appendRecordValue would not write) is
// an error, never a panic, so equal records always have equal bytes. The
// record's names are shared with the table, and its values with one string
// copied from v, so v may be reused.
func decodeRecordValue(v []byte, t *fieldTable) (record.Record, error) {
	return decodeRecordInto(nil, v, t)
}

// decodeRecordInto is decodeRecordValue reusing dst's array when it is
// large enough (a scan that does not keep records allocates none).
func decodeRecordInto(dst record.Record, v []byte, t *fieldTable) (record.Record, error) {
	bad := func(format string, args ...any) (record.Record, error) {
		return nil, fmt.Errorf("%w: record value: %s", pack.ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(v) == 0 || v[0] != valFields {
		return bad("not a field encoding")
	}
	p := 1
	uv := func() (uint64, bool) {
		x, n := binary.Uvarint(v[p:])
		if n <= 0 || n != uvarintLen(x) {
			return 0, false
		}
		p += n
		return x, true
	}
	idx, ok := uv()
	if !ok {
		return bad("bad list index")
	}
	if t == nil || idx >= uint64(len(t.lists)) {
		return bad("list index %d outside the object's field-list table", idx)
	}
	names := t.lists[idx]
	if nf, ok := uv(); !ok || nf != uint64(len(names)) {
		return bad("field count is not the %d of list %d", len(names), idx)
	}
	s := string(v) // one copy for all values: s[i] is v[i]
	rec := dst[:0]
	if cap(rec) < len(names) {
		rec = make(record.Record, 0, len(names))
	}
	rec = rec[:len(names)]
	for i, name := range names {
		marker, vs, ve, next, ok := scanField(v, p)
		if !ok {
			return bad("field %q: truncated or bad encoding", name)
		}
		p = next
		f := record.Field{Name: name}
		switch marker {
		case wireNull:
		case wireFalse:
			f.Kind, f.Value = record.Bool, "false"
		case wireTrue:
			f.Kind, f.Value = record.Bool, "true"
		case wireNumber:
			f.Kind, f.Value = record.Number, s[vs:ve]
			if !record.IsNumber(f.Value) {
				return bad("field %q: bad number", name)
			}
		case wireString:
			f.Kind, f.Value = record.String, s[vs:ve]
			if !needsLength(f.Value) {
				return bad("field %q: string in the length form that the terminated form should hold", name)
			}
		case wireText:
			f.Kind, f.Value = record.String, s[vs:ve]
		}
		rec[i] = f
	}
	if p != len(v) {
		return bad("%d trailing bytes", len(v)-p)
	}
	return rec, nil
}

// tableCache holds decoded field-list tables by blob ID. Tables are small
// (lists of names) and few (one per object and schema change), so the
// cache is simply emptied when it grows past a bound.
type tableCache struct {
	mu sync.Mutex
	m  map[crypto.ID]*fieldTable
}

const maxCachedTables = 4096

// loadTable returns the (shared, read-only) table stored as blob id; the
// zero ID is the empty table of an object root of version 1.
func (r *Repository) loadTable(ctx context.Context, id crypto.ID) (*fieldTable, error) {
	if id.IsZero() {
		return &fieldTable{}, nil
	}
	c := &r.tables
	c.mu.Lock()
	t := c.m[id]
	c.mu.Unlock()
	if t != nil {
		return t, nil
	}
	b, err := r.LoadBlob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("field-list table %s: %w", id.Short(), err)
	}
	if t, err = decodeFieldTable(b); err != nil {
		return nil, fmt.Errorf("field-list table %s: %w", id.Short(), err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTables {
		c.m = map[crypto.ID]*fieldTable{}
	}
	c.m[id] = t
	c.mu.Unlock()
	return t, nil
}
