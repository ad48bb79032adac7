package repo

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// codecRecord makes a random valid record over a small name vocabulary,
// with values that exercise every wire form (terminated and length-prefixed
// strings, numbers, bools, nulls).
func codecRecord(rng *rand.Rand) record.Record {
	names := []string{"A", "B", "C__c", "D", "z", "Ézé"} // bytewise order
	strs := []string{"", "x", "hello world", "\x00nul", "a\x00b", "\x07bell", "\x08", "é", strings.Repeat("long ", 40)}
	var rec record.Record
	for _, n := range names {
		if rng.Intn(3) == 0 {
			continue
		}
		f := record.Field{Name: n}
		switch rng.Intn(5) {
		case 0:
		case 1:
			f.Kind, f.Value = record.Bool, fmt.Sprint(rng.Intn(2) == 0)
		case 2:
			f.Kind, f.Value = record.Number, []string{"0", "-1.50", "1e9", "123456789012345678901234567890"}[rng.Intn(4)]
		default:
			f.Kind, f.Value = record.String, strs[rng.Intn(len(strs))]
		}
		rec = append(rec, f)
	}
	return rec
}

// TestRecordCodec: records round-trip through a table and back; the table
// round-trips through its blob encoding; equal records give equal bytes;
// every truncation of a valid value is an error.
func TestRecordCodec(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	tab := (*fieldTable)(nil).clone()
	var recs []record.Record
	var encs [][]byte
	for i := 0; i < 2000; i++ {
		rec := codecRecord(rng)
		must(t, rec.Validate())
		recs = append(recs, rec)
		encs = append(encs, appendRecordValue(nil, tab.indexOf(rec), rec))
	}
	stored, err := decodeFieldTable(tab.encode())
	must(t, err)
	if !stored.isPrefixOf(tab) || !tab.isPrefixOf(stored) {
		t.Fatalf("table did not round-trip: %v vs %v", stored.lists, tab.lists)
	}
	for i, rec := range recs {
		got, err := decodeRecordValue(encs[i], stored)
		if err != nil || !got.Equal(rec) {
			t.Fatalf("record %d: %#v, %v; want %#v", i, got, err, rec)
		}
		again := appendRecordValue(nil, tab.indexOf(got), got)
		if string(again) != string(encs[i]) {
			t.Fatalf("record %d: re-encoding differs: %x vs %x", i, again, encs[i])
		}
		for cut := 0; cut < len(encs[i]); cut++ {
			if _, err := decodeRecordValue(encs[i][:cut], stored); !errors.Is(err, pack.ErrCorrupt) {
				t.Fatalf("record %d cut at %d: %v", i, cut, err)
			}
		}
	}
	// A clone extends the table without moving any list.
	c := stored.clone()
	novel := record.Record{{Name: "Brand new", Kind: record.Null}}
	if i := c.indexOf(novel); i != len(stored.lists) || !stored.isPrefixOf(c) || c.isPrefixOf(stored) {
		t.Fatalf("new list at %d of %d", i, len(c.lists))
	}
	if i := c.indexOf(recs[7]); i != tab.indexOf(recs[7]) {
		t.Fatalf("known list moved: %d", i)
	}
}

// addRecordSeeds adds the encodings of 50 random records to f's corpus
// and returns the table they are encoded against.
func addRecordSeeds(f *testing.F, seed int64) *fieldTable {
	tab := (*fieldTable)(nil).clone()
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 50; i++ {
		rec := codecRecord(rng)
		f.Add(appendRecordValue(nil, tab.indexOf(rec), rec))
	}
	return tab
}

// FuzzDecodeRecordValue: any bytes decode to an error or to a record that
// re-encodes to exactly the same bytes; never a panic.
func FuzzDecodeRecordValue(f *testing.F) {
	tab := addRecordSeeds(f, 2)
	f.Add([]byte{valFields, 0x80, 0x00})
	f.Add([]byte{valFields, 0, wireString, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecordValue(b, tab)
		if err != nil {
			if !errors.Is(err, pack.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("decoded an invalid record: %v", err)
		}
		if again := appendRecordValue(nil, tab.indexOf(rec), rec); string(again) != string(b) {
			t.Fatalf("non-canonical input accepted: %x decodes to %#v, which encodes to %x", b, rec, again)
		}
	})
}

// FuzzDecodeFieldTable: bad table blobs are errors, never panics, and a
// table that decodes re-encodes identically.
func FuzzDecodeFieldTable(f *testing.F) {
	tab := (*fieldTable)(nil).clone()
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 20; i++ {
		tab.indexOf(codecRecord(rng))
		f.Add(tab.encode())
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := decodeFieldTable(b)
		if err != nil {
			return
		}
		if string(tab.encode()) != string(b) {
			t.Fatalf("table %x re-encodes to %x", b, tab.encode())
		}
	})
}

func str(name, v string) record.Field { return record.Field{Name: name, Kind: record.String, Value: v} }

// TestFieldSetChanges: records gain and lose fields between snapshots
// (synthetic and full re-read); reads and diffs are exact, the tables grow
// append-only and survive reopening, and check marks them referenced.
func TestFieldSetChanges(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer func() { r.Close() }()
	a := record.Record{str("Name", "a"), str("Phone", "1")}
	b := record.Record{str("Name", "b"), str("Phone", "2")}
	c := record.Record{str("Name", "c"), str("Phone", "3")}
	m1 := model{"Account": {"001A": a, "001B": b, "001C": c}}
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for id, rec := range m1["Account"] {
		must(t, w.PutRecord(ctx, "Account", id, rec))
	}
	s1, err := w.Commit(ctx)
	must(t, err)

	// Snapshot 2: A gains Email, B loses Phone, C is unchanged.
	a2 := record.Record{str("Email", "a@x"), str("Name", "a"), str("Phone", "1")}
	b2 := record.Record{str("Name", "b")}
	m2 := model{"Account": {"001A": a2, "001B": b2, "001C": c}}
	w, err = r.NewWriter(ctx, WriterOptions{Parent: s1})
	must(t, err)
	must(t, w.PutRecord(ctx, "Account", "001A", a2))
	must(t, w.PutRecord(ctx, "Account", "001B", b2))
	must(t, w.PutRecord(ctx, "Account", "001C", c)) // same as the parent: not a change
	s2, err := w.Commit(ctx)
	must(t, err)
	if st := s2.Objects["Account"]; st.Changed != 2 || st.Added != 0 || st.Deleted != 0 {
		t.Fatalf("stats %+v, want 2 changed", st)
	}

	// Snapshot 3: a full re-read that puts C back in its original shape
	// and B in its new one: nothing changes, and the table is the parent's.
	w, err = r.NewWriter(ctx, WriterOptions{Parent: s2})
	must(t, err)
	must(t, w.ReplaceObject(ctx, "Account"))
	for id, rec := range m2["Account"] {
		must(t, w.PutRecord(ctx, "Account", id, rec))
	}
	s3, err := w.Commit(ctx)
	must(t, err)
	if st := s3.Objects["Account"]; st.Changed+st.Added+st.Deleted != 0 {
		t.Fatalf("a re-read of unchanged records counted changes: %+v", st)
	}

	r = reopen(t, r)
	tables := map[*Snapshot]*fieldTable{}
	for _, s := range []*Snapshot{s1, s2, s3} {
		o, err := r.Object(ctx, s, "Account")
		must(t, err)
		if o.root.Table.IsZero() {
			t.Fatalf("snapshot %s has no field-list table", s.ID.Short())
		}
		tables[s], err = r.loadTable(ctx, o.root.Table)
		must(t, err)
	}
	if len(tables[s1].lists) != 1 || len(tables[s2].lists) != 3 || !tables[s1].isPrefixOf(tables[s2]) || !tables[s2].isPrefixOf(tables[s3]) || !tables[s3].isPrefixOf(tables[s2]) {
		t.Fatalf("tables not append-only: %v / %v / %v", tables[s1].lists, tables[s2].lists, tables[s3].lists)
	}
	checkSnapshot(t, r, s1, m1)
	checkSnapshot(t, r, s2, m2)
	checkSnapshot(t, r, s3, m2)
	want := []modelChange{
		{"Account", "001A", Changed, render(a), render(a2)},
		{"Account", "001B", Changed, render(b), render(b2)},
	}
	if got := repoDiff(t, r, s1, s2); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("diff:\n got %v\nwant %v", got, want)
	}
	if got := repoDiff(t, r, s2, s3); len(got) != 0 {
		t.Fatalf("diff of equal snapshots: %v", got)
	}
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	for _, s := range []*Snapshot{s1, s2, s3} {
		used := map[crypto.ID]bool{}
		mark := func(id crypto.ID, _ string) (bool, error) { first := !used[id]; used[id] = true; return first, nil }
		must(t, r.walkSnapshot(ctx, s, mark, func(p Problem) { t.Errorf("walk: %+v", p) }))
		o, _ := r.Object(ctx, s, "Account")
		if _, ok := used[o.root.Table]; !ok {
			t.Fatalf("check does not mark snapshot %s's table as referenced", s.ID.Short())
		}
	}
}

// TestDiffAcrossLineages: two snapshots with no common ancestor number
// their field lists differently, so equal leaf bytes mean different
// records; Diff compares decoded records there.
func TestDiffAcrossLineages(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	commit := func(recs map[string]record.Record) *Snapshot {
		w, err := r.NewWriter(ctx, WriterOptions{})
		must(t, err)
		// In Id order: which field list gets number 0 depends on the
		// first record put.
		for _, id := range keys(recs) {
			must(t, w.PutRecord(ctx, "Account", id, recs[id]))
		}
		s, err := w.Commit(ctx)
		must(t, err)
		return s
	}
	x := record.Record{str("A", "1")}
	y := record.Record{str("B", "1")} // list 0 of its own lineage: the same leaf bytes as x
	same := record.Record{str("A", "2"), str("B", "2")}
	ma := map[string]record.Record{"001X": x, "001S": same, "001D": x}
	mb := map[string]record.Record{"001X": y, "001S": same, "001N": y}
	sa, sb := commit(ma), commit(mb)
	oa, _ := r.Object(ctx, sa, "Account")
	ob, _ := r.Object(ctx, sb, "Account")
	v1, _ := r.recordValue(ctx, oa.root, []byte("001X"))
	v2, _ := r.recordValue(ctx, ob.root, []byte("001X"))
	if string(v1) != string(v2) {
		t.Fatalf("test premise: leaf values differ (%x, %x)", v1, v2)
	}
	got := repoDiff(t, r, sa, sb)
	want := modelDiff(model{"Account": ma}, model{"Account": mb})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("diff:\n got %v\nwant %v", got, want)
	}
}

// TestPutRecordInvalid: an invalid record is refused with a clear error
// and does not poison the writer.
func TestPutRecordInvalid(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	err = w.PutRecord(ctx, "Account", "001A", record.Record{str("B", ""), str("A", "")})
	if !errors.Is(err, record.ErrInvalid) || !strings.Contains(err.Error(), "001A") {
		t.Fatalf("unsorted record: %v", err)
	}
	must(t, w.PutRecord(ctx, "Account", "001A", record.Record{str("A", "")}))
	s, err := w.Commit(ctx)
	must(t, err)
	checkSnapshot(t, r, s, model{"Account": {"001A": {str("A", "")}}})
}

// TestRecordValueLen: every leaf value (fields, record reference,
// tombstone) delimits itself whatever follows it, and a truncated or
// unknown value is an error.
func TestRecordValueLen(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	tab := (*fieldTable)(nil).clone()
	vals := [][]byte{{valTombstone}, append([]byte{valBlob}, make([]byte, 32)...)}
	for i := 0; i < 2000; i++ {
		rec := codecRecord(rng)
		vals = append(vals, appendRecordValue(nil, tab.indexOf(rec), rec))
	}
	// What follows a value in a compact leaf: the next entry, or nothing.
	tails := [][]byte{nil, []byte("\x120015g000000000AAAA\x04\x00"), {0}, {0xff, 0x80}}
	for i, v := range vals {
		for _, tail := range tails {
			if n, err := recordValueLen(append(append([]byte(nil), v...), tail...)); err != nil || n != len(v) {
				t.Fatalf("value %d (%x) + %x: %d, %v; want %d", i, v, tail, n, err, len(v))
			}
		}
		for cut := 0; cut < len(v); cut++ {
			if _, err := recordValueLen(v[:cut]); !errors.Is(err, pack.ErrCorrupt) {
				t.Fatalf("value %d cut at %d of %d: %v", i, cut, len(v), err)
			}
		}
	}
	for _, v := range [][]byte{{valInline, 'x'}, {valFieldsV0, 0, wireNull}, {5}, {valFields, 0x80}, {valFields, 0, 0xff},
		{valFields, 0x80, 0x00, 0}, {valFields, 0, 0x81, 0x00, wireNull}, {valFields, 0, 1, 0x06}} {
		if _, err := recordValueLen(v); !errors.Is(err, pack.ErrCorrupt) {
			t.Errorf("%x: %v, want an error", v, err)
		}
	}
}

// FuzzRecordValueLen: the delimiter never panics nor reads past its input,
// and agrees with the decoder: a value that decodes delimits to its whole
// length.
func FuzzRecordValueLen(f *testing.F) {
	tab := addRecordSeeds(f, 5)
	f.Add([]byte{valFields, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{valFields, 0, 1, wireString, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := recordValueLen(b)
		if err != nil {
			if !errors.Is(err, pack.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
		} else if n < 1 || n > len(b) {
			t.Fatalf("%x delimited at %d", b, n)
		} else if m, err := recordValueLen(append(b[:n:n], 0xff, 0)); err != nil || m != n {
			t.Fatalf("%x: delimited at %d, but at %d, %v when followed by other bytes", b, n, m, err)
		}
		if _, derr := decodeRecordValue(b, tab); derr == nil && (err != nil || n != len(b)) {
			t.Fatalf("%x decodes, but delimits at %d, %v", b, n, err)
		}
	})
}

// TestCompactRecordLeaves: record-tree leaves (inline records, references
// to record blobs, tombstones) are stored compact and read back, while the
// root tree keeps value lengths; and a damaged or truncated record leaf is
// an error, never a panic.
func TestCompactRecordLeaves(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	m := model{"Account": {}}
	w, err := r.NewWriter(ctx, WriterOptions{})
	must(t, err)
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("001%015d", i)
		rec := record.Record{{Name: "Amount", Kind: record.Number, Value: fmt.Sprint(i)}, str("Name", fmt.Sprint("name ", i))}
		if i%50 == 0 { // longer than the tests' inline limit: a record blob
			rec = append(rec, str("Zz", strings.Repeat("long ", 40)))
		}
		m["Account"][id] = rec
		must(t, w.PutRecord(ctx, "Account", id, rec))
	}
	s1, err := w.Commit(ctx)
	must(t, err)
	w, err = r.NewWriter(ctx, WriterOptions{Parent: s1})
	must(t, err)
	must(t, w.DeleteRecord(ctx, "Account", "001000000000000007")) // a tombstone in a delta run
	delete(m["Account"], "001000000000000007")
	s2, err := w.Commit(ctx)
	must(t, err)
	checkSnapshot(t, r, s2, m)

	st := nodeStore{r: r}
	o, err := r.Object(ctx, s2, "Account")
	must(t, err)
	if len(o.root.Runs) == 0 {
		t.Fatal("test premise: no delta run")
	}
	var leaves [][]byte
	for _, root := range append([]crypto.ID{s2.Root}, o.root.layers()...) {
		must(t, tree.WalkNodes(ctx, st, root, nil, func(id tree.ID, n *tree.Node) error {
			data, err := st.GetNode(ctx, id)
			must(t, err)
			want := byte(tree.NodeVersion)
			if n.Leaf() && root != s2.Root {
				want = tree.CompactLeaf
				leaves = append(leaves, data)
			}
			if data[0] != want {
				t.Errorf("tree %s node %x (level %d): version %d, want %d", root.Short(), id[:4], n.Level(), data[0], want)
			}
			return nil
		}))
	}
	tags := map[byte]int{}
	for _, leaf := range leaves {
		n, err := tree.DecodeNode(leaf, st)
		must(t, err)
		for i := range n.Len() {
			tags[n.Value(i)[0]]++
		}
	}
	if tags[valFields] == 0 || tags[valBlob] == 0 || tags[valTombstone] == 0 {
		t.Fatalf("test premise: leaf values by tag %v", tags)
	}
	for _, leaf := range leaves {
		for cut := 0; cut < len(leaf); cut++ {
			if _, err := tree.DecodeNode(leaf[:cut], st); !errors.Is(err, tree.ErrCorruptNode) {
				t.Fatalf("leaf cut at %d of %d: %v", cut, len(leaf), err)
			}
		}
		for i := range leaf {
			bad := append([]byte(nil), leaf...)
			bad[i] ^= 0x41
			if _, err := tree.DecodeNode(bad, st); err != nil && !errors.Is(err, tree.ErrCorruptNode) {
				t.Fatalf("leaf byte %d damaged: %v", i, err)
			}
		}
	}
}

// benchVariants are the two leaf forms the benchmarks compare: value
// lengths (no delimiter) and compact (the repository's delimiter).
var benchVariants = []struct {
	name string
	d    tree.ValueDelimiter
}{{"prefixed", nil}, {"compact", nodeStore{}}}

// benchRecords returns n leaf entries of records of 23 fields (numbers,
// nulls, strings of 10 to 45 bytes).
func benchRecords(n int) (keys, vals [][]byte) {
	tab := (*fieldTable)(nil).clone()
	for i := 0; i < n; i++ {
		var rec record.Record
		for f := 0; f < 23; f++ {
			name := fmt.Sprintf("Field%02d", f)
			switch f % 4 {
			case 0:
				rec = append(rec, record.Field{Name: name, Kind: record.Number, Value: fmt.Sprint(i * f * 7919)})
			case 1:
				rec = append(rec, record.Field{Name: name})
			default:
				rec = append(rec, str(name, strings.Repeat("text ", 2+(i*f)%9)))
			}
		}
		keys = append(keys, []byte(fmt.Sprintf("003%015d", i)))
		vals = append(vals, appendRecordValue(nil, tab.indexOf(rec), rec))
	}
	return keys, vals
}

// benchTree builds the tree of the entries in a MemStore, with delimiter d
// (nil: none), and returns the store and the root.
func benchTree(b *testing.B, cfg tree.Config, d tree.ValueDelimiter, keys, vals [][]byte) (*tree.MemStore, tree.ID) {
	st := tree.NewMemStore()
	var s tree.NodeStore = st
	if d != nil {
		s = struct {
			*tree.MemStore
			tree.ValueDelimiter
		}{st, d}
	}
	e := tree.NewEditor(s, tree.ID{}, cfg)
	for i := range keys {
		e.Put(keys[i], vals[i])
	}
	root, err := e.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return st, root
}

// BenchmarkDecodeRecordLeaf compares reading one leaf of 100 such records
// compact (finding every value's end by walking its fields) and with value
// lengths.
func BenchmarkDecodeRecordLeaf(b *testing.B) {
	keys, vals := benchRecords(100)
	oneLeaf := tree.Config{MinNode: 1<<16 - 1, TargetNode: 1 << 16, MaxNode: 1<<20 - 1}
	for _, c := range benchVariants {
		st, root := benchTree(b, oneLeaf, c.d, keys, vals)
		data, _ := st.GetNode(ctx, root)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := tree.DecodeNode(data, c.d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildRecordTree compares building a 100,000-record tree (the
// repository's default node sizes, in memory) with compact leaves and with
// value lengths: the writer's cost of checking that every value delimits
// itself.
func BenchmarkBuildRecordTree(b *testing.B) {
	keys, vals := benchRecords(100_000)
	cfg := tree.Config{MinNode: 2048, TargetNode: 8192, MaxNode: 32768, LeafValueWeight: 64}
	for _, c := range benchVariants {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				benchTree(b, cfg, c.d, keys, vals)
			}
		})
	}
}
