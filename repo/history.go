package repo

import (
	"bytes"
	"context"
	"fmt"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// DiffObject is Diff restricted to one object: the other objects are not
// visited at all.
func (r *Repository) DiffObject(ctx context.Context, a, b *Snapshot, object string, fn func(Change) error) error {
	var oa, ob objectRoot
	for _, side := range []struct {
		s  *Snapshot
		or *objectRoot
	}{{a, &oa}, {b, &ob}} {
		if side.s == nil {
			continue
		}
		o, err := r.Object(ctx, side.s, object)
		if err != nil && !isNotFound(err) {
			return err
		}
		*side.or = o.root
	}
	if oa == ob {
		return nil
	}
	return r.diffObject(ctx, object, oa, ob, fn)
}

// RecordState is one record as one snapshot holds it.
type RecordState struct {
	Snapshot *Snapshot
	// Record is nil when the snapshot does not hold the record. Snapshots
	// holding the same bytes share one decoded Record.
	Record record.Record
	// File is the record's file (zero when none).
	File crypto.ID
	// Schema is the object's schema blob in this snapshot (zero when none).
	Schema crypto.ID
}

// RecordStates returns the state of one record in tip and each of its
// first parents, newest first. It reads little: a snapshot whose object
// entry equals the next newer one's shares its state without any lookup,
// and a record value equal to the last one decoded is not decoded again,
// so the cost follows the number of snapshots that changed the object, not
// the size of the object.
func (r *Repository) RecordStates(ctx context.Context, tip *Snapshot, object, id string) ([]RecordState, error) {
	var (
		out      []RecordState
		prev     objectRoot
		prevPath recordPath
		havePrev bool
		lastVal  []byte
		lastRec  record.Record
		lastTab  crypto.ID
		key      = []byte(id)
		st       = nodeStore{r: r}
		walkErr  error
	)
	err := r.FirstParents(ctx, tip, func(s *Snapshot) bool {
		o, err := r.Object(ctx, s, object)
		if err != nil && !isNotFound(err) {
			walkErr = err
			return false
		}
		if havePrev && o.root == prev {
			state := out[len(out)-1]
			state.Snapshot = s
			out = append(out, state)
			return true
		}
		// The object changed, but perhaps not where the record lives: if
		// the leaves that would hold it are the same nodes, so is it.
		path, err := r.recordPath(ctx, o.root, key)
		if err != nil {
			walkErr = fmt.Errorf("snapshot %s, %s %s: %w", s.ID.Short(), object, id, err)
			return false
		}
		if havePrev && path == prevPath {
			state := out[len(out)-1]
			state.Snapshot, state.Schema = s, o.root.Schema
			out = append(out, state)
			prev = o.root
			return true
		}
		prev, prevPath, havePrev = o.root, path, true
		state := RecordState{Snapshot: s, Schema: o.root.Schema}
		v, err := r.recordValue(ctx, o.root, key)
		if err != nil {
			walkErr = fmt.Errorf("snapshot %s, %s %s: %w", s.ID.Short(), object, id, err)
			return false
		}
		if v != nil {
			// Equal bytes under one table are one record; a table is
			// append-only along a lineage, but compare it too, to be safe.
			if lastRec == nil || !bytes.Equal(v, lastVal) || o.root.Table != lastTab {
				t, err := r.loadTable(ctx, o.root.Table)
				if err == nil {
					lastRec, err = r.decodeRecord(ctx, t, v)
				}
				if err != nil {
					walkErr = fmt.Errorf("snapshot %s, %s %s: %w", s.ID.Short(), object, id, err)
					return false
				}
				lastVal, lastTab = append(lastVal[:0], v...), o.root.Table
			}
			state.Record = lastRec
		}
		if !o.root.Files.IsZero() {
			fv, ok, err := tree.Get(ctx, st, o.root.Files, key)
			if err != nil {
				walkErr = err
				return false
			}
			if ok {
				copy(state.File[:], fv)
			}
		}
		out = append(out, state)
		return true
	})
	if walkErr != nil {
		return nil, walkErr
	}
	return out, err
}

// recordPath is what decides one record's state in an object version: the
// leaves of the base, delta and files trees whose key ranges hold its Id,
// and the field-list table that gives the leaves' bytes their meaning.
type recordPath struct {
	base, delta, files tree.ID
	table              crypto.ID
}

func (r *Repository) recordPath(ctx context.Context, o objectRoot, key []byte) (recordPath, error) {
	st := nodeStore{r: r}
	p := recordPath{table: o.Table}
	for _, t := range []struct {
		root crypto.ID
		leaf *tree.ID
	}{{o.Base, &p.base}, {o.Delta, &p.delta}, {o.Files, &p.files}} {
		leaf, ok, err := tree.LeafOf(ctx, st, tree.ID(t.root), key)
		if err != nil {
			return p, err
		}
		if ok {
			*t.leaf = leaf
		}
	}
	return p, nil
}
