package repo

import (
	"context"
	"fmt"
	"sort"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Shadowed record versions.
//
// An object's base tree is shared by every snapshot from the one that
// wrote it until the next rebase, each overlaying its own delta. When
// forget removes the older snapshots of such a run, the base may still hold
// record versions that no remaining snapshot shows: a record deleted (a
// tombstone in every remaining delta) or changed (a newer value in every
// remaining delta) since the base was written. Those versions are old
// personal data the retention policy says must go, yet every remaining
// snapshot still references the base blobs that hold them, so sweeping
// unreferenced blobs alone would keep them forever.
//
// dropShadowed removes them before prune marks: for each group of remaining
// snapshots sharing an object's base, a key that every one of their deltas
// holds (changed or deleted) is deleted from the base, and its tombstones
// from the deltas (the delta invariant: no tombstone for a key the base
// lacks); a changed value stays in the delta, where it now reads as a
// record the base lacks. Every snapshot's records are exactly what they
// were; the snapshots are written again with new trees (Original naming
// the one replaced, parents mapped, refs moved, the old files removed), as
// erase does, and an audit entry ("rewrite") lists the replaced snapshots
// so that push removes them from remotes and pull never brings them back.

// RewriteDetail is the audit log entry of a rewrite that dropped shadowed
// record versions (event "rewrite").
type RewriteDetail struct {
	Why      string            `json:"why"`
	Records  int               `json:"shadowed_versions"`
	Replaced map[string]string `json:"replaced"`
}

// dropShadowed rewrites the snapshots whose shared bases hold versions no
// snapshot shows. It returns how many versions it dropped, how many
// snapshots it rewrote and the audit entry (empty when none).
func (r *Repository) dropShadowed(ctx context.Context, progress func(string)) (versions, rewritten int, entry string, err error) {
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return 0, 0, "", err
	}
	st := nodeStore{r: r}
	// Nothing is written before step 3: a tree that cannot be read here is
	// damage, and prune must refuse and change nothing.
	refuse := func(err error) error {
		return fmt.Errorf("%w: %v (run `orgsnap check`)", ErrPruneRefused, err)
	}
	// 1. Group (object, base) → the distinct deltas over it.
	groups := map[string]*shadowGroup{}
	objects := make([][]Object, len(snaps))
	for i, s := range snaps {
		progress(fmt.Sprintf("looking for shadowed versions: snapshot %d/%d", i+1, len(snaps)))
		if objects[i], err = r.Objects(ctx, s); err != nil {
			return 0, 0, "", refuse(fmt.Errorf("snapshot %s: %w", s.ID.Short(), err))
		}
		for _, o := range objects[i] {
			if o.root.Base.IsZero() {
				continue
			}
			k := o.Name + "/" + o.root.Base.String()
			g := groups[k]
			if g == nil {
				g = &shadowGroup{base: o.root.Base, seen: map[crypto.ID]bool{}}
				groups[k] = g
			}
			if o.root.Delta.IsZero() {
				g.plain = true
			} else if !g.seen[o.root.Delta] {
				g.seen[o.root.Delta] = true
				g.deltas = append(g.deltas, o.root.Delta)
			}
		}
	}
	// 2. A base key every delta of its group holds is shadowed everywhere.
	total := 0
	for _, g := range groups {
		if g.plain || len(g.deltas) == 0 {
			continue
		}
		next, stop, errp := entries(ctx, st, g.deltas[0], nil)
		for k, _, ok := next(); ok; k, _, ok = next() {
			if _, inBase, err := tree.Get(ctx, st, g.base, k); err != nil {
				stop()
				return 0, 0, "", refuse(err)
			} else if !inBase {
				continue
			}
			everywhere := true
			for _, d := range g.deltas[1:] {
				_, has, err := tree.Get(ctx, st, d, k)
				if err != nil {
					stop()
					return 0, 0, "", refuse(err)
				}
				if !has {
					everywhere = false
					break
				}
			}
			if everywhere {
				g.dead = append(g.dead, append([]byte(nil), k...))
			}
		}
		stop()
		if *errp != nil {
			return 0, 0, "", refuse(*errp)
		}
		total += len(g.dead)
	}
	if total == 0 {
		return 0, 0, "", nil
	}

	// 3. Write the snapshots again, oldest first (parents map to rewrites).
	mapped := map[crypto.ID]crypto.ID{}
	detail := RewriteDetail{Why: "record versions no remaining snapshot shows, in bases shared with forgotten snapshots", Records: total, Replaced: map[string]string{}}
	for i, s := range snaps {
		progress(fmt.Sprintf("dropping %d shadowed versions: snapshot %d/%d", total, i+1, len(snaps)))
		ns, err := r.rewriteShadowed(ctx, s, objects[i], groups, mapped)
		if err != nil {
			return 0, 0, "", fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
		}
		if ns != nil {
			mapped[s.ID] = ns.ID
			detail.Replaced[s.ID.String()] = ns.ID.String()
		}
	}
	if _, err := r.replaceSnapshots(ctx, mapped); err != nil {
		return 0, 0, "", err
	}
	entry, err = r.AppendAudit(ctx, "rewrite", detail)
	return total, len(mapped), entry, err
}

// shadowGroup is the snapshots sharing one object's base.
type shadowGroup struct {
	base   crypto.ID
	deltas []crypto.ID // distinct
	seen   map[crypto.ID]bool
	plain  bool     // some snapshot reads the base without a delta
	dead   [][]byte // base keys every delta holds
	newB   *crypto.ID
}

// rewriteShadowed writes s again with each object's dead keys dropped from
// its base and their tombstones from its delta; nil when nothing changes
// (no dead key and the parent not rewritten).
func (r *Repository) rewriteShadowed(ctx context.Context, s *Snapshot, objs []Object, groups map[string]*shadowGroup, mapped map[crypto.ID]crypto.ID) (*Snapshot, error) {
	st := nodeStore{r: r, group: s.Period}
	recStore := nodeStore{r: r, group: s.Period, records: true}
	rootEd := tree.NewEditor(st, tree.ID(s.Root), r.treeCfg)
	defer rootEd.Close()
	changed := false
	for _, o := range objs {
		g := groups[o.Name+"/"+o.root.Base.String()]
		if g == nil || len(g.dead) == 0 {
			continue
		}
		changed = true
		or := o.root
		if g.newB == nil {
			ed := tree.NewEditor(recStore, tree.ID(g.base), r.treeCfg)
			for _, k := range g.dead {
				ed.Delete(k)
			}
			nb, err := ed.Commit(ctx)
			ed.Close()
			if err != nil {
				return nil, err
			}
			id := crypto.ID(nb)
			g.newB = &id
		}
		or.Base = *g.newB
		ed := tree.NewEditor(recStore, tree.ID(or.Delta), r.treeCfg)
		for _, k := range g.dead {
			v, _, err := tree.Get(ctx, st, o.root.Delta, k)
			if err != nil {
				ed.Close()
				return nil, err
			}
			if isTombstone(v) {
				ed.Delete(k)
			}
		}
		nd, err := ed.Commit(ctx)
		ed.Close()
		if err != nil {
			return nil, err
		}
		or.Delta = crypto.ID(nd)
		if or.BaseN, err = countTree(ctx, st, or.Base); err != nil {
			return nil, err
		}
		if or.DeltaN, err = countTree(ctx, st, or.Delta); err != nil {
			return nil, err
		}
		rootEd.Put([]byte(o.Name), or.encode()) // Records, files, schema: unchanged
	}
	var newParent *crypto.ID
	if s.Parent != nil {
		if p, ok := mapped[*s.Parent]; ok {
			newParent = &p
		}
	}
	if !changed && newParent == nil {
		return nil, nil
	}
	root, err := rootEd.Commit(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	ns := *s
	ns.Root = crypto.ID(root)
	if newParent != nil {
		ns.Parent = newParent
	}
	orig := s.ID
	if s.Original != nil {
		orig = *s.Original
	}
	ns.Original = &orig
	if err := r.saveSnapshot(ctx, &ns); err != nil {
		return nil, err
	}
	return &ns, nil
}

// replaceSnapshots moves every ref naming a key of mapped to its value
// (compare-and-swap) and removes the replaced snapshot files. It returns
// the refs moved, sorted.
func (r *Repository) replaceSnapshots(ctx context.Context, mapped map[crypto.ID]crypto.ID) ([]string, error) {
	refs, err := r.Refs(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	var moved []string
	for _, name := range names {
		to, ok := mapped[refs[name]]
		if !ok {
			continue
		}
		cur, version, err := r.Ref(ctx, name)
		if err != nil {
			return nil, err
		}
		if cur != refs[name] {
			return nil, fmt.Errorf("ref %s: %w while snapshots were rewritten; run the command again", name, ErrRefMoved)
		}
		if err := r.SetRef(ctx, name, to, version); err != nil {
			return nil, err
		}
		moved = append(moved, name)
	}
	for old := range mapped {
		if err := r.RemoveSnapshot(ctx, old); err != nil {
			return nil, err
		}
	}
	return moved, nil
}
