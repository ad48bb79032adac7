package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Erasing a data subject rewrites every snapshot without their records:
//
//  1. For each snapshot, oldest first, the objects that hold an erased Id
//     get new record trees (the key deleted from the base and from every
//     delta run, so the run invariant still holds: a key absent from every
//     layer violates nothing; and from the files tree), a new root
//     is written, and a new snapshot file that is the old one with the new
//     root and counts, its parent mapped to the parent's rewrite, and
//     Original naming the snapshot it replaces. A snapshot without any of
//     the records is left as it is.
//  2. Every ref naming a rewritten snapshot is moved to its rewrite
//     (compare-and-swap).
//  3. The old snapshot files are removed.
//  4. The audit log gets an "erase" entry: who, when, which objects, how
//     many records, the snapshots replaced, and the erased Ids as keyed
//     hashes (never the Ids or the data), which later snapshots and pulls
//     consult (ErasedSet).
//
// Then prune erases the orphaned blobs. Each step is idempotent: a crash
// leaves old and new snapshots side by side (both valid), and running erase
// again rewrites what is left (a rewrite of a rewrite without the records
// is itself) and finishes.

// erasedNamespace keys the hashes of erased record Ids (alias key, §3).
const erasedNamespace = "orgsnap erased record id"

// ErasedHash is the keyed hash under which an erased record Id is
// remembered.
func (r *Repository) ErasedHash(id string) crypto.ID {
	return r.key.Alias(erasedNamespace, []byte(id))
}

// EraseSelection names the records to erase: object → record Ids.
type EraseSelection map[string][]string

// EraseDetail is the audit log entry of an erase (event "erase").
type EraseDetail struct {
	Objects  map[string]int `json:"objects"` // records erased per object (in the newest snapshot holding each)
	Records  int            `json:"records"` // distinct records erased
	Selected string         `json:"selected_by"`
	// Replaced maps each rewritten snapshot to its rewrite (hex ids).
	Replaced map[string]string `json:"replaced"`
	// ErasedIDs are ErasedHash of each erased record Id, hex.
	ErasedIDs []string `json:"erased_id_hashes"`
}

// EraseResult is what EraseRecords did.
type EraseResult struct {
	Detail     EraseDetail
	AuditEntry string
	RefsMoved  []string
}

// EraseRecords rewrites every snapshot without the selected records, moves
// the refs and removes the replaced snapshots, and logs the erase. selectedBy
// says how the records were chosen ("ids", "where", with "+follow"): it must
// not hold personal data. Call Prune afterwards to erase the data itself.
func (r *Repository) EraseRecords(ctx context.Context, sel EraseSelection, selectedBy string, progress func(string)) (*EraseResult, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return nil, err
	}
	res := &EraseResult{Detail: EraseDetail{Objects: map[string]int{}, Selected: selectedBy, Replaced: map[string]string{}}}
	found := map[string]bool{} // object/id erased somewhere
	mapped := map[crypto.ID]crypto.ID{}
	for i, s := range snaps {
		progress(fmt.Sprintf("rewriting snapshot %d/%d", i+1, len(snaps)))
		ns, counts, err := r.rewriteWithout(ctx, s, sel, mapped, found)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
		}
		if ns == nil {
			continue
		}
		mapped[s.ID] = ns.ID
		res.Detail.Replaced[s.ID.String()] = ns.ID.String()
		for o, n := range counts {
			if n > res.Detail.Objects[o] {
				res.Detail.Objects[o] = n
			}
		}
	}
	// 2. Refs, 3. old snapshots.
	if res.RefsMoved, err = r.replaceSnapshots(ctx, mapped); err != nil {
		return nil, err
	}
	// 4. Audit: the hashes of every selected Id (found or not, so that a
	// record the org still has, never backed up yet, is not backed up later).
	seen := map[string]bool{}
	for _, ids := range sel {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				h := r.ErasedHash(id)
				res.Detail.ErasedIDs = append(res.Detail.ErasedIDs, hex.EncodeToString(h[:]))
			}
		}
	}
	sort.Strings(res.Detail.ErasedIDs)
	res.Detail.Records = len(found)
	if res.AuditEntry, err = r.AppendAudit(ctx, "erase", res.Detail); err != nil {
		return nil, err
	}
	return res, nil
}

// rewriteWithout writes s again without the selected records; nil when s
// holds none of them (and its parent was not rewritten).
func (r *Repository) rewriteWithout(ctx context.Context, s *Snapshot, sel EraseSelection, mapped map[crypto.ID]crypto.ID, found map[string]bool) (*Snapshot, map[string]int, error) {
	st := nodeStore{r: r, group: s.Period}
	recStore := nodeStore{r: r, group: s.Period, records: true}
	rootEd := tree.NewEditor(st, tree.ID(s.Root), r.treeCfg)
	defer rootEd.Close()
	counts := map[string]int{}
	objs := map[string]ObjectStats{}
	changed := false
	for object, ids := range sel {
		o, err := r.Object(ctx, s, object)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		or := o.root
		var present []string
		hasFile := false
		for _, id := range ids {
			v, err := r.recordValue(ctx, or, []byte(id))
			if err != nil {
				return nil, nil, err
			}
			inLayer := false
			for _, layer := range or.layers() {
				if _, ok, err := tree.Get(ctx, st, layer, []byte(id)); err != nil {
					return nil, nil, err
				} else if ok {
					inLayer = true
					break
				}
			}
			file := false
			if !or.Files.IsZero() {
				if _, ok, err := tree.Get(ctx, st, or.Files, []byte(id)); err != nil {
					return nil, nil, err
				} else if ok {
					file, hasFile = true, true
				}
			}
			if v != nil {
				counts[object]++
			}
			if v != nil || file {
				found[object+"/"+id] = true
			}
			if inLayer || file {
				present = append(present, id)
			}
		}
		if len(present) == 0 {
			continue
		}
		changed = true
		edit := func(root crypto.ID, store nodeStore) (crypto.ID, error) {
			if root.IsZero() {
				return root, nil
			}
			ed := tree.NewEditor(store, tree.ID(root), r.treeCfg)
			defer ed.Close()
			for _, id := range present {
				ed.Delete([]byte(id))
			}
			n, err := ed.Commit(ctx)
			return crypto.ID(n), err
		}
		if or.Base, err = edit(or.Base, recStore); err != nil {
			return nil, nil, err
		}
		var runs []deltaRun
		for _, run := range or.Runs {
			if run.Root, err = edit(run.Root, recStore); err != nil {
				return nil, nil, err
			}
			if run.N, err = countTree(ctx, st, run.Root); err != nil {
				return nil, nil, err
			}
			if run.N > 0 { // a run left empty is no run
				runs = append(runs, run)
			}
		}
		or.Runs = runs
		if hasFile {
			if or.Files, err = edit(or.Files, st); err != nil {
				return nil, nil, err
			}
		}
		if or.BaseN, err = countTree(ctx, st, or.Base); err != nil {
			return nil, nil, err
		}
		if or.NFiles, err = countTree(ctx, st, or.Files); err != nil {
			return nil, nil, err
		}
		or.Records -= uint64(counts[object])
		rootEd.Put([]byte(object), or.encode())
		stats := s.Objects[object]
		stats.Records, stats.Files = or.Records, or.NFiles
		objs[object] = stats
	}
	var newParent *crypto.ID
	if s.Parent != nil {
		if p, ok := mapped[*s.Parent]; ok {
			newParent = &p
		}
	}
	if !changed && newParent == nil {
		return nil, counts, nil
	}
	root, err := rootEd.Commit(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Flush(ctx); err != nil {
		return nil, nil, err
	}
	ns := *s
	ns.Root = crypto.ID(root)
	ns.Objects = map[string]ObjectStats{}
	for k, v := range s.Objects {
		ns.Objects[k] = v
	}
	for k, v := range objs {
		ns.Objects[k] = v
	}
	if newParent != nil {
		ns.Parent = newParent
	}
	orig := s.ID
	if s.Original != nil {
		orig = *s.Original // the first snapshot of the chain of rewrites
	}
	ns.Original = &orig
	if err := r.saveSnapshot(ctx, &ns); err != nil {
		return nil, nil, err
	}
	return &ns, counts, nil
}

// RemovalLog is what this repository removed on purpose, gathered from the
// audit log: erased record Ids (as keyed hashes), snapshots removed by
// forget or replaced by an erase, packs deleted by prune. The snapshot
// engine skips erased records (so a record already deleted in the org, or
// still there, never comes back), and push and pull consult it
// (remote.RemovalRecord, remote.IncomingFilter, remote.Scrubber) so that no
// stale copy on a remote or another machine brings removed data back.
type RemovalLog struct {
	r         *Repository
	hashes    map[crypto.ID]struct{}
	snapshots map[crypto.ID]bool
	// replacedBy maps a snapshot an erase or a rewrite replaced to its
	// rewrite (which may itself have been replaced since).
	replacedBy map[crypto.ID]crypto.ID
	packs      map[string]bool
	keys       map[string]bool // key slots removed on purpose
}

// RemovalLog reads the audit log once (it is small: 32 bytes per erased
// record, one line per removed snapshot or pack).
func (r *Repository) RemovalLog(ctx context.Context) (*RemovalLog, error) {
	log, err := r.AuditLog(ctx)
	if err != nil {
		return nil, err
	}
	rl := &RemovalLog{r: r, hashes: map[crypto.ID]struct{}{}, snapshots: map[crypto.ID]bool{}, replacedBy: map[crypto.ID]crypto.ID{}, packs: map[string]bool{}, keys: map[string]bool{}}
	for _, e := range log {
		var d struct {
			EraseDetail
			Removed      []string `json:"removed"`       // forget
			RemovedPacks []string `json:"removed_packs"` // prune
			RemovedKeys  []string `json:"removed_keys"`  // key remove, key passwd
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			return nil, fmt.Errorf("audit log entry %s: %w", e.Name, err)
		}
		for _, h := range d.ErasedIDs {
			id, err := crypto.ParseID(h)
			if err != nil {
				return nil, fmt.Errorf("audit log entry %s: %w", e.Name, err)
			}
			rl.hashes[id] = struct{}{}
		}
		olds := d.Removed
		for old, rewrite := range d.Replaced {
			olds = append(olds, old)
			o, err1 := crypto.ParseID(old)
			n, err2 := crypto.ParseID(rewrite)
			if err1 == nil && err2 == nil {
				rl.replacedBy[o] = n
			}
		}
		for _, old := range olds {
			if id, err := crypto.ParseID(old); err == nil {
				rl.snapshots[id] = true
			}
		}
		for _, p := range d.RemovedPacks {
			rl.packs[p] = true
		}
		for _, k := range d.RemovedKeys {
			rl.keys[k] = true
		}
	}
	return rl, nil
}

// Erased reports whether the record Id was erased. Cheap when nothing was
// (no hash is computed).
func (rl *RemovalLog) Erased(id string) bool {
	if rl == nil || len(rl.hashes) == 0 {
		return false
	}
	_, ok := rl.hashes[rl.r.ErasedHash(id)]
	return ok
}

// SnapshotRemoved reports whether forget removed the snapshot or an erase
// replaced it (remote.RemovalRecord).
func (rl *RemovalLog) SnapshotRemoved(_ context.Context, id crypto.ID) (bool, error) {
	return rl.snapshots[id], nil
}

// PackRemoved reports whether prune deleted the pack (remote.RemovalRecord).
func (rl *RemovalLog) PackRemoved(_ context.Context, name string) (bool, error) {
	return rl.packs[name], nil
}

// KeyRemoved reports whether a key slot was removed here on purpose
// (remote.RemovalRecord).
func (rl *RemovalLog) KeyRemoved(_ context.Context, name string) (bool, error) {
	return rl.keys[name], nil
}

// Admit decides whether a snapshot a pull fetched may come in
// (remote.IncomingFilter): not one this repository removed (forget) or
// replaced (erase, prune's rewrite). Any other comes in — another
// machine's history included, whenever it was taken — and Scrub then
// takes the erased records out of it.
func (rl *RemovalLog) Admit(_ context.Context, s *Snapshot) (bool, error) {
	return !rl.snapshots[s.ID], nil
}

// TreeKey identifies an object's record trees: two snapshots whose
// objects have equal keys hold the same records (so a scan of one serves
// both).
func (o Object) TreeKey() string {
	k := o.Name + "/" + o.root.Base.String()
	for _, run := range o.root.Runs {
		k += "/" + run.Root.String()
	}
	return k
}
