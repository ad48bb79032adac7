package repo

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
)

// TestBaseDigestSettlesAsTheBase: a synthetic snapshot settled from the
// base's digest is the very snapshot settled by reading the base (same
// root, same counts), through every case the digest decides or defers:
// unchanged re-reads, changes, records gaining a field null (another field
// list), records stored out of line, deletions, new records, and deletions
// of records never there.
func TestBaseDigestSettlesAsTheBase(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(3))
	id := func(i int) string { return fmt.Sprintf("003%015d", i) }
	long := func(i int) bool { return i%17 == 0 } // past the tiny inline limit: stored out of line
	rec := func(i, version int, extra bool) record.Record {
		text := fmt.Sprintf("v%d-%d", i, version)
		if long(i) {
			for len(text) < 200 {
				text += " padding"
			}
		}
		out := record.Record{{Name: "A", Kind: record.String, Value: text}}
		if extra {
			out = append(out, record.Field{Name: "B", Kind: record.Null})
		}
		return out
	}
	const n = 800
	w, err := r.NewWriter(ctx, WriterOptions{Digests: true})
	must(t, err)
	for i := range n {
		must(t, w.PutRecord(ctx, "Contact", id(i), rec(i, 0, false)))
	}
	parent, err := w.Commit(ctx)
	must(t, err)
	if r.loadDigest(mustObject(t, r, parent).Base) == nil {
		t.Fatal("a full snapshot left no digest of its base")
	}

	type edit struct {
		i, version int
		extra, del bool
	}
	var edits []edit
	for k := 0; k < 300; k++ {
		i := rng.Intn(n + 100) // some new records
		switch rng.Intn(5) {
		case 0:
			edits = append(edits, edit{i: i, version: 0}) // unchanged re-read (or new)
		case 1:
			edits = append(edits, edit{i: i, version: 0, extra: true}) // gained B, null
		case 2:
			edits = append(edits, edit{i: i, del: true})
		default:
			edits = append(edits, edit{i: i, version: 1 + rng.Intn(3), extra: rng.Intn(2) == 0})
		}
	}
	run := func() *Snapshot {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
		must(t, err)
		for _, e := range edits {
			if e.del {
				must(t, w.DeleteRecord(ctx, "Contact", id(e.i)))
			} else {
				must(t, w.PutRecord(ctx, "Contact", id(e.i), rec(e.i, e.version, e.extra)))
			}
		}
		s, err := w.Commit(ctx)
		must(t, err)
		return s
	}
	withDigest := run()
	must(t, r.dropDigests())
	if r.loadDigest(mustObject(t, r, parent).Base) != nil {
		t.Fatal("digest still there")
	}
	fromBase := run()
	if withDigest.Root != fromBase.Root || withDigest.Objects["Contact"] != fromBase.Objects["Contact"] {
		t.Fatalf("settled from the digest: root %s %+v; from the base: root %s %+v",
			withDigest.Root.Short(), withDigest.Objects["Contact"], fromBase.Root.Short(), fromBase.Objects["Contact"])
	}
	st := withDigest.Objects["Contact"]
	if st.Added == 0 || st.Changed == 0 || st.Deleted == 0 {
		t.Fatalf("the edits exercised too little: %+v", st)
	}
}

// TestBaseDigestDamaged: a digest that cannot be read is ignored (and
// removed), never trusted.
func TestBaseDigestDamaged(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	w, err := r.NewWriter(ctx, WriterOptions{Digests: true})
	must(t, err)
	for i := range 50 {
		must(t, w.PutRecord(ctx, "Contact", fmt.Sprintf("003%015d", i), record.Record{{Name: "A", Kind: record.String, Value: "x"}}))
	}
	s, err := w.Commit(ctx)
	must(t, err)
	base := mustObject(t, r, s).Base
	path := r.digestPath(base)
	b, err := os.ReadFile(path)
	must(t, err)
	b[len(b)/2] ^= 1
	must(t, os.WriteFile(path, b, 0o600))
	r.digests.clear()
	if r.loadDigest(base) != nil {
		t.Fatal("a damaged digest was loaded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a damaged digest was left in place: %v", err)
	}
}

func mustObject(t *testing.T, r *Repository, s *Snapshot) objectRoot {
	t.Helper()
	o, err := r.Object(ctx, s, "Contact")
	must(t, err)
	return o.root
}

// TestBaseDigestFollowsFolds: when runs are folded into a new base, the
// new base's digest is derived from the old one; it must describe exactly
// the new base's entries.
func TestBaseDigestFollowsFolds(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	rng := rand.New(rand.NewSource(9))
	id := func(i int) string { return fmt.Sprintf("003%015d", i) }
	w, err := r.NewWriter(ctx, WriterOptions{Digests: true})
	must(t, err)
	for i := range 400 {
		must(t, w.PutRecord(ctx, "Contact", id(i), record.Record{{Name: "A", Kind: record.String, Value: fmt.Sprint(i)}}))
	}
	s, err := w.Commit(ctx)
	must(t, err)
	folds := 0
	base := mustObject(t, r, s).Base
	for day := 1; day <= 30; day++ {
		w, err := r.NewWriter(ctx, WriterOptions{Parent: s})
		must(t, err)
		for k := 0; k < 40; k++ {
			i := rng.Intn(450)
			if rng.Intn(6) == 0 {
				must(t, w.DeleteRecord(ctx, "Contact", id(i)))
			} else {
				must(t, w.PutRecord(ctx, "Contact", id(i), record.Record{{Name: "A", Kind: record.String, Value: fmt.Sprint(i, "-", day)}}))
			}
		}
		if s, err = w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		o := mustObject(t, r, s)
		if o.Base == base {
			continue
		}
		base = o.Base
		d := r.loadDigest(base)
		if d == nil {
			t.Fatalf("day %d: the folded base has no digest", day)
		}
		folds++
		var want baseDigest
		must(t, r.eachRecord(ctx, objectRoot{Base: base}, nil, func(k, v []byte) error {
			var e digestEntry
			e.hash, e.list = r.valueDigest(v)
			want.add(k, e)
			return nil
		}))
		if len(want.entries) != len(d.entries) || !bytes.Equal(want.keys, d.keys) {
			t.Fatalf("day %d: digest has %d entries, the base %d (or other keys)", day, len(d.entries), len(want.entries))
		}
		for i := range want.entries {
			if want.entries[i] != d.entries[i] {
				t.Fatalf("day %d: digest entry %d = %+v, the base has %+v", day, i, d.entries[i], want.entries[i])
			}
		}
	}
	if folds == 0 {
		t.Fatal("no fold happened: churn more")
	}
}
