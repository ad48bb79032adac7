package repo

import (
	"context"
	"fmt"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Scrubbing snapshots that came from elsewhere.
//
// Another machine that never saw this repository's erase (it had not
// pulled the audit log yet) can back up an erased record again and push
// the snapshot. Pull admits such a snapshot — refusing it would also
// refuse that machine's legitimate history — and Scrub then rewrites it
// without every erased record, exactly as erase does (a new snapshot with
// Original set; its parent mapped to the rewrite of a replaced parent),
// logs the rewrite ("rewrite" audit entry, so the next push replaces the
// remote's copy), and the caller prunes what the rewrite dropped.

// Scrub rewrites the snapshots a pull wrote (written) without the records
// this repository erased; when the audit log gained erased Ids since rl was
// read (the pull fetched another machine's erase), every local snapshot is
// scanned, not only the written ones. First it removes the local snapshots
// the audit log (with the entries the pull fetched) says were removed on
// purpose (applyRemovals). It returns the rewrites (old → new), refs naming
// a rewritten snapshot already moved, and how many snapshots it removed
// (remote.Scrubber). rl is refreshed from the audit log.
func (rl *RemovalLog) Scrub(ctx context.Context, written []crypto.ID) (rewrites map[crypto.ID]crypto.ID, removed int, err error) {
	r := rl.r
	fresh, err := r.RemovalLog(ctx)
	if err != nil {
		return nil, 0, err
	}
	gained := false
	for h := range fresh.hashes {
		if _, ok := rl.hashes[h]; !ok {
			gained = true
			break
		}
	}
	*rl = *fresh
	if removed, err = rl.applyRemovals(ctx); err != nil {
		return nil, 0, err
	}
	if len(rl.hashes) == 0 || (len(written) == 0 && !gained) {
		return nil, removed, nil
	}
	all, err := r.Snapshots(ctx, nil) // oldest first
	if err != nil {
		return nil, 0, err
	}
	scan := map[crypto.ID]bool{}
	for _, id := range written {
		scan[id] = true
	}
	// Parents replaced earlier map to their (latest) rewrite, so that a
	// scrubbed snapshot continues this repository's lineage.
	mapped := map[crypto.ID]crypto.ID{}
	for old := range rl.replacedBy {
		mapped[old] = rl.latestRewrite(old)
	}
	erasedIn := map[crypto.ID][]string{} // tree → erased keys it holds
	if !gained {
		// Trees of the snapshots that were here before the pull are clean
		// (erase rewrote those it found, the snapshot engine skips erased
		// records, earlier pulls scrubbed theirs): only trees the pull
		// brought — usually a few small delta runs — are read.
		for _, s := range all {
			if scan[s.ID] {
				continue
			}
			objs, err := r.Objects(ctx, s)
			if err != nil {
				return nil, 0, fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
			}
			for _, o := range objs {
				for _, root := range append(o.root.layers(), o.root.Files) {
					erasedIn[root] = nil
				}
			}
		}
	}
	replaced := map[crypto.ID]crypto.ID{}
	found := map[string]bool{}
	detail := RewriteDetail{Why: "snapshots fetched by pull held erased records", Replaced: map[string]string{}}
	for _, s := range all {
		if !gained && !scan[s.ID] {
			continue
		}
		sel, err := rl.erasedRecords(ctx, s, erasedIn)
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
		}
		var ns *Snapshot
		if len(sel) > 0 || (s.Parent != nil && mapped[*s.Parent] != crypto.ID{}) {
			if ns, _, err = r.rewriteWithout(ctx, s, sel, mapped, found); err != nil {
				return nil, 0, fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
			}
		}
		if ns == nil {
			continue
		}
		mapped[s.ID], replaced[s.ID] = ns.ID, ns.ID
		detail.Replaced[s.ID.String()] = ns.ID.String()
	}
	if len(replaced) == 0 {
		return nil, removed, nil
	}
	detail.Records = len(found)
	if _, err := r.replaceSnapshots(ctx, replaced); err != nil {
		return nil, 0, err
	}
	if _, err := r.AppendAudit(ctx, "rewrite", detail); err != nil {
		return nil, 0, err
	}
	for old, n := range replaced {
		rl.snapshots[old], rl.replacedBy[old] = true, n
	}
	return replaced, removed, nil
}

// applyRemovals removes the local snapshots the audit log says were
// removed on purpose — by another machine, whose entries a pull just
// fetched (its forget, or an erase or a rewrite that replaced them): the
// repository is one, and a snapshot one machine let go must not survive on
// another and come back with its next push. A snapshot a local ref names
// is kept unless it was replaced and its rewrite is here (the ref then
// moves to it). The caller prunes afterwards.
func (rl *RemovalLog) applyRemovals(ctx context.Context) (int, error) {
	r := rl.r
	if len(rl.snapshots) == 0 {
		return 0, nil
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return 0, err
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return 0, err
	}
	named := map[crypto.ID]bool{}
	for _, id := range refs {
		named[id] = true
	}
	have := map[crypto.ID]bool{}
	for _, s := range snaps {
		have[s.ID] = true
	}
	moveTo := map[crypto.ID]crypto.ID{}
	removed := 0
	for _, s := range snaps {
		if !rl.snapshots[s.ID] {
			continue
		}
		if named[s.ID] {
			if n := rl.latestRewrite(s.ID); n != s.ID && have[n] {
				moveTo[s.ID] = n
				removed++
			}
			continue
		}
		if err := r.RemoveSnapshot(ctx, s.ID); err != nil {
			return removed, err
		}
		removed++
	}
	if len(moveTo) > 0 {
		if _, err := r.replaceSnapshots(ctx, moveTo); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// latestRewrite follows a chain of rewrites from a replaced snapshot.
func (rl *RemovalLog) latestRewrite(id crypto.ID) crypto.ID {
	for i := 0; i < 1000; i++ {
		n, ok := rl.replacedBy[id]
		if !ok {
			break
		}
		id = n
	}
	return id
}

// erasedRecords lists the erased record Ids a snapshot holds, per object,
// in any of its trees (base, runs, files): each key is hashed and looked
// up in the erased set. Trees already scanned (shared along a lineage) are
// not read again.
func (rl *RemovalLog) erasedRecords(ctx context.Context, s *Snapshot, erasedIn map[crypto.ID][]string) (EraseSelection, error) {
	objs, err := rl.r.Objects(ctx, s)
	if err != nil {
		return nil, err
	}
	st := nodeStore{r: rl.r}
	sel := EraseSelection{}
	for _, o := range objs {
		seen := map[string]bool{}
		for _, root := range append(o.root.layers(), o.root.Files) {
			if root.IsZero() {
				continue
			}
			ids, ok := erasedIn[root]
			if !ok {
				it := tree.Iter(ctx, st, tree.ID(root), nil)
				for it.Next() {
					if k := string(it.Key()); rl.Erased(k) {
						ids = append(ids, k)
					}
				}
				if err := it.Err(); err != nil {
					return nil, err
				}
				erasedIn[root] = ids
			}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					sel[o.Name] = append(sel[o.Name], id)
				}
			}
		}
	}
	return sel, nil
}
