package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// Pull fetches what the local repository lacks: key slots, settings it
// does not have, packs, then snapshots, and records the remote's refs as
// remote-tracking refs. A local ref the remote's ref descends from is
// fast-forwarded; a missing one is created; a diverged one is left alone
// (reported as RefDiverged).
//
// Every fetched snapshot passes o.Filter before its file is written here;
// snapshots and packs the removal record says were removed on purpose are
// not fetched. Once the snapshots and the remote's audit log are here,
// o.Scrub may rewrite them (the erase hook) and local refs follow the
// rewrites; the caller then prunes what the rewrites dropped (when
// t.Scrubbed, t.RemovedHere or t.Refetched is set). r must be opened writable: the
// fetched packs are indexed before Pull returns.
func Pull(ctx context.Context, r *repo.Repository, remoteName string, rb backend.Backend, o Options) (*Transfer, error) {
	o.defaults()
	lb := r.Backend()
	t := &Transfer{}
	if _, _, err := sameRepository(ctx, rb, lb); err != nil {
		return nil, err
	}
	lock, err := lockForReading(ctx, rb, &o, t)
	if err != nil {
		return nil, err
	}
	defer lock.release(ctx)

	down := &copier{src: rb, dst: lb, o: &o, verb: "downloading", t: t}
	if err := copyMissing(ctx, down, backend.Keys); err != nil {
		return t, err
	}
	if err := copyMissing(ctx, down, backend.Settings); err != nil {
		return t, err
	}

	// Decide on snapshots first (they are small), then fetch packs, then
	// write the admitted snapshots: the local write order stays packs
	// before the snapshots that need them.
	rv := r.On(rb)
	rsnap, err := listNames(ctx, rb, backend.Snapshots)
	if err != nil {
		return t, err
	}
	lsnap, err := listNames(ctx, lb, backend.Snapshots)
	if err != nil {
		return t, err
	}
	var admitted []string
	var admittedSnaps []*repo.Snapshot
	for _, n := range missing(rsnap, lsnap) {
		id, err := crypto.ParseID(n)
		if err != nil {
			continue // not a snapshot file of ours
		}
		if o.Removed != nil {
			if gone, err := o.Removed.SnapshotRemoved(ctx, id); err != nil {
				return t, err
			} else if gone {
				t.Rejected++
				continue
			}
		}
		s, err := rv.LoadSnapshot(ctx, id) // authenticates it and checks its id
		if err != nil {
			return t, fmt.Errorf("remote snapshot %s: %w", n, err)
		}
		// The erase hook: the snapshot is not visible here until admitted.
		if o.Filter != nil {
			ok, err := o.Filter.Admit(ctx, s)
			if err != nil {
				return t, err
			}
			if !ok {
				t.Rejected++
				continue
			}
		}
		admitted = append(admitted, n)
		admittedSnaps = append(admittedSnaps, s)
	}

	var skip func(string) (bool, error)
	skipped := 0 // packs left on the remote because they were pruned here
	if o.Removed != nil {
		skip = func(n string) (bool, error) {
			gone, err := o.Removed.PackRemoved(ctx, n)
			if gone {
				skipped++
			}
			return gone, err
		}
	}
	todo, err := packsToCopy(ctx, rb, lb, skip, t)
	if err != nil {
		return t, err
	}
	if err := down.packs(ctx, todo); err != nil {
		return t, err
	}
	if err := r.IndexNewPacks(ctx); err != nil {
		return t, err
	}
	if skipped > 0 && len(admittedSnaps) > 0 {
		// Another machine's snapshot can still use packs pruned here (its
		// base holds records erased here, next to records it needs): fetch
		// them too. The scrub below takes the erased records out, and the
		// caller's prune erases them again (t.Refetched).
		complete, err := r.Complete(ctx, admittedSnaps)
		if err != nil {
			return t, err
		}
		if !complete {
			more, err := packsToCopy(ctx, rb, lb, nil, &Transfer{})
			if err != nil {
				return t, err
			}
			if err := down.packs(ctx, more); err != nil {
				return t, err
			}
			if err := r.IndexNewPacks(ctx); err != nil {
				return t, err
			}
			t.Refetched = len(more)
		}
	}
	before := t.Files
	if err := down.small(ctx, backend.Snapshots, admitted, false); err != nil {
		return t, err
	}
	t.Snapshots, t.Files = t.Files-before, before
	if err := copyMissing(ctx, down, backend.Audit); err != nil {
		return t, err
	}
	var rewrites map[crypto.ID]crypto.ID
	if o.Scrub != nil {
		written := make([]crypto.ID, 0, len(admitted))
		for _, n := range admitted {
			if id, err := crypto.ParseID(n); err == nil {
				written = append(written, id)
			}
		}
		if rewrites, t.RemovedHere, err = o.Scrub.Scrub(ctx, written); err != nil {
			return t, fmt.Errorf("applying removals and erasures to the fetched snapshots: %w", err)
		}
		t.Scrubbed = len(rewrites)
	}

	remoteRefs, err := rv.Refs(ctx)
	if err != nil {
		return t, err
	}
	if err := saveTrackingRefs(ctx, r, remoteName, remoteRefs); err != nil {
		return t, err
	}
	for _, name := range sortedKeys(remoteRefs) {
		target := remoteRefs[name]
		if n, ok := rewrites[target]; ok {
			target = n // the remote's snapshot, without the erased records
		}
		if _, err := r.LoadSnapshot(ctx, target); errors.Is(err, repo.ErrNotFound) {
			continue // refused by the filter: the local ref stays
		} else if err != nil {
			return t, err
		}
		u, err := moveRef(ctx, r, name, target, r.LoadSnapshot, r.LoadSnapshot, false, nil)
		if err != nil {
			return t, err
		}
		t.Refs = append(t.Refs, u)
	}
	return t, nil
}

// Clone copies the repository on rb into the new directory dir, file for
// file: key slots, settings, packs (each verified against its name),
// snapshots, refs, audit log, and the config last — until the config is
// there the directory is not a repository, so a clone that was killed is
// simply run again and resumes. Open the result with repo.Open, which
// rebuilds the index from the pack trailers, then call FinishClone.
func Clone(ctx context.Context, rb backend.Backend, dir string, o Options) (*Transfer, error) {
	o.defaults()
	lb, err := local.Open(dir, true)
	if err != nil {
		return nil, err
	}
	if _, err := lb.Stat(ctx, backend.Handle{Type: backend.Config}); err == nil {
		return nil, fmt.Errorf("%w: %s", repo.ErrExists, dir)
	}
	cfg, err := rb.Load(ctx, backend.Handle{Type: backend.Config}, 0, -1)
	if err != nil {
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("%w at %s", ErrEmptyRemote, rb.Location())
		}
		return nil, err
	}
	t := &Transfer{}
	lock, err := lockForReading(ctx, rb, &o, t)
	if err != nil {
		return nil, err
	}
	defer lock.release(ctx)
	down := &copier{src: rb, dst: lb, o: &o, verb: "downloading", t: t}
	for _, ft := range []backend.FileType{backend.Keys, backend.Settings} {
		if err := copyMissing(ctx, down, ft); err != nil {
			return t, err
		}
	}
	todo, err := packsToCopy(ctx, rb, lb, nil, t)
	if err != nil {
		return t, err
	}
	if err := down.packs(ctx, todo); err != nil {
		return t, err
	}
	before := t.Files
	if err := copyMissing(ctx, down, backend.Snapshots); err != nil {
		return t, err
	}
	t.Snapshots, t.Files = t.Files-before, before
	for _, ft := range []backend.FileType{backend.Refs, backend.Audit} {
		if err := copyMissing(ctx, down, ft); err != nil {
			return t, err
		}
	}
	if err := lb.Save(ctx, backend.Handle{Type: backend.Config}, cfg, backend.SaveOptions{IfNotExists: true}); err != nil {
		return t, err
	}
	return t, nil
}

// FinishClone records where a freshly cloned repository came from: the
// remote c (usually named origin) and its refs as remote-tracking refs.
func FinishClone(ctx context.Context, r *repo.Repository, c Config) error {
	if err := Add(ctx, r, c); err != nil {
		return err
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return err
	}
	return saveTrackingRefs(ctx, r, c.Name, refs)
}

// Listing is what a remote holds, for ls-remote.
type Listing struct {
	Location  string               `json:"location"`
	Refs      map[string]crypto.ID `json:"refs"`
	Snapshots []*repo.Snapshot     `json:"snapshots"`
	Packs     int                  `json:"packs"`
	PackBytes int64                `json:"pack_bytes"`
}

// LsRemote reads the refs and snapshots on the remote.
func LsRemote(ctx context.Context, r *repo.Repository, rb backend.Backend) (*Listing, error) {
	if _, _, err := sameRepository(ctx, rb, r.Backend()); err != nil {
		return nil, err
	}
	rv := r.On(rb)
	l := &Listing{Location: rb.Location()}
	var err error
	if l.Refs, err = rv.Refs(ctx); err != nil {
		return nil, err
	}
	if l.Snapshots, err = rv.Snapshots(ctx, nil); err != nil {
		return nil, err
	}
	err = rb.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		l.Packs++
		l.PackBytes += fi.Size
		return nil
	})
	return l, err
}
