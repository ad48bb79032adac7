package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// An object's records are two prolly trees: a base, and a delta holding
// what changed since the base (new values, and tombstones for records the
// base has but the snapshot does not). The effective record set is the base
// overlaid with the delta.
//
// Why: under random churn a change to 1% of records touches most leaves of
// a single tree, so a synthetic snapshot would rewrite most of it. With a
// delta, it writes only the delta (about the size of the changes). When the
// delta holds more than 1/RebaseRatio of the base's entries it is folded into
// a new base, which is exactly what a history-independent tree of the
// current records would be.
//
// Invariants:
//   - a delta never holds a value equal to the base's value for that key,
//     nor a tombstone for a key the base lacks (so equal record sets with the
//     same base have equal deltas, and diffs see no phantom changes);
//   - a base never holds tombstones.

// Record encoding (format of object roots, leaf values and field-list
// tables; uvarint is encoding/binary's unsigned LEB128, at most 10 bytes).
//
// Object root (value of an object's entry in a snapshot's root tree):
//
//	version 2: 2 | base (32) | delta (32) | files (32) | schema (32) | table (32) |
//	           uvarint records | uvarint base entries | uvarint delta entries | uvarint files
//	version 1: 1 | base | delta | files | schema | the same four uvarints (no table;
//	           written before records were typed: decoded as an empty table)
//
// Each ID is a blob ID; all zero means none (an empty tree, no schema, no
// table). Records is the number of records in the snapshot; base and delta
// entries count the two trees' entries (tombstones included); files counts
// the files tree.
//
// Field-list table (blob of type meta, in a tree pack; ID in the object
// root): the distinct lists of field names the object's records use.
//
//	1 (version) | uvarint nLists | per list: uvarint nNames | per name: uvarint len | name bytes
//
// Names are non-empty and strictly increasing bytewise within a list; no
// list appears twice. A record names its list by position (0-based). Along
// a snapshot lineage (each snapshot's table for an object starts as its
// parent's: a full re-read included) the table is append-only, so a list's
// position never changes and equal records encode to equal bytes, which the
// delta invariant and diffs rely on. Two tables of which neither is a prefix
// of the other (different lineages) give the same bytes different meanings:
// Diff then compares decoded records.
//
// Leaf value (record trees; the key is the record Id), first byte a tag:
//
//	4 (valFields) | uvarint list | uvarint n | n field encodings: one per name of that list, in order
//	1 (valBlob)   | 32-byte ID of a record blob holding a valFields encoding (tag included)
//	2 (valTombstone), alone: delta only, deleted relative to the base
//	3 (valFieldsV0): fields without n, from pre-release builds; no longer written or read
//	0 (valInline) | raw bytes: records before typed encoding; no longer written or read
//
// A leaf value delimits itself (its end follows from its tag, n and each
// field's own end, without the field-list table), so record-tree leaves do
// not store value lengths: the repository's node store is the trees'
// tree.ValueDelimiter (recordValueLen), and a leaf whose values all
// delimit themselves is stored compact. n equals the length of the list
// (redundant with the table, which the delimiter cannot see).
//
// A valFields encoding longer than the repository's inline_limit is stored
// out of line (valBlob) instead. Field encodings, by first byte:
//
//	0x01          null
//	0x02          false
//	0x03          true
//	0x04          number: text | 0x00 (the text in JSON number syntax, kept exactly as given)
//	0x05          string: uvarint len | bytes (used only when the string is empty,
//	              holds a 0x00 byte, or starts with a byte below 0x08)
//	0x08 … 0xff   string: the string's bytes (this byte is its first) | 0x00
//	0x00, 0x06, 0x07: invalid
//
// The encoding is canonical: a reader must reject anything else (an
// over-long uvarint, the 0x05 form where the terminated form applies,
// trailing bytes), so that equal records always have equal bytes.
const (
	valInline    = 0
	valBlob      = 1
	valTombstone = 2
	valFieldsV0  = 3
	valFields    = 4

	valBlobLen = 1 + len(crypto.ID{}) // tag and blob ID
)

// objectRoot is one object's entry in a snapshot's root tree (encoding
// above: version 2 is written, 1 and 2 are read).
type objectRoot struct {
	Base, Delta, Files, Schema, Table crypto.ID
	Records, BaseN, DeltaN, NFiles    uint64
}

func (o *objectRoot) encode() []byte {
	b := make([]byte, 0, 1+5*32+4*5)
	b = append(b, 2)
	for _, id := range []*crypto.ID{&o.Base, &o.Delta, &o.Files, &o.Schema, &o.Table} {
		b = append(b, id[:]...)
	}
	for _, v := range []uint64{o.Records, o.BaseN, o.DeltaN, o.NFiles} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func decodeObjectRoot(b []byte) (objectRoot, error) {
	var o objectRoot
	ids := []*crypto.ID{&o.Base, &o.Delta, &o.Files, &o.Schema, &o.Table}
	if len(b) == 0 || (b[0] != 1 && b[0] != 2) {
		return o, fmt.Errorf("%w: bad object entry", pack.ErrCorrupt)
	}
	if b[0] == 1 {
		ids = ids[:4]
	}
	if len(b) < 1+32*len(ids) {
		return o, fmt.Errorf("%w: short object entry", pack.ErrCorrupt)
	}
	b = b[1:]
	for _, id := range ids {
		copy(id[:], b)
		b = b[32:]
	}
	for _, p := range []*uint64{&o.Records, &o.BaseN, &o.DeltaN, &o.NFiles} {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return o, fmt.Errorf("%w: bad object entry counts", pack.ErrCorrupt)
		}
		*p, b = v, b[n:]
	}
	return o, nil
}

// encodeRecord turns a record's valFields encoding into a leaf value,
// storing it as a blob of its own when it is longer than InlineLimit. The
// result may alias enc.
func (r *Repository) encodeRecord(ctx context.Context, group string, enc []byte) ([]byte, error) {
	if len(enc) <= r.cfg.InlineLimit {
		return enc, nil
	}
	id, _, err := r.SaveBlob(ctx, pack.TypeRecord, group, enc, nil)
	if err != nil {
		return nil, err
	}
	return append([]byte{valBlob}, id[:]...), nil
}

// decodeRecord turns a leaf value back into a record, against the
// object's field-list table.
func (r *Repository) decodeRecord(ctx context.Context, t *fieldTable, v []byte) (record.Record, error) {
	return r.decodeRecordInto(ctx, nil, t, v)
}

// decodeRecordInto is decodeRecord reusing dst's array (decodeRecordInto).
func (r *Repository) decodeRecordInto(ctx context.Context, dst record.Record, t *fieldTable, v []byte) (record.Record, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty record value", pack.ErrCorrupt)
	}
	switch v[0] {
	case valFields:
		return decodeRecordInto(dst, v, t)
	case valBlob:
		if len(v) != valBlobLen {
			return nil, fmt.Errorf("%w: bad record reference", pack.ErrCorrupt)
		}
		var id crypto.ID
		copy(id[:], v[1:])
		b, err := r.LoadBlob(ctx, id)
		if err != nil {
			return nil, err
		}
		return decodeRecordInto(dst, b, t)
	case valInline, valFieldsV0:
		return nil, fmt.Errorf("%w: record in a pre-release format of an older orgsnap build (not readable by this one)", pack.ErrCorrupt)
	}
	return nil, fmt.Errorf("%w: record value tag %d", pack.ErrCorrupt, v[0])
}

func isTombstone(v []byte) bool { return len(v) == 1 && v[0] == valTombstone }

// sameRecord reports whether two leaf values (neither a tombstone) hold
// equivalent records under table t (record.Equivalent: a field one lacks
// is null in it). Equal bytes are the same record, and two values of the
// same field list are the same record exactly when their bytes are equal
// (the encoding is canonical), so only values of different lists — the
// object's schema changed between them — are decoded.
func (r *Repository) sameRecord(ctx context.Context, t *fieldTable, a, b []byte) (bool, error) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	if la, ok := fieldListOf(a); ok {
		if lb, ok := fieldListOf(b); ok && la == lb {
			return false, nil
		}
	}
	ra, err := r.decodeRecord(ctx, t, a)
	if err != nil {
		return false, err
	}
	rb, err := r.decodeRecord(ctx, t, b)
	if err != nil {
		return false, err
	}
	return ra.Equivalent(rb), nil
}

// fieldListOf is the field list an inline record value names (false for a
// value stored out of line, whose list is in its blob).
func fieldListOf(v []byte) (uint64, bool) {
	if len(v) < 2 || v[0] != valFields {
		return 0, false
	}
	list, n := binary.Uvarint(v[1:])
	return list, n > 0
}

// recordValue returns an object's effective leaf value for key (nil if the
// record is not in the snapshot).
func (r *Repository) recordValue(ctx context.Context, o objectRoot, key []byte) ([]byte, error) {
	st := nodeStore{r: r}
	if !o.Delta.IsZero() {
		v, ok, err := tree.Get(ctx, st, o.Delta, key)
		if err != nil {
			return nil, err
		}
		if ok {
			if isTombstone(v) {
				return nil, nil
			}
			return v, nil
		}
	}
	v, ok, err := tree.Get(ctx, st, o.Base, key)
	if err != nil || !ok {
		return nil, err
	}
	return v, nil
}

// entries streams a tree's entries in key order as a pull iterator. Keys
// and values alias node bytes, which are never modified: they stay valid
// after the iterator moves on. It drives tree.Iterator directly (no
// coroutine), since a full scan calls next once per record.
func entries(ctx context.Context, st tree.NodeStore, root crypto.ID, start []byte) (next func() (k, v []byte, ok bool), stop func(), errp *error) {
	var err error
	it := tree.Iter(ctx, st, root, start)
	next = func() ([]byte, []byte, bool) {
		if it.Next() {
			return it.Key(), it.Value(), true
		}
		err = it.Err()
		return nil, nil, false
	}
	return next, func() {}, &err
}

// eachRecord streams an object's effective records (key, leaf value) in key
// order from start: the base and delta merged, tombstones dropped.
func (r *Repository) eachRecord(ctx context.Context, o objectRoot, start []byte, fn func(k, v []byte) error) error {
	st := nodeStore{r: r}
	nb, stopB, errB := entries(ctx, st, o.Base, start)
	defer stopB()
	nd, stopD, errD := entries(ctx, st, o.Delta, start)
	defer stopD()
	bk, bv, bok := nb()
	dk, dv, dok := nd()
	for bok || dok {
		var k, v []byte
		switch c := compareKeys(bk, bok, dk, dok); {
		case c < 0:
			k, v = bk, bv
			bk, bv, bok = nb()
		case c > 0:
			k, v = dk, dv
			dk, dv, dok = nd()
		default: // the delta overrides the base
			k, v = dk, dv
			bk, bv, bok = nb()
			dk, dv, dok = nd()
		}
		if isTombstone(v) {
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	if *errB != nil {
		return *errB
	}
	return *errD
}

// compareKeys orders two optional keys; an absent key sorts last.
func compareKeys(a []byte, aok bool, b []byte, bok bool) int {
	switch {
	case !aok:
		return 1
	case !bok:
		return -1
	}
	return bytes.Compare(a, b)
}

// recordChange is one difference between two versions of an object.
// Old is nil when the record was added, New when it was deleted. Both are
// leaf values (see decodeRecord).
type recordChange struct {
	Key, Old, New []byte
}

// diffRecords streams the differences between two versions of an object in
// key order, descending only into subtrees that differ.
//
// Three sorted streams are merged: the diff of the two bases (skips equal
// subtrees), and the two deltas (small by the rebase rule; when the bases
// are equal, only the diff of the deltas is needed). For a key that only one
// stream mentions, the other side's value comes from its base, which then
// equals the other base at that key.
func (r *Repository) diffRecords(ctx context.Context, a, b objectRoot, fn func(recordChange) error) error {
	st := nodeStore{r: r}
	type change struct{ k, old, new []byte }
	pullDiff := func(x, y crypto.ID) (func() (change, bool), func(), *error) {
		var err error
		seq := func(yield func(change) bool) {
			err = tree.Diff(ctx, st, x, y, func(c tree.Change) error {
				if !yield(change{c.Key, c.Old, c.New}) {
					return errStop
				}
				return nil
			})
			if err == errStop {
				err = nil
			}
		}
		n, s := iter.Pull(seq)
		return n, s, &err
	}
	eff := func(v []byte) []byte {
		if isTombstone(v) {
			return nil
		}
		return v
	}
	if a.Base == b.Base {
		// Only the deltas differ. A key one delta lacks takes the base's
		// value on that side: those base lookups are the cost (they touch
		// most of the base's frames), so they run in batches on all cores,
		// as when settling a delta, and the changes still come in key order.
		batch := make([]settling, 0, settleBatch)
		emit := func() error {
			if err := lookupBase(ctx, st, a.Base, batch); err != nil {
				return err
			}
			for _, c := range batch {
				old, nw := c.old, c.new
				if old == nil && c.inBase {
					old = c.base
				}
				if nw == nil && c.inBase {
					nw = c.base
				}
				old, nw = eff(old), eff(nw)
				if !bytes.Equal(old, nw) {
					if err := fn(recordChange{c.key, old, nw}); err != nil {
						return err
					}
				}
			}
			batch = batch[:0]
			return nil
		}
		err := tree.Diff(ctx, st, a.Delta, b.Delta, func(c tree.Change) error {
			batch = append(batch, settling{key: bytes.Clone(c.Key), old: bytes.Clone(c.Old), new: bytes.Clone(c.New)})
			if len(batch) == settleBatch {
				return emit()
			}
			return nil
		})
		if err == nil {
			err = emit()
		}
		return err
	}
	nextB, stopB, errB := pullDiff(a.Base, b.Base)
	defer stopB()
	nextA, stopA, errA := entries(ctx, st, a.Delta, nil)
	defer stopA()
	nextN, stopN, errN := entries(ctx, st, b.Delta, nil)
	defer stopN()
	bc, bok := nextB()
	ak, av, aok := nextA()
	nk, nv, nok := nextN()
	for bok || aok || nok {
		k := minKey(bc.k, bok, ak, aok, nk, nok)
		var old, nw []byte
		var haveOld, haveNew bool
		if aok && bytes.Equal(ak, k) {
			old, haveOld = av, true
		}
		if nok && bytes.Equal(nk, k) {
			nw, haveNew = nv, true
		}
		if bok && bytes.Equal(bc.k, k) {
			if !haveOld {
				old, haveOld = bc.old, true
			}
			if !haveNew {
				nw, haveNew = bc.new, true
			}
		}
		if !haveOld || !haveNew {
			// Only a delta mentions k, so the bases agree at k.
			bv, _, err := tree.Get(ctx, st, a.Base, k)
			if err != nil {
				return err
			}
			if !haveOld {
				old = bv
			}
			if !haveNew {
				nw = bv
			}
		}
		old, nw = eff(old), eff(nw)
		if !bytes.Equal(old, nw) {
			if err := fn(recordChange{append([]byte(nil), k...), old, nw}); err != nil {
				return err
			}
		}
		if aok && bytes.Equal(ak, k) {
			ak, av, aok = nextA()
		}
		if nok && bytes.Equal(nk, k) {
			nk, nv, nok = nextN()
		}
		if bok && bytes.Equal(bc.k, k) {
			bc, bok = nextB()
		}
	}
	for _, e := range []*error{errB, errA, errN} {
		if *e != nil {
			return *e
		}
	}
	return nil
}

func minKey(a []byte, aok bool, b []byte, bok bool, c []byte, cok bool) []byte {
	var m []byte
	have := false
	for _, x := range []struct {
		k  []byte
		ok bool
	}{{a, aok}, {b, bok}, {c, cok}} {
		if x.ok && (!have || bytes.Compare(x.k, m) < 0) {
			m, have = x.k, true
		}
	}
	return m
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}

// tablesCompatible reports whether leaf values under tables ta and tb can
// be compared as bytes: one table extends the other (the same lineage).
func tablesCompatible(ta, tb *fieldTable) bool { return ta.isPrefixOf(tb) || tb.isPrefixOf(ta) }

// diffRecordsDecoded is diffRecords for two versions of an object whose
// field-list tables are not compatible (different lineages): equal bytes
// may mean different records there, so it reads both versions in full and
// compares decoded records. It is never needed within a lineage.
func (r *Repository) diffRecordsDecoded(ctx context.Context, a, b objectRoot, ta, tb *fieldTable, fn func(key string, old, new record.Record) error) error {
	type side struct {
		next func() ([]byte, []byte, bool)
		key  string
		rec  record.Record
		ok   bool
		t    *fieldTable
	}
	var errs [2]error
	open := func(i int, o objectRoot, t *fieldTable) (*side, func()) {
		seq := func(yield func(k, v []byte) bool) {
			errs[i] = r.eachRecord(ctx, o, nil, func(k, v []byte) error {
				if !yield(k, v) {
					return errStop
				}
				return nil
			})
			if errs[i] == errStop {
				errs[i] = nil
			}
		}
		n, stop := iter.Pull2(seq)
		return &side{next: n, t: t}, stop
	}
	advance := func(s *side) error {
		k, v, ok := s.next()
		s.ok = ok
		if !ok {
			return nil
		}
		s.key = string(k)
		var err error
		if s.rec, err = r.decodeRecord(ctx, s.t, v); err != nil {
			return fmt.Errorf("record %s: %w", s.key, err)
		}
		return nil
	}
	sa, stopA := open(0, a, ta)
	defer stopA()
	sb, stopB := open(1, b, tb)
	defer stopB()
	if err := advance(sa); err != nil {
		return err
	}
	if err := advance(sb); err != nil {
		return err
	}
	for sa.ok || sb.ok {
		var err error
		switch {
		case !sb.ok || (sa.ok && sa.key < sb.key):
			if err = fn(sa.key, sa.rec, nil); err == nil {
				err = advance(sa)
			}
		case !sa.ok || sb.key < sa.key:
			if err = fn(sb.key, nil, sb.rec); err == nil {
				err = advance(sb)
			}
		default:
			if !sa.rec.Equivalent(sb.rec) {
				err = fn(sa.key, sa.rec, sb.rec)
			}
			if err == nil {
				if err = advance(sa); err == nil {
					err = advance(sb)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
