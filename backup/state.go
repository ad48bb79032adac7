package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orgsnap/orgsnap/repo"
)

// runState is the engine's document in every snapshot it commits
// (repo.Snapshot.State). Finished snapshots carry what the next run needs
// (each object's field-list hash and last reconciliation); checkpoints also
// carry how far the run got, so that a resumed run fetches nothing twice.
type runState struct {
	// Ref is the ref the run will move; a checkpoint is resumed only by a
	// run for the same ref on the same parent.
	Ref string `json:"ref,omitempty"`
	// Time is when the run began: the finished snapshot's time, kept
	// across resumes so that a resumed run commits the same snapshot.
	Time time.Time `json:"time"`
	Kind string    `json:"kind,omitempty"`
	// Seq numbers a run's checkpoints: the highest holds the most.
	Seq     int                     `json:"seq,omitempty"`
	Objects map[string]*objectState `json:"objects,omitempty"`
}

// objectState is one object's part of runState.
type objectState struct {
	// Fields identifies the field list the object's records were read
	// with; when describe gives another, the object is read in full again.
	Fields string `json:"fields,omitempty"`
	// Reconciled is when an Id scan last proved the tree holds exactly the
	// org's Ids (hard deletes that no API reported are caught this way).
	Reconciled time.Time `json:"reconciled,omitzero"`

	// Checkpoints only.
	Done   bool   `json:"done,omitempty"`   // everything for this object is stored
	Full   bool   `json:"full,omitempty"`   // a full (replacing) read is under way
	Cursor string `json:"cursor,omitempty"` // full read: every Id below it is stored
}

func decodeState(s *repo.Snapshot) (*runState, error) {
	st := &runState{Objects: map[string]*objectState{}}
	if s == nil || len(s.State) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(s.State, st); err != nil {
		return nil, fmt.Errorf("snapshot %s: engine state: %w", s.ID.Short(), err)
	}
	if st.Objects == nil {
		st.Objects = map[string]*objectState{}
	}
	return st, nil
}

// findCheckpoint returns the newest checkpoint a run for ref on parent can
// resume, or nil.
func findCheckpoint(ctx context.Context, r *repo.Repository, ref string, parent *repo.Snapshot) (*repo.Snapshot, *runState, error) {
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	var best *repo.Snapshot
	var bestState *runState
	for _, s := range snaps {
		if s.Kind != repo.KindCheckpoint {
			continue
		}
		switch {
		case parent == nil && s.Parent == nil:
		case parent != nil && s.Parent != nil && *s.Parent == parent.ID:
		default:
			continue
		}
		st, err := decodeState(s)
		if err != nil || st.Ref != ref {
			continue // not ours, or unreadable: never resume from doubt
		}
		if best == nil || st.Seq > bestState.Seq || (st.Seq == bestState.Seq && s.Time.After(best.Time)) {
			best, bestState = s, st
		}
	}
	return best, bestState, nil
}
