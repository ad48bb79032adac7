package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// An object's records are layered prolly trees: a base, and a list of
// runs over it, newest first, each holding what changed (new values, and
// tombstones for records no longer there) relative to the layers below it.
// A record's effective value is the newest run's entry for its Id, else the
// base's; a tombstone hides it.
//
// Why: under random churn a change to 1% of records touches most leaves of
// a single tree, so a synthetic snapshot that rewrote one tree (the base,
// or a single delta over it) would rewrite most of it. A synthetic snapshot
// adds one run holding only its own changes; runs are merged now and then
// (RunMerge runs of one level into one run of the next level: each change
// is rewritten once per level), and folded into a new base when they hold
// more than 1/RebaseRatio of the base's entries (the base is then exactly
// the history-independent tree of the current records).
//
// Invariants (checked on every snapshot of TestRunsModel and
// TestRunsEraseAndPrune by checkRunInvariants):
//   - the base never holds tombstones;
//   - a run is never empty, and no run entry is the same record
//     (sameRecord) as the effective value of the layers below that run, nor
//     a tombstone where those layers have no record: a writer settles a new
//     run against its parent's layers, a merge drops the entries that
//     became equal to what is below the merged runs (a key changed and
//     changed back), erase and prune drop what would violate it. So a key
//     in a snapshot's newest run is a record that snapshot changed.
//   - the layers below a run are always the same trees: a run is written
//     on top of a given stack, and later snapshots only add runs above it,
//     replace runs above it, or replace it together with what is above it.
//
// Record encoding (format of object roots, leaf values and field-list
// tables; uvarint is encoding/binary's unsigned LEB128, at most 10 bytes).
//
// Object root (value of an object's entry in a snapshot's root tree):
//
//	version 3: 3 | base (32) | files (32) | schema (32) | table (32) |
//	           uvarint records | uvarint base entries | uvarint files | uvarint nruns |
//	           nruns × (run root (32) | uvarint run entries | uvarint run level)
//	version 2: 2 | base (32) | delta (32) | files (32) | schema (32) | table (32) |
//	           uvarint records | uvarint base entries | uvarint delta entries | uvarint files
//	version 1: 1 | base | delta | files | schema | the same four uvarints (no table;
//	           written before records were typed: decoded as an empty table)
//
// Each ID is a blob ID; all zero means none (an empty tree, no schema, no
// table). Records is the number of records in the snapshot; base and run
// entries count those trees' entries (tombstones included); files counts
// the files tree. Runs are listed newest first (1 ≤ nruns ≤ maxRuns when
// present, each root non-zero, each count ≥ 1); a level is the writer's
// merge bookkeeping (0: one snapshot's changes; a merge of runs of level l
// has level l+1) and means nothing to readers. Nothing follows the last
// run. A version 1 or 2 delta is read as a single run of level 0 (none when
// its ID is zero).
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
// above: version 3 is written, 1 to 3 are read).
type objectRoot struct {
	Base, Files, Schema, Table crypto.ID
	Records, BaseN, NFiles     uint64
	// Runs are the delta runs over the base, newest first (none: the base
	// alone). The slice is shared between copies: never modify it in place.
	Runs []deltaRun
}

// deltaRun is one run of an object's delta.
type deltaRun struct {
	Root  crypto.ID
	N     uint64 // entries, tombstones included (≥ 1)
	Level uint64 // merge level (writer bookkeeping): 0 for one snapshot's changes
}

// maxRuns bounds the runs a reader accepts (and a writer keeps: it folds
// them into the base before reaching it), so lookups stay bounded.
const maxRuns = 64

// equal reports whether two object roots are the same entry.
func (o *objectRoot) equal(p *objectRoot) bool {
	return o.Base == p.Base && o.Files == p.Files && o.Schema == p.Schema && o.Table == p.Table &&
		o.Records == p.Records && o.BaseN == p.BaseN && o.NFiles == p.NFiles && slices.Equal(o.Runs, p.Runs)
}

// sameRecords reports whether two object roots hold the same record trees.
func (o *objectRoot) sameRecords(p *objectRoot) bool {
	return o.Base == p.Base && o.Table == p.Table && slices.Equal(o.Runs, p.Runs)
}

// layers lists the object's record trees, newest first: the runs, then the
// base.
func (o *objectRoot) layers() []crypto.ID {
	out := make([]crypto.ID, 0, len(o.Runs)+1)
	for _, r := range o.Runs {
		out = append(out, r.Root)
	}
	return append(out, o.Base)
}

// runEntries is the number of entries of all runs.
func (o *objectRoot) runEntries() uint64 {
	var n uint64
	for _, r := range o.Runs {
		n += r.N
	}
	return n
}

// onTopOf reports whether o is p with one run added on top (the common
// step of a synthetic snapshot): o's records differ from p's only at the
// keys of o.Runs[0].
func (o *objectRoot) onTopOf(p *objectRoot) bool {
	return len(o.Runs) == len(p.Runs)+1 && o.Base == p.Base && o.Table == p.Table && slices.Equal(o.Runs[1:], p.Runs)
}

func (o *objectRoot) encode() []byte {
	b := make([]byte, 0, 1+4*32+4*5+len(o.Runs)*(32+2*5))
	b = append(b, 3)
	for _, id := range []*crypto.ID{&o.Base, &o.Files, &o.Schema, &o.Table} {
		b = append(b, id[:]...)
	}
	for _, v := range []uint64{o.Records, o.BaseN, o.NFiles, uint64(len(o.Runs))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, r := range o.Runs {
		b = append(b, r.Root[:]...)
		b = binary.AppendUvarint(b, r.N)
		b = binary.AppendUvarint(b, r.Level)
	}
	return b
}

func decodeObjectRoot(b []byte) (objectRoot, error) {
	var o objectRoot
	if len(b) == 0 || b[0] < 1 || b[0] > 3 {
		return o, fmt.Errorf("%w: bad object entry", pack.ErrCorrupt)
	}
	version := b[0]
	var delta crypto.ID
	var deltaN, nruns uint64
	ids := []*crypto.ID{&o.Base, &delta, &o.Files, &o.Schema, &o.Table}
	counts := []*uint64{&o.Records, &o.BaseN, &deltaN, &o.NFiles}
	switch version {
	case 1:
		ids = ids[:4]
	case 3:
		ids = []*crypto.ID{&o.Base, &o.Files, &o.Schema, &o.Table}
		counts = []*uint64{&o.Records, &o.BaseN, &o.NFiles, &nruns}
	}
	if len(b) < 1+32*len(ids) {
		return o, fmt.Errorf("%w: short object entry", pack.ErrCorrupt)
	}
	b = b[1:]
	for _, id := range ids {
		copy(id[:], b)
		b = b[32:]
	}
	uvarint := func(p *uint64) bool {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		*p, b = v, b[n:]
		return true
	}
	for _, p := range counts {
		if !uvarint(p) {
			return o, fmt.Errorf("%w: bad object entry counts", pack.ErrCorrupt)
		}
	}
	if version < 3 {
		if !delta.IsZero() {
			o.Runs = []deltaRun{{Root: delta, N: deltaN}}
		}
		return o, nil
	}
	if nruns > maxRuns {
		return o, fmt.Errorf("%w: object entry with %d delta runs", pack.ErrCorrupt, nruns)
	}
	if nruns > 0 {
		o.Runs = make([]deltaRun, nruns)
	}
	for i := range o.Runs {
		r := &o.Runs[i]
		if len(b) < 32 {
			return o, fmt.Errorf("%w: short object entry", pack.ErrCorrupt)
		}
		copy(r.Root[:], b)
		b = b[32:]
		if !uvarint(&r.N) || !uvarint(&r.Level) || r.N == 0 || r.Root.IsZero() {
			return o, fmt.Errorf("%w: bad delta run in object entry", pack.ErrCorrupt)
		}
	}
	if len(b) != 0 {
		return o, fmt.Errorf("%w: trailing bytes in object entry", pack.ErrCorrupt)
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
// record is not in the snapshot): the newest run holding key decides, else
// the base.
func (r *Repository) recordValue(ctx context.Context, o objectRoot, key []byte) ([]byte, error) {
	st := nodeStore{r: r}
	for _, run := range o.Runs {
		v, ok, err := tree.Get(ctx, st, run.Root, key)
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

// layerMerge streams the entries of layered trees (newest first) in key
// order, each key once with the newest layer's value (tombstones
// included), and how many layers hold the key.
type layerMerge struct {
	cur []layerCursor
}

type layerCursor struct {
	next func() ([]byte, []byte, bool)
	err  *error
	k, v []byte
	ok   bool
}

func newLayerMerge(ctx context.Context, st tree.NodeStore, layers []crypto.ID, start []byte) *layerMerge {
	m := &layerMerge{cur: make([]layerCursor, 0, len(layers))}
	for _, root := range layers {
		if root.IsZero() {
			continue
		}
		next, _, errp := entries(ctx, st, root, start)
		c := layerCursor{next: next, err: errp}
		c.k, c.v, c.ok = next()
		m.cur = append(m.cur, c)
	}
	return m
}

// next returns the smallest key left, the newest layer's value for it and
// the number of layers holding it (0 at the end).
func (m *layerMerge) next() (k, v []byte, holders int) {
	win := -1
	for i := range m.cur {
		if m.cur[i].ok && (win < 0 || bytes.Compare(m.cur[i].k, m.cur[win].k) < 0) {
			win = i
		}
	}
	if win < 0 {
		return nil, nil, 0
	}
	// Layers before win (newer) hold greater keys: win is the newest
	// holding k.
	k, v = m.cur[win].k, m.cur[win].v
	for i := win; i < len(m.cur); i++ {
		c := &m.cur[i]
		if c.ok && bytes.Equal(c.k, k) {
			holders++
			c.k, c.v, c.ok = c.next()
		}
	}
	return k, v, holders
}

func (m *layerMerge) err() error {
	for _, c := range m.cur {
		if *c.err != nil {
			return *c.err
		}
	}
	return nil
}

// eachRecord streams an object's effective records (key, leaf value) in key
// order from start: the base and the runs merged, the newest layer winning,
// tombstones dropped.
func (r *Repository) eachRecord(ctx context.Context, o objectRoot, start []byte, fn func(k, v []byte) error) error {
	st := nodeStore{r: r}
	if len(o.Runs) == 0 {
		next, stop, errp := entries(ctx, st, o.Base, start)
		defer stop()
		for k, v, ok := next(); ok; k, v, ok = next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return *errp
	}
	m := newLayerMerge(ctx, st, o.layers(), start)
	for {
		k, v, n := m.next()
		if n == 0 {
			break
		}
		if isTombstone(v) {
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return m.err()
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
// Layers both versions share are skipped: with equal bases, the longest
// common tail of the two run lists (and the base) is the same below both;
// a key can then differ only where a run above that tail holds it (two
// consecutive snapshots: the keys of the newer one's run). With different
// bases, the keys are those of the bases' diff (equal subtrees skipped) and
// of every run. A key one side's own runs do not hold takes its value from
// below (the shared tail, or the base, which then equals the other base at
// that key): those lookups are the cost (they touch most of the base's
// frames), so they run in batches on all cores, as when settling a run, and
// the changes still come in key order.
func (r *Repository) diffRecords(ctx context.Context, a, b objectRoot, fn func(recordChange) error) error {
	st := nodeStore{r: r}
	ra, rb := a.Runs, b.Runs
	below := []crypto.ID{a.Base}
	sameBase := a.Base == b.Base
	if sameBase {
		i, j := len(ra), len(rb)
		for i > 0 && j > 0 && ra[i-1].Root == rb[j-1].Root {
			i, j = i-1, j-1
		}
		tail := objectRoot{Base: a.Base, Runs: ra[i:]}
		below = tail.layers()
		ra, rb = ra[:i], rb[:j]
	}
	runRoots := func(runs []deltaRun) []crypto.ID {
		out := make([]crypto.ID, len(runs))
		for i, r := range runs {
			out[i] = r.Root
		}
		return out
	}
	ma := newLayerMerge(ctx, st, runRoots(ra), nil)
	mb := newLayerMerge(ctx, st, runRoots(rb), nil)
	type change struct{ k, old, new []byte }
	nextBase, stopBase, errBase := func() (change, bool) { return change{}, false }, func() {}, new(error)
	if !sameBase {
		var err error
		seq := func(yield func(change) bool) {
			err = tree.Diff(ctx, st, a.Base, b.Base, func(c tree.Change) error {
				if !yield(change{c.Key, c.Old, c.New}) {
					return errStop
				}
				return nil
			})
			if err == errStop {
				err = nil
			}
		}
		nextBase, stopBase = iter.Pull(seq)
		errBase = &err
	}
	defer stopBase()
	eff := func(v []byte) []byte {
		if isTombstone(v) {
			return nil
		}
		return v
	}
	// Each pending key: old/new set when known (a run or the bases' diff
	// decided it), else taken from below (settling.below).
	type pending struct {
		haveOld, haveNew bool
	}
	batch := make([]settling, 0, settleBatch)
	var need []pending
	var lookups []settling
	emit := func() error {
		lookups = lookups[:0]
		var idx []int
		for i := range batch {
			if !need[i].haveOld || !need[i].haveNew {
				lookups = append(lookups, settling{key: batch[i].key})
				idx = append(idx, i)
			}
		}
		if err := lookupLayers(ctx, st, below, lookups); err != nil {
			return err
		}
		for j, i := range idx {
			if !need[i].haveOld {
				batch[i].old = lookups[j].below
			}
			if !need[i].haveNew {
				batch[i].new = lookups[j].below
			}
		}
		for _, c := range batch {
			old, nw := eff(c.old), eff(c.new)
			if !bytes.Equal(old, nw) {
				if err := fn(recordChange{c.key, old, nw}); err != nil {
					return err
				}
			}
		}
		batch, need = batch[:0], need[:0]
		return nil
	}
	bc, bok := nextBase()
	ak, av, an := ma.next()
	nk, nv, nn := mb.next()
	for bok || an > 0 || nn > 0 {
		k := minKey(bc.k, bok, ak, an > 0, nk, nn > 0)
		var c settling
		var p pending
		c.key = bytes.Clone(k)
		if an > 0 && bytes.Equal(ak, k) {
			c.old, p.haveOld = av, true
		}
		if nn > 0 && bytes.Equal(nk, k) {
			c.new, p.haveNew = nv, true
		}
		if bok && bytes.Equal(bc.k, k) {
			if !p.haveOld {
				c.old, p.haveOld = bc.old, true
			}
			if !p.haveNew {
				c.new, p.haveNew = bc.new, true
			}
		}
		// Values alias node bytes (never modified) or the diff's change,
		// which the next pull may reuse: keep copies.
		c.old, c.new = bytes.Clone(c.old), bytes.Clone(c.new)
		batch, need = append(batch, c), append(need, p)
		if an > 0 && bytes.Equal(ak, k) {
			ak, av, an = ma.next()
		}
		if nn > 0 && bytes.Equal(nk, k) {
			nk, nv, nn = mb.next()
		}
		if bok && bytes.Equal(bc.k, k) {
			bc, bok = nextBase()
		}
		if len(batch) == settleBatch {
			if err := emit(); err != nil {
				return err
			}
		}
	}
	for _, err := range []error{*errBase, ma.err(), mb.err()} {
		if err != nil {
			return err
		}
	}
	return emit()
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
