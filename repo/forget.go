package repo

import (
	"context"
	"encoding/json"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// RemoveSnapshot deletes a snapshot file (forget). The blobs it alone used
// stay until prune erases them. Removing a missing snapshot is not an
// error, so an interrupted forget can simply be run again.
func (r *Repository) RemoveSnapshot(ctx context.Context, id crypto.ID) error {
	return r.be.Remove(ctx, backend.Handle{Type: backend.Snapshots, Name: id.String()})
}

// LineageRef is the ref a snapshot's run was for, as the snapshot engine
// records it in State ({"ref": …}); "" when the state names none (partial
// snapshots, snapshots written by other tools).
func (s *Snapshot) LineageRef() string {
	var st struct {
		Ref string `json:"ref"`
	}
	if len(s.State) == 0 || json.Unmarshal(s.State, &st) != nil {
		return ""
	}
	return st.Ref
}
