package remote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
)

// Push uploads what the remote lacks, in the order that keeps it
// consistent at every step (backend.AllTypes): config, key slots,
// settings, packs, snapshots, then refs. Packs already on the remote are
// not sent again, so a push that was killed resumes where it stopped.
//
// Refs move by compare-and-swap: a ref is created only if absent and
// replaced only if it still names the snapshot read a moment before. A
// remote ref that is an ancestor of the local one fast-forwards; one that
// names snapshots the local repository lacks is left alone and Push
// returns ErrRemoteAhead (unless o.Force): racing pushes never lose a
// snapshot, the loser is told to pull first.
//
// Finally Push mirrors local removals (see mirrorRemovals). r must be
// opened writable (its index tells a pruned pack from a lost one).
func Push(ctx context.Context, r *repo.Repository, remoteName string, rb backend.Backend, o Options) (*Transfer, error) {
	o.defaults()
	lb := r.Backend()
	t := &Transfer{}
	cfg, empty, err := sameRepository(ctx, lb, rb)
	if err != nil {
		return nil, err
	}
	if empty {
		err := rb.Save(ctx, backend.Handle{Type: backend.Config}, cfg, backend.SaveOptions{IfNotExists: true})
		if errors.Is(err, backend.ErrExists) { // another push created it first
			_, _, err = sameRepository(ctx, lb, rb)
		}
		if err != nil {
			return nil, err
		}
	}
	lock, err := lockShared(ctx, rb, &o)
	if err != nil {
		return nil, err
	}
	defer lock.release(ctx)

	// Another machine's forget, prune or erase (an audit entry this
	// repository lacks) must be applied here first: uploading now could put
	// back what it removed — an erased record still in a local snapshot.
	if n, err := auditMissingHere(ctx, lb, rb); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d audit log entries (another machine's forget, prune or erase) are not applied here; run `orgsnap pull %s` first, then push again (nothing was pushed)",
			ErrRemoteAhead, n, remoteName)
	}
	up := &copier{src: lb, dst: rb, o: &o, verb: "uploading", t: t}
	if err := copyMissing(ctx, up, backend.Keys); err != nil {
		return t, err
	}
	if err := mirrorKeyRemovals(ctx, lb, rb, &o, t); err != nil {
		return t, err
	}
	// Settings are mutable: the local copy wins. Remote definitions stay
	// home (they may hold this machine's credentials).
	ls, err := listNames(ctx, lb, backend.Settings)
	if err != nil {
		return t, err
	}
	if ls, err = sharedSettings(ctx, r, ls); err != nil {
		return t, err
	}
	changed, err := differing(ctx, lb, rb, backend.Settings, sortedNames(ls))
	if err != nil {
		return t, err
	}
	if err := up.small(ctx, backend.Settings, changed, true); err != nil {
		return t, err
	}

	// Snapshots are listed before packs: a snapshot is written after its
	// packs, so every pack a listed snapshot needs is in the pack listing.
	lsnap, err := listNames(ctx, lb, backend.Snapshots)
	if err != nil {
		return t, err
	}
	todo, err := packsToCopy(ctx, lb, rb, nil, t)
	if err != nil {
		return t, err
	}
	if err := up.packs(ctx, todo); err != nil {
		return t, err
	}
	rsnap, err := listNames(ctx, rb, backend.Snapshots)
	if err != nil {
		return t, err
	}
	before := t.Files
	if err := up.small(ctx, backend.Snapshots, missing(lsnap, rsnap), false); err != nil {
		return t, err
	}
	t.Snapshots, t.Files = t.Files-before, before
	if err := copyMissing(ctx, up, backend.Audit); err != nil {
		return t, err
	}

	// Refs.
	o.Progress("updating refs")
	refs, err := r.Refs(ctx)
	if err != nil {
		return t, err
	}
	rv := r.On(rb)
	var rejected []string
	for _, name := range sortedKeys(refs) {
		u, err := moveRef(ctx, rv, name, refs[name], r.LoadSnapshot, rv.LoadSnapshot, o.Force, o.Removed)
		if err != nil {
			return t, err
		}
		t.Refs = append(t.Refs, u)
		if u.Status == RefDiverged {
			rejected = append(rejected, name)
		}
	}
	if remoteRefs, err := rv.Refs(ctx); err == nil {
		if err := saveTrackingRefs(ctx, r, remoteName, remoteRefs); err != nil {
			return t, err
		}
	}
	if err := mirrorRemovals(ctx, r, rb, lock, &o, t); err != nil {
		return t, err
	}
	if len(rejected) > 0 {
		return t, fmt.Errorf("%w (ref %s): run `orgsnap pull %s` first, then push again (everything else was pushed; `push --force` moves the ref anyway and leaves the remote's snapshots unnamed)",
			ErrRemoteAhead, strings.Join(rejected, ", "), remoteName)
	}
	return t, nil
}

// mirrorRemovals makes the remote lose what the local repository
// deliberately removed, only after the remote's snapshots and refs are
// up to date:
//   - remote snapshots the removal record names are deleted;
//   - then remote packs the local repository does not have — provided every
//     snapshot left on the remote is also local (so the local packs cover
//     them all), the local index does not still list the pack (then it was
//     lost here, not pruned, and the remote copy is the backup), and no
//     other machine holds a lock on the remote.
//
// Otherwise nothing is deleted and t.RemovalSkipped says why; the next
// push tries again.
func mirrorRemovals(ctx context.Context, r *repo.Repository, rb backend.Backend, mine *remoteLock, o *Options, t *Transfer) error {
	lb := r.Backend()
	lsnap, err := listNames(ctx, lb, backend.Snapshots)
	if err != nil {
		return err
	}
	rsnap, err := listNames(ctx, rb, backend.Snapshots)
	if err != nil {
		return err
	}
	// A snapshot a remote ref still names stays (the ref was not moved:
	// diverged), or the ref would name nothing.
	named := map[string]bool{}
	remoteRefs, err := r.On(rb).Refs(ctx)
	if err != nil {
		return err
	}
	for _, id := range remoteRefs {
		named[id.String()] = true
	}
	var drop []string
	remoteOnly := 0
	for _, n := range missing(rsnap, lsnap) {
		id, err := crypto.ParseID(n)
		removed := false
		if err == nil && o.Removed != nil && !named[n] {
			if removed, err = o.Removed.SnapshotRemoved(ctx, id); err != nil {
				return err
			}
		}
		if removed {
			drop = append(drop, n)
		} else {
			remoteOnly++
		}
	}
	lp, err := listNames(ctx, lb, backend.Packs)
	if err != nil {
		return err
	}
	rp, err := listNames(ctx, rb, backend.Packs)
	if err != nil {
		return err
	}
	var extra []string
	lost := 0
	for _, n := range missing(rp, lp) {
		_, _, id, err := pack.ParseName(n)
		if err != nil {
			continue // not a pack of ours: leave it
		}
		if has, err := r.Index().HasPack(id); err != nil {
			return err
		} else if has {
			lost++
			continue
		}
		extra = append(extra, n)
	}
	if len(drop) == 0 && len(extra) == 0 {
		return nil
	}
	if remoteOnly > 0 {
		t.RemovalSkipped = fmt.Sprintf("the remote has %d snapshots this repository does not have: pull them, then push again to remove pruned data there", remoteOnly)
		return nil
	}
	excl, err := lockExclusive(ctx, rb, mine, o)
	if err != nil {
		return err
	}
	if excl == nil {
		t.RemovalSkipped = "another machine is using the remote: pruned data is removed there by the next push"
		return nil
	}
	defer excl.release(ctx)
	o.Progress(fmt.Sprintf("removing %d snapshots and %d packs from the remote", len(drop), len(extra)))
	for _, n := range drop {
		if err := rb.Remove(ctx, backend.Handle{Type: backend.Snapshots, Name: n}); err != nil {
			return err
		}
		t.RemovedSnapshots++
	}
	for _, n := range extra {
		if err := rb.Remove(ctx, backend.Handle{Type: backend.Packs, Name: n}); err != nil {
			return err
		}
		t.RemovedPacks++
	}
	if lost > 0 {
		t.RemovalSkipped = fmt.Sprintf("%d packs are on the remote but missing here although the index lists them: kept there (run `orgsnap check`)", lost)
	}
	return nil
}

// auditMissingHere counts the remote's audit log entries the local
// repository does not have.
func auditMissingHere(ctx context.Context, lb, rb backend.Backend) (int, error) {
	la, err := listNames(ctx, lb, backend.Audit)
	if err != nil {
		return 0, err
	}
	ra, err := listNames(ctx, rb, backend.Audit)
	if err != nil {
		return 0, err
	}
	return len(missing(ra, la)), nil
}

// mirrorKeyRemovals removes from the remote the key slots removed here on
// purpose (key remove, key passwd), once every local slot is there: a
// removed password must not keep opening the remote's copy. Slots another
// machine added (not in the removal record) stay. Removing a slot does
// not change the master key: whoever already read the slot with the old
// password can still decrypt.
func mirrorKeyRemovals(ctx context.Context, lb, rb backend.Backend, o *Options, t *Transfer) error {
	if o.Removed == nil {
		return nil
	}
	lk, err := listNames(ctx, lb, backend.Keys)
	if err != nil {
		return err
	}
	rk, err := listNames(ctx, rb, backend.Keys)
	if err != nil {
		return err
	}
	for _, n := range missing(rk, lk) {
		removed, err := o.Removed.KeyRemoved(ctx, n)
		if err != nil {
			return err
		}
		if !removed {
			continue
		}
		if err := rb.Remove(ctx, backend.Handle{Type: backend.Keys, Name: n}); err != nil {
			return fmt.Errorf("removing key slot %s from the remote: %w", n, err)
		}
		t.RemovedKeys++
	}
	return nil
}

// copyMissing copies files of type t the destination lacks (create-only).
func copyMissing(ctx context.Context, c *copier, t backend.FileType) error {
	src, err := listNames(ctx, c.src, t)
	if err != nil {
		return err
	}
	dst, err := listNames(ctx, c.dst, t)
	if err != nil {
		return err
	}
	return c.small(ctx, t, missing(src, dst), false)
}

func sortedNames(m map[string]backend.FileInfo) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]crypto.ID) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
