package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Object is one object of a snapshot, as the reader sees it.
type Object struct {
	Name    string
	Records uint64
	Files   uint64
	Schema  crypto.ID // zero when none was stored
	root    objectRoot
}

// Objects lists a snapshot's objects in name order.
func (r *Repository) Objects(ctx context.Context, s *Snapshot) ([]Object, error) {
	var out []Object
	if s.Root.IsZero() {
		return nil, nil
	}
	st := nodeStore{r: r}
	it := tree.Iter(ctx, st, s.Root, nil)
	for it.Next() {
		or, err := decodeObjectRoot(it.Value())
		if err != nil {
			return nil, fmt.Errorf("snapshot %s, object %s: %w", s.ID.Short(), it.Key(), err)
		}
		out = append(out, Object{Name: string(it.Key()), Records: or.Records, Files: or.NFiles, Schema: or.Schema, root: or})
	}
	return out, it.Err()
}

// Object returns one object of a snapshot (ErrNotFound if absent).
func (r *Repository) Object(ctx context.Context, s *Snapshot, name string) (Object, error) {
	if !s.Root.IsZero() {
		v, ok, err := tree.Get(ctx, nodeStore{r: r}, s.Root, []byte(name))
		if err != nil {
			return Object{}, err
		}
		if ok {
			or, err := decodeObjectRoot(v)
			if err != nil {
				return Object{}, err
			}
			return Object{Name: name, Records: or.Records, Files: or.NFiles, Schema: or.Schema, root: or}, nil
		}
	}
	return Object{}, fmt.Errorf("object %s in snapshot %s: %w", name, s.ID.Short(), ErrNotFound)
}

// Record returns one record (found=false when absent).
func (r *Repository) Record(ctx context.Context, s *Snapshot, object, id string) (record.Record, bool, error) {
	o, err := r.Object(ctx, s, object)
	if err != nil {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	v, err := r.recordValue(ctx, o.root, []byte(id))
	if err != nil || v == nil {
		return nil, false, err
	}
	t, err := r.loadTable(ctx, o.root.Table)
	if err != nil {
		return nil, false, fmt.Errorf("object %s: %w", object, err)
	}
	rec, err := r.decodeRecord(ctx, t, v)
	if err != nil {
		return nil, false, fmt.Errorf("object %s record %s: %w", object, id, err)
	}
	return rec, true, nil
}

// EachRecord streams an object's records in Id order from start ("" for
// all). Each record passed to fn is the caller's to keep.
func (r *Repository) EachRecord(ctx context.Context, s *Snapshot, object, start string, fn func(id string, rec record.Record) error) error {
	return r.eachDecoded(ctx, s, object, start, false, fn)
}

// ScanRecords is EachRecord for a reader that does not keep the records
// (an export, a filter): the record passed to fn, a slice, is reused for
// the next one, so a full scan allocates no record. Its strings, the Id
// included, stay valid; copy the slice (slices.Clone) to keep a record.
func (r *Repository) ScanRecords(ctx context.Context, s *Snapshot, object, start string, fn func(id string, rec record.Record) error) error {
	return r.eachDecoded(ctx, s, object, start, true, fn)
}

func (r *Repository) eachDecoded(ctx context.Context, s *Snapshot, object, start string, reuse bool, fn func(id string, rec record.Record) error) error {
	o, err := r.Object(ctx, s, object)
	if err != nil {
		return err
	}
	t, err := r.loadTable(ctx, o.root.Table)
	if err != nil {
		return fmt.Errorf("object %s: %w", object, err)
	}
	var from []byte
	if start != "" {
		from = []byte(start)
	}
	var rec record.Record
	return r.eachRecord(ctx, o.root, from, func(k, v []byte) error {
		if !reuse {
			rec = nil
		}
		if rec, err = r.decodeRecordInto(ctx, rec, t, v); err != nil {
			return fmt.Errorf("object %s record %s: %w", object, k, err)
		}
		return fn(string(k), rec)
	})
}

// EachID streams an object's record Ids in order, without decoding the
// records (an Id scan: reconciling with the org, counting).
func (r *Repository) EachID(ctx context.Context, s *Snapshot, object string, fn func(id string) error) error {
	o, err := r.Object(ctx, s, object)
	if err != nil {
		return err
	}
	return r.eachRecord(ctx, o.root, nil, func(k, _ []byte) error { return fn(string(k)) })
}

// File returns the file stored for a record (found=false when none).
func (r *Repository) File(ctx context.Context, s *Snapshot, object, id string) (crypto.ID, bool, error) {
	o, err := r.Object(ctx, s, object)
	if err != nil || o.root.Files.IsZero() {
		if isNotFound(err) {
			err = nil
		}
		return crypto.ID{}, false, err
	}
	v, ok, err := tree.Get(ctx, nodeStore{r: r}, o.root.Files, []byte(id))
	if err != nil || !ok {
		return crypto.ID{}, false, err
	}
	var fid crypto.ID
	copy(fid[:], v)
	return fid, true, nil
}

// EachFile streams an object's (record Id, file id) pairs in Id order.
func (r *Repository) EachFile(ctx context.Context, s *Snapshot, object string, fn func(id string, file crypto.ID) error) error {
	o, err := r.Object(ctx, s, object)
	if err != nil || o.root.Files.IsZero() {
		return err
	}
	it := tree.Iter(ctx, nodeStore{r: r}, o.root.Files, nil)
	for it.Next() {
		var fid crypto.ID
		copy(fid[:], it.Value())
		if err := fn(string(it.Key()), fid); err != nil {
			return err
		}
	}
	return it.Err()
}

// ChangeKind says what happened to a record, file or schema.
type ChangeKind int

const (
	Added ChangeKind = iota + 1
	Changed
	Deleted
)

func (k ChangeKind) String() string {
	return [...]string{"", "added", "changed", "deleted"}[k]
}

// Change is one difference between two snapshots.
type Change struct {
	Object string
	// What is "record", "file" or "schema" (then ID is empty).
	What string
	ID   string
	Kind ChangeKind
	// Old and New are the record before and after (nil on the absent side).
	Old, New record.Record
	// OldSchema and NewSchema are the schema documents (nil on the absent side).
	OldSchema, NewSchema []byte
	OldFile, NewFile     crypto.ID // for files
}

// Diff streams the differences from snapshot a to snapshot b (either may be
// nil, meaning empty), object by object in name order, and within an object
// records, then files, by Id. Equal subtrees are skipped without reading
// them, so the cost follows the size of the change, not of the org. The
// schema byte slices passed to fn are valid only during the call.
func (r *Repository) Diff(ctx context.Context, a, b *Snapshot, fn func(Change) error) error {
	var ra, rb crypto.ID
	if a != nil {
		ra = a.Root
	}
	if b != nil {
		rb = b.Root
	}
	st := nodeStore{r: r}
	return tree.Diff(ctx, st, ra, rb, func(c tree.Change) error {
		name := string(c.Key)
		var oa, ob objectRoot
		var err error
		if c.Old != nil {
			if oa, err = decodeObjectRoot(c.Old); err != nil {
				return err
			}
		}
		if c.New != nil {
			if ob, err = decodeObjectRoot(c.New); err != nil {
				return err
			}
		}
		return r.diffObject(ctx, name, oa, ob, fn)
	})
}

func (r *Repository) diffObject(ctx context.Context, name string, a, b objectRoot, fn func(Change) error) error {
	if a.Schema != b.Schema {
		c := Change{Object: name, What: "schema", Kind: Changed}
		var err error
		if !a.Schema.IsZero() {
			if c.OldSchema, err = r.LoadBlob(ctx, a.Schema); err != nil {
				return err
			}
		}
		if !b.Schema.IsZero() {
			if c.NewSchema, err = r.LoadBlob(ctx, b.Schema); err != nil {
				return err
			}
		}
		c.Kind = kindOf(c.OldSchema != nil, c.NewSchema != nil)
		if err := fn(c); err != nil {
			return err
		}
	}
	ta, err := r.loadTable(ctx, a.Table)
	if err != nil {
		return fmt.Errorf("object %s: %w", name, err)
	}
	tb, err := r.loadTable(ctx, b.Table)
	if err != nil {
		return fmt.Errorf("object %s: %w", name, err)
	}
	emit := func(id string, old, nw record.Record) error {
		return fn(Change{Object: name, What: "record", ID: id, Kind: kindOf(old != nil, nw != nil), Old: old, New: nw})
	}
	if !tablesCompatible(ta, tb) {
		err = r.diffRecordsDecoded(ctx, a, b, ta, tb, emit)
	} else {
		err = r.diffRecords(ctx, a, b, func(rc recordChange) error {
			var old, nw record.Record
			var err error
			if rc.Old != nil {
				if old, err = r.decodeRecord(ctx, ta, rc.Old); err != nil {
					return fmt.Errorf("object %s record %s: %w", name, rc.Key, err)
				}
			}
			if rc.New != nil {
				if nw, err = r.decodeRecord(ctx, tb, rc.New); err != nil {
					return fmt.Errorf("object %s record %s: %w", name, rc.Key, err)
				}
			}
			if old != nil && nw != nil && old.Equivalent(nw) {
				return nil // only a field added or removed, null: not a change of the record
			}
			return emit(string(rc.Key), old, nw)
		})
	}
	if err != nil {
		return err
	}
	if a.Files == b.Files {
		return nil
	}
	return tree.Diff(ctx, nodeStore{r: r}, a.Files, b.Files, func(tc tree.Change) error {
		c := Change{Object: name, What: "file", ID: string(tc.Key), Kind: kindOf(tc.Old != nil, tc.New != nil)}
		copy(c.OldFile[:], tc.Old)
		copy(c.NewFile[:], tc.New)
		return fn(c)
	})
}

func kindOf(old, new bool) ChangeKind {
	switch {
	case !old:
		return Added
	case !new:
		return Deleted
	}
	return Changed
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// FieldNames lists the fields an object's records hold, sorted (Id, the
// record key, is not among them): the union of the object's field lists,
// read from its field-list table without reading any record. A field added
// to the object after some records were stored is listed; those older
// records simply lack it.
func (r *Repository) FieldNames(ctx context.Context, s *Snapshot, object string) ([]string, error) {
	o, err := r.Object(ctx, s, object)
	if err != nil {
		return nil, err
	}
	t, err := r.loadTable(ctx, o.root.Table)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", object, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range t.lists {
		for _, n := range l {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
