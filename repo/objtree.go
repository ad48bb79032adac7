package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
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

// Record value encoding in leaves (first byte is a tag).
const (
	valInline    = 0 // followed by the record bytes
	valBlob      = 1 // followed by the 32-byte ID of a TypeRecord blob
	valTombstone = 2 // delta only: deleted relative to the base
)

// objectRoot is one object's entry in a snapshot's root tree.
//
// Encoding: version=1 (1) | base (32) | delta (32) | files (32) | schema (32) |
// uvarint records | uvarint base entries | uvarint delta entries | uvarint files
type objectRoot struct {
	Base, Delta, Files, Schema     crypto.ID
	Records, BaseN, DeltaN, NFiles uint64
}

func (o *objectRoot) encode() []byte {
	b := make([]byte, 0, 1+4*32+4*5)
	b = append(b, 1)
	b = append(b, o.Base[:]...)
	b = append(b, o.Delta[:]...)
	b = append(b, o.Files[:]...)
	b = append(b, o.Schema[:]...)
	for _, v := range []uint64{o.Records, o.BaseN, o.DeltaN, o.NFiles} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func decodeObjectRoot(b []byte) (objectRoot, error) {
	var o objectRoot
	if len(b) < 1+4*32 || b[0] != 1 {
		return o, fmt.Errorf("%w: bad object entry", pack.ErrCorrupt)
	}
	copy(o.Base[:], b[1:])
	copy(o.Delta[:], b[33:])
	copy(o.Files[:], b[65:])
	copy(o.Schema[:], b[97:])
	b = b[129:]
	for _, p := range []*uint64{&o.Records, &o.BaseN, &o.DeltaN, &o.NFiles} {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return o, fmt.Errorf("%w: bad object entry counts", pack.ErrCorrupt)
		}
		*p, b = v, b[n:]
	}
	return o, nil
}

// encodeRecord turns record bytes into a leaf value, storing large records
// as blobs of their own.
func (r *Repository) encodeRecord(ctx context.Context, group string, data []byte) ([]byte, error) {
	if len(data) <= r.cfg.InlineLimit {
		v := make([]byte, 1+len(data))
		copy(v[1:], data)
		return v, nil
	}
	id, _, err := r.SaveBlob(ctx, pack.TypeRecord, group, data, nil)
	if err != nil {
		return nil, err
	}
	return append([]byte{valBlob}, id[:]...), nil
}

// decodeRecord turns a leaf value back into record bytes.
func (r *Repository) decodeRecord(ctx context.Context, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty record value", pack.ErrCorrupt)
	}
	switch v[0] {
	case valInline:
		return v[1:], nil
	case valBlob:
		if len(v) != 33 {
			return nil, fmt.Errorf("%w: bad record reference", pack.ErrCorrupt)
		}
		var id crypto.ID
		copy(id[:], v[1:])
		return r.LoadBlob(ctx, id)
	}
	return nil, fmt.Errorf("%w: record value tag %d", pack.ErrCorrupt, v[0])
}

func isTombstone(v []byte) bool { return len(v) == 1 && v[0] == valTombstone }

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

// entries streams a tree's entries in key order as a pull iterator.
func entries(ctx context.Context, st tree.NodeStore, root crypto.ID, start []byte) (next func() (k, v []byte, ok bool), stop func(), errp *error) {
	var err error
	seq := func(yield func([]byte, []byte) bool) {
		if root.IsZero() {
			return
		}
		it := tree.Iter(ctx, st, root, start)
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
		err = it.Err()
	}
	n, s := iter.Pull2(seq)
	return n, s, &err
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
		next, stop, errp := pullDiff(a.Delta, b.Delta)
		defer stop()
		for c, ok := next(); ok; c, ok = next() {
			old, nw := c.old, c.new
			if old == nil || nw == nil {
				bv, _, err := tree.Get(ctx, st, a.Base, c.k)
				if err != nil {
					return err
				}
				if old == nil {
					old = bv
				}
				if nw == nil {
					nw = bv
				}
			}
			old, nw = eff(old), eff(nw)
			if !bytes.Equal(old, nw) {
				if err := fn(recordChange{c.k, old, nw}); err != nil {
					return err
				}
			}
		}
		return *errp
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
