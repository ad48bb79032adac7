package repo

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Shadowed record versions.
//
// An object's layers (base, then delta runs) are shared by every snapshot
// from the one that wrote each until the next merge or fold, each adding
// its own runs on top. When forget removes the older snapshots, a layer may
// still hold record versions that no remaining snapshot shows: a record
// deleted or changed since (a newer entry, value or tombstone, in a layer
// above it in every remaining snapshot that holds the layer). Those
// versions are old personal data the retention policy says must go, yet
// every remaining snapshot still references the blobs that hold them, so
// sweeping unreferenced blobs alone would keep them forever.
//
// dropShadowed removes them before prune marks. A layer is identified by
// itself and the layers below it (its suffix: the same trees wherever it
// appears, by the run invariant). For each layer, a key it holds that some
// layer above it holds in every remaining snapshot that holds the layer
// (and no snapshot shows the layer on top) is dead there and deleted. A
// layer above a deleted entry may then hold an entry that is the same
// record as its new value below, or a tombstone over no record: that entry
// goes too (the run invariant). Every snapshot's records are exactly what
// they were; the snapshots are written again with new trees (Original
// naming the one replaced, parents mapped, refs moved, the old files
// removed), as erase does, and an audit entry ("rewrite") lists the
// replaced snapshots so that push removes them from remotes and pull never
// brings them back.

// RewriteDetail is the audit log entry of a rewrite that dropped shadowed
// record versions (event "rewrite").
type RewriteDetail struct {
	Why      string            `json:"why"`
	Records  int               `json:"shadowed_versions"`
	Replaced map[string]string `json:"replaced"`
}

// shadowLayer is one layer of an object (identified by its suffix) and the
// remaining snapshots that hold it.
type shadowLayer struct {
	root  crypto.ID
	below []string // suffix keys of the layers under it, nearest first
	// above lists, per distinct stack holding the layer, the layers above
	// it (nearest last, as in the stack: newest first).
	above [][]crypto.ID
	seen  map[string]bool
	plain bool     // some snapshot has it on top
	dead  [][]byte // keys no snapshot shows from this layer
	// rewritten: the layer after the drops (zero: empty), once computed.
	rewritten *crypto.ID
}

// suffixKeys returns, for each layer of an object's stack (newest first),
// the key naming it with everything below it.
func suffixKeys(name string, layers []crypto.ID) []string {
	keys := make([]string, len(layers))
	k := name
	for i := len(layers) - 1; i >= 0; i-- {
		k += "/" + layers[i].String()
		keys[i] = k
	}
	return keys
}

// dropShadowed rewrites the snapshots whose shared layers hold versions no
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
	// 1. Every layer, and the stacks above it.
	layers := map[string]*shadowLayer{}
	objects := make([][]Object, len(snaps))
	for i, s := range snaps {
		progress(fmt.Sprintf("looking for shadowed versions: snapshot %d/%d", i+1, len(snaps)))
		if objects[i], err = r.Objects(ctx, s); err != nil {
			return 0, 0, "", refuse(fmt.Errorf("snapshot %s: %w", s.ID.Short(), err))
		}
		for _, o := range objects[i] {
			stack := o.root.layers()
			keys := suffixKeys(o.Name, stack)
			for p, root := range stack {
				if root.IsZero() {
					continue
				}
				l := layers[keys[p]]
				if l == nil {
					l = &shadowLayer{root: root, below: keys[p+1:], seen: map[string]bool{}}
					layers[keys[p]] = l
				}
				if p == 0 {
					l.plain = true
				} else if k := keys[0]; !l.seen[k] {
					l.seen[k] = true
					l.above = append(l.above, stack[:p])
				}
			}
		}
	}
	// 2. A key of a layer that a layer above holds in every stack is dead.
	total := 0
	for _, l := range layers {
		if l.plain || len(l.above) == 0 {
			continue
		}
		// The keys come in order: one getter per tree reuses its path from
		// key to key (a one-shot lookup would decode and verify every node
		// on the path again, for each key).
		m := newLayerMerge(ctx, st, l.above[0], nil)
		inLayer := tree.NewGetter(ctx, st, l.root)
		aboveGetters := make([][]*tree.Getter, len(l.above))
		for j, above := range l.above {
			for _, root := range above {
				aboveGetters[j] = append(aboveGetters[j], tree.NewGetter(ctx, st, root))
			}
		}
		for {
			k, _, n := m.next()
			if n == 0 {
				break
			}
			if _, in, err := inLayer.Get(k); err != nil {
				return 0, 0, "", refuse(err)
			} else if !in {
				continue
			}
			everywhere := true
			for _, getters := range aboveGetters[1:] {
				var err error
				if everywhere, err = anyLayerHolds(getters, k); err != nil {
					return 0, 0, "", refuse(err)
				}
				if !everywhere {
					break
				}
			}
			if everywhere {
				l.dead = append(l.dead, bytes.Clone(k))
			}
		}
		if err := m.err(); err != nil {
			return 0, 0, "", refuse(err)
		}
		total += len(l.dead)
	}
	if total == 0 {
		return 0, 0, "", nil
	}

	// 3. Write the snapshots again, oldest first (parents map to rewrites).
	mapped := map[crypto.ID]crypto.ID{}
	detail := RewriteDetail{Why: "record versions no remaining snapshot shows, in layers shared with forgotten snapshots", Records: total, Replaced: map[string]string{}}
	for i, s := range snaps {
		progress(fmt.Sprintf("dropping %d shadowed versions: snapshot %d/%d", total, i+1, len(snaps)))
		ns, err := r.rewriteShadowed(ctx, s, objects[i], layers, mapped)
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

// anyLayerHolds reports whether one of the layers (a getter each) holds
// key.
func anyLayerHolds(layers []*tree.Getter, key []byte) (bool, error) {
	for _, g := range layers {
		if _, in, err := g.Get(key); err != nil || in {
			return in, err
		}
	}
	return false, nil
}

// rewriteLayer returns the layer named by key after the drops: its dead
// keys deleted, and the entries over a deleted one that became the same
// record as the new value below (or a tombstone over no record). Layers are
// rewritten once, bottom up, whichever snapshot asks first.
func (r *Repository) rewriteLayer(ctx context.Context, key string, layers map[string]*shadowLayer, table *fieldTable, recStore nodeStore) (crypto.ID, error) {
	l := layers[key]
	if l.rewritten != nil {
		return *l.rewritten, nil
	}
	st := nodeStore{r: r}
	// The new layers below, nearest first, and the keys deleted in them.
	var below []crypto.ID
	var candidates [][]byte
	for _, k := range l.below {
		nb, err := r.rewriteLayer(ctx, k, layers, table, recStore)
		if err != nil {
			return crypto.ID{}, err
		}
		below = append(below, nb)
		candidates = append(candidates, layers[k].dead...)
	}
	drop := append([][]byte(nil), l.dead...)
	if len(candidates) > 0 {
		sort.Slice(candidates, func(i, j int) bool { return bytes.Compare(candidates[i], candidates[j]) < 0 })
		candidates = slices.CompactFunc(candidates, bytes.Equal)
		var batch []settling
		g := tree.NewGetter(ctx, st, l.root) // candidates are sorted: paths are shared
		for _, k := range candidates {
			v, in, err := g.Get(k)
			if err != nil {
				return crypto.ID{}, err
			}
			if in {
				batch = append(batch, settling{key: k, new: v})
			}
		}
		if err := lookupLayers(ctx, st, below, batch); err != nil {
			return crypto.ID{}, err
		}
		var scratch ObjectStats
		for i := range batch {
			same, err := batch[i].classify(&scratch, func(a, b []byte) (bool, error) { return r.sameRecord(ctx, table, a, b) })
			if err != nil {
				return crypto.ID{}, err
			}
			if same {
				drop = append(drop, batch[i].key)
			}
		}
	}
	out := l.root
	if len(drop) > 0 {
		ed := tree.NewEditor(recStore, tree.ID(l.root), r.treeCfg)
		for _, k := range drop {
			ed.Delete(k)
		}
		nr, err := ed.Commit(ctx)
		ed.Close()
		if err != nil {
			return crypto.ID{}, err
		}
		out = crypto.ID(nr)
	}
	l.rewritten = &out
	return out, nil
}

// rewriteShadowed writes s again with each object's layers rewritten
// (rewriteLayer); nil when nothing changes (no layer changed and the
// parent not rewritten).
func (r *Repository) rewriteShadowed(ctx context.Context, s *Snapshot, objs []Object, layers map[string]*shadowLayer, mapped map[crypto.ID]crypto.ID) (*Snapshot, error) {
	st := nodeStore{r: r, group: s.Period}
	recStore := nodeStore{r: r, group: s.Period, records: true}
	rootEd := tree.NewEditor(st, tree.ID(s.Root), r.treeCfg)
	defer rootEd.Close()
	changed := false
	for _, o := range objs {
		stack := o.root.layers()
		keys := suffixKeys(o.Name, stack)
		table, err := r.loadTable(ctx, o.root.Table)
		if err != nil {
			return nil, err
		}
		or := o.root
		or.Runs = nil
		differs := false
		for p, root := range stack {
			if root.IsZero() {
				continue
			}
			nr, err := r.rewriteLayer(ctx, keys[p], layers, table, recStore)
			if err != nil {
				return nil, err
			}
			differs = differs || nr != root
			if p == len(stack)-1 {
				or.Base = nr
				continue
			}
			run := o.root.Runs[p]
			if nr != root {
				run.Root = nr
				if run.N, err = countTree(ctx, st, nr); err != nil {
					return nil, err
				}
			}
			if run.N > 0 { // a run left empty is no run
				or.Runs = append(or.Runs, run)
			}
		}
		if !differs {
			continue
		}
		changed = true
		if or.BaseN, err = countTree(ctx, st, or.Base); err != nil {
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
