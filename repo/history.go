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
	if oa.equal(&ob) {
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
// entry equals the next newer one's shares its state without any lookup;
// when the newer one only added a run (a synthetic snapshot: the common
// step), the record differs between the two only if that run holds its Id,
// which one lookup in that small run tells; and a record value equal to the
// last one decoded is not decoded again. So the cost follows the number of
// snapshots that changed the object (one small run each), not the size of
// the object.
func (r *Repository) RecordStates(ctx context.Context, tip *Snapshot, object, id string) ([]RecordState, error) {
	var (
		out      []RecordState
		prev     objectRoot
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
		if havePrev && o.root.equal(&prev) {
			state := out[len(out)-1]
			state.Snapshot = s
			out = append(out, state)
			return true
		}
		fail := func(err error) bool {
			walkErr = fmt.Errorf("snapshot %s, %s %s: %w", s.ID.Short(), object, id, err)
			return false
		}
		state := RecordState{Snapshot: s, Schema: o.root.Schema}
		// Does the record keep the newer snapshot's state? Yes when the
		// record trees are the same, or when the newer one is this one with
		// a run on top that does not hold the Id (the run invariant: a run
		// holds exactly the keys its snapshot changed).
		same := havePrev && o.root.sameRecords(&prev)
		if havePrev && !same && prev.onTopOf(&o.root) {
			_, in, err := tree.Get(ctx, st, prev.Runs[0].Root, key)
			if err != nil {
				return fail(err)
			}
			same = !in
		}
		if same {
			state.Record = out[len(out)-1].Record
		} else {
			v, err := r.recordValue(ctx, o.root, key)
			if err != nil {
				return fail(err)
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
						return fail(err)
					}
					lastVal, lastTab = append(lastVal[:0], v...), o.root.Table
				}
				state.Record = lastRec
			}
		}
		switch {
		case havePrev && o.root.Files == prev.Files:
			state.File = out[len(out)-1].File
		case !o.root.Files.IsZero():
			fv, ok, err := tree.Get(ctx, st, o.root.Files, key)
			if err != nil {
				return fail(err)
			}
			if ok {
				copy(state.File[:], fv)
			}
		}
		prev, havePrev = o.root, true
		out = append(out, state)
		return true
	})
	if walkErr != nil {
		return nil, walkErr
	}
	return out, err
}
