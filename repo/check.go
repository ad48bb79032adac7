package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/index"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Problem is one thing check found wrong.
type Problem struct {
	Pack    string   `json:"pack,omitempty"`
	Blob    string   `json:"blob,omitempty"`
	Message string   `json:"message"`
	Affects []string `json:"affects,omitempty"` // "snapshot <id> object <name>" lines
}

// CheckReport is what Check found.
type CheckReport struct {
	Snapshots int       `json:"snapshots"`
	Packs     int       `json:"packs"`
	Blobs     int       `json:"blobs_referenced"`
	Settings  int       `json:"settings"` // sealed settings files (org profiles, …)
	ReadData  bool      `json:"read_data"`
	Problems  []Problem `json:"problems"`
	// Unreferenced counts packed blobs no snapshot uses: the harmless trace
	// of an interrupted run, removed by prune.
	Unreferenced int `json:"unreferenced_blobs"`
}

// OK reports whether no problem was found.
func (c *CheckReport) OK() bool { return len(c.Problems) == 0 }

// ErrCheckFailed is returned by the CLI when check found problems.
var ErrCheckFailed = errors.New("check found problems")

// use records where a blob is used, for reporting damage.
type use struct {
	snap   string
	object string
}

// Check verifies the repository: every snapshot decrypts, every blob a
// snapshot references is indexed and inside a pack that exists and whose
// trailer authenticates. With readData it also reads every pack in full and
// verifies every frame and blob against its checksum and ID; damage is
// reported with the snapshots and objects it affects.
func (r *Repository) Check(ctx context.Context, readData bool, progress func(string)) (*CheckReport, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	rep := &CheckReport{ReadData: readData}
	add := func(p Problem) { rep.Problems = append(rep.Problems, p) }

	// 1. Packs: every pack's trailer must authenticate and agree with the index.
	progress("checking packs")
	packBlobs := map[crypto.ID]string{} // blob → pack name, from trailers
	trailers := map[string]*pack.Trailer{}
	sizes := map[string]int64{}
	err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		rep.Packs++
		_, _, _, err := pack.ParseName(fi.Name)
		if err != nil {
			add(Problem{Pack: fi.Name, Message: "file in packs/ is not a pack: " + err.Error()})
			return nil
		}
		tr, err := r.readTrailer(ctx, fi.Name, fi.Size)
		if err != nil {
			add(Problem{Pack: fi.Name, Message: "pack trailer unreadable: " + err.Error()})
			return nil
		}
		trailers[fi.Name], sizes[fi.Name] = tr, fi.Size
		for _, f := range tr.Frames {
			for _, b := range f.Blobs {
				packBlobs[b.ID] = fi.Name
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// 2. Snapshots: walk every tree, collecting referenced blobs.
	progress("checking snapshots")
	used := map[crypto.ID]use{}
	snaps, err := r.Snapshots(ctx, func(name string, err error) {
		add(Problem{Message: fmt.Sprintf("snapshot file %s is unreadable: %v", name, err)})
	})
	if err != nil {
		return nil, err
	}
	rep.Snapshots = len(snaps)
	for _, s := range snaps {
		sid := s.ID.Short()
		mark := func(id crypto.ID, object string) (bool, error) {
			if _, ok := used[id]; ok {
				return false, nil
			}
			used[id] = use{sid, object}
			return true, nil
		}
		if err := r.walkSnapshot(ctx, s, mark, func(p Problem) { add(p) }); err != nil {
			return nil, err
		}
	}
	rep.Blobs = len(used)
	for id, u := range used {
		if _, err := r.idx.Lookup(id); err != nil {
			where := "in no pack"
			if p, ok := packBlobs[id]; ok {
				where = "in pack " + p + " but not in the index (run `orgsnap repair index`)"
			}
			add(Problem{Blob: id.String(), Message: "referenced blob is missing: " + where,
				Affects: []string{fmt.Sprintf("snapshot %s object %s", u.snap, u.object)}})
		}
	}
	for id := range packBlobs {
		if _, ok := used[id]; !ok {
			rep.Unreferenced++
		}
	}

	// Settings: every file must authenticate under its own name.
	progress("checking settings")
	nset, setProblems, err := r.checkSettings(ctx)
	if err != nil {
		return nil, err
	}
	rep.Settings = nset
	for _, p := range setProblems {
		add(p)
	}

	// 3. Every indexed pack must exist.
	for _, p := range r.idx.Packs() {
		if _, ok := sizes[p.Name()]; !ok {
			add(Problem{Pack: p.Name(), Message: "index names a pack that does not exist (run `orgsnap repair index`)"})
		}
	}

	// 4. Read data.
	if readData {
		names := make([]string, 0, len(trailers))
		for n := range trailers {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, name := range names {
			progress(fmt.Sprintf("reading pack %d/%d", i+1, len(names)))
			bad := r.readPackData(ctx, name, trailers[name])
			for _, p := range bad {
				if p.Blob != "" {
					if id, err := crypto.ParseID(p.Blob); err == nil {
						if u, ok := used[id]; ok {
							p.Affects = append(p.Affects, fmt.Sprintf("snapshot %s object %s", u.snap, u.object))
						}
					}
				}
				add(p)
			}
		}
	}
	// A damaged pack affects every snapshot using any of its blobs; say so once per pack.
	for i := range rep.Problems {
		p := &rep.Problems[i]
		if p.Pack == "" || p.Blob != "" || len(p.Affects) > 0 {
			continue
		}
		seen := map[string]bool{}
		for id, u := range used {
			if loc, err := r.idx.Lookup(id); err == nil && loc.PackName == p.Pack {
				line := fmt.Sprintf("snapshot %s object %s", u.snap, u.object)
				if !seen[line] {
					seen[line] = true
					p.Affects = append(p.Affects, line)
				}
			}
		}
		sort.Strings(p.Affects)
	}
	return rep, nil
}

// readPackData verifies every frame and blob of one pack.
func (r *Repository) readPackData(ctx context.Context, name string, tr *pack.Trailer) []Problem {
	data, err := r.be.Load(ctx, backend.Handle{Type: backend.Packs, Name: name}, 0, -1)
	if err != nil {
		return []Problem{{Pack: name, Message: "cannot read pack: " + err.Error()}}
	}
	var out []Problem
	if _, _, id, err := pack.ParseName(name); err == nil && pack.PackID(data) != id {
		out = append(out, Problem{Pack: name, Message: "pack content does not match its name (damaged on disk)"})
	}
	for _, f := range tr.Frames {
		end := f.Offset + uint64(f.SealedLen)
		if end > uint64(len(data)) {
			out = append(out, Problem{Pack: name, Message: fmt.Sprintf("frame at %d runs past the end of the pack", f.Offset)})
			continue
		}
		sealed := data[f.Offset:end]
		plain, err := pack.OpenFrame(r.key, sealed)
		if err != nil || pack.FrameChecksum(sealed) != f.Checksum {
			if err == nil {
				err = errors.New("checksum mismatch")
			}
			for _, b := range f.Blobs {
				out = append(out, Problem{Pack: name, Blob: b.ID.String(), Message: fmt.Sprintf("%s blob unreadable: frame at %d: %v", b.Type, f.Offset, err)})
			}
			continue
		}
		for _, b := range f.Blobs {
			if r.key.BlobID(plain[b.Offset:b.Offset+b.Length]) != b.ID {
				out = append(out, Problem{Pack: name, Blob: b.ID.String(), Message: fmt.Sprintf("%s blob content does not match its id", b.Type)})
			}
		}
	}
	return out
}

// walkSnapshot visits every blob a snapshot references: tree nodes (root,
// record base and delta, files), large-record blobs named by leaves, schema
// and field-list table blobs, file indexes and their chunks. mark is told
// each (non-zero) blob and says whether it is new; it doubles as the visited
// set, so subtrees shared between snapshots are walked once. check keeps
// that set in memory, prune in a pebble database on disk.
func (r *Repository) walkSnapshot(ctx context.Context, s *Snapshot, markFn func(id crypto.ID, object string) (bool, error), problem func(Problem)) error {
	sid := s.ID.Short()
	st := nodeStore{r: r}
	var markErr error
	mark := func(id crypto.ID, object string) bool {
		if id.IsZero() || markErr != nil {
			return false
		}
		first, err := markFn(id, object)
		if err != nil {
			markErr = err
			return false
		}
		return first
	}
	walkTree := func(root crypto.ID, object string, leaf func(*tree.Node)) {
		if root.IsZero() {
			return
		}
		err := tree.WalkNodes(ctx, st, root, func(id tree.ID, level int) error {
			if !mark(crypto.ID(id), object) {
				return tree.SkipSubtree
			}
			return nil
		}, func(id tree.ID, n *tree.Node) error {
			if n.Leaf() && leaf != nil {
				leaf(n)
			}
			return nil
		})
		if err != nil {
			problem(Problem{Message: fmt.Sprintf("snapshot %s object %s: tree unreadable: %v", sid, object, err),
				Affects: []string{fmt.Sprintf("snapshot %s object %s", sid, object)}})
		}
	}
	var objects []objectRoot
	var names []string
	walkTree(s.Root, "(root)", func(n *tree.Node) {
		for i := 0; i < n.Len(); i++ {
			or, err := decodeObjectRoot(n.Value(i))
			if err != nil {
				problem(Problem{Message: fmt.Sprintf("snapshot %s: object %s: %v", sid, n.Key(i), err)})
				continue
			}
			objects = append(objects, or)
			names = append(names, string(n.Key(i)))
		}
	})
	for i, or := range objects {
		name := names[i]
		recLeaf := func(n *tree.Node) {
			for j := 0; j < n.Len(); j++ {
				if v := n.Value(j); len(v) == valBlobLen && v[0] == valBlob {
					var id crypto.ID
					copy(id[:], v[1:])
					mark(id, name)
				}
			}
		}
		for _, layer := range or.layers() { // every run, then the base
			walkTree(layer, name, recLeaf)
		}
		mark(or.Schema, name)
		if mark(or.Table, name) {
			// A table that does not decode makes every record unreadable
			// (a missing one is reported with the other missing blobs).
			if _, lerr := r.idx.Lookup(or.Table); lerr == nil {
				if _, err := r.loadTable(ctx, or.Table); err != nil {
					problem(Problem{Blob: or.Table.String(), Message: fmt.Sprintf("field-list table of %s unreadable: %v", name, err),
						Affects: []string{fmt.Sprintf("snapshot %s object %s", sid, name)}})
				}
			}
		}
		walkTree(or.Files, name, func(n *tree.Node) {
			for j := 0; j < n.Len(); j++ {
				var fid crypto.ID
				copy(fid[:], n.Value(j))
				if !mark(fid, name) {
					continue
				}
				fi, err := r.LoadFileInfo(ctx, fid)
				if err != nil {
					problem(Problem{Blob: fid.String(), Message: fmt.Sprintf("file of %s/%s unreadable: %v", name, n.Key(j), err),
						Affects: []string{fmt.Sprintf("snapshot %s object %s", sid, name)}})
					continue
				}
				for _, c := range fi.Chunks {
					mark(c.ID, name)
				}
			}
		})
	}
	if markErr != nil {
		return markErr
	}
	return ctx.Err()
}

// RepairIndex throws the index away and rebuilds it from the pack
// trailers. Packs whose trailer cannot be read are reported and skipped.
func (r *Repository) RepairIndex(ctx context.Context, progress func(string)) (packs int, bad []string, err error) {
	if err := r.writable(); err != nil {
		return 0, nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	dir := filepath.Join(r.dir, "index")
	if err := r.idx.Close(); err != nil {
		return 0, nil, err
	}
	r.idx = nil
	if err := os.RemoveAll(dir); err != nil {
		return 0, nil, err
	}
	if r.idx, err = index.Open(dir); err != nil {
		return 0, nil, err
	}
	r.blobs = newBlobStore(r)
	var infos []backend.FileInfo
	if err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		infos = append(infos, fi)
		return nil
	}); err != nil {
		return 0, nil, err
	}
	for i, fi := range infos {
		progress(fmt.Sprintf("indexing pack %d/%d", i+1, len(infos)))
		if err := r.indexPack(ctx, fi.Name, fi.Size); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", fi.Name, err))
			continue
		}
		packs++
	}
	return packs, bad, nil
}

// Complete reports whether every blob the snapshots reference is indexed
// here, and every tree readable (pull asks it of the snapshots it fetched,
// which may need packs it skipped). Subtrees shared between the snapshots
// are walked once.
func (r *Repository) Complete(ctx context.Context, snaps []*Snapshot) (bool, error) {
	seen := map[crypto.ID]bool{}
	complete := true
	for _, s := range snaps {
		mark := func(id crypto.ID, _ string) (bool, error) {
			if seen[id] {
				return false, nil
			}
			seen[id] = true
			if _, err := r.idx.Lookup(id); err != nil {
				complete = false
				return false, nil
			}
			return true, nil
		}
		if err := r.walkSnapshot(ctx, s, mark, func(Problem) { complete = false }); err != nil {
			return false, err
		}
		if !complete {
			return false, nil
		}
	}
	return true, nil
}
