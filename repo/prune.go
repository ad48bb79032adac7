package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zeebo/blake3"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/index"
	"github.com/orgsnap/orgsnap/repo/pack"
)

// Prune erases every blob no snapshot references, physically:
//
//  1. Mark: walk every snapshot (checkpoints included) and put each blob it
//     references into a scratch pebble database under tmp/ (the live set:
//     on disk, not in the Go heap). Any unreadable snapshot or tree, or a
//     live blob the index does not know, stops prune before anything is
//     changed: erasing on a damaged repository could erase what the damaged
//     part still needs.
//  2. Sweep: read every pack's trailer. A pack whose blobs are all live (and
//     indexed there) is left alone. Every other pack is deleted, after its
//     live blobs are copied into new packs: there is no "unused space is
//     fine" threshold, because an erased blob left in a partly used pack is
//     not erased.
//  3. Write order (what makes a crash at any point harmless, and a second
//     run finish the job): every new pack is written and indexed (its
//     blobs' entries moved to it, AddRepackedPack) before any old pack is
//     touched; then for each old pack its index entries go (RemovePack, one
//     batch), then its file. A crash leaves either two valid copies of a
//     blob (the next run drops the redundant one) or an unindexed old pack
//     (re-indexed at open, then deleted by the next run).
//  4. The index is copied into a fresh pebble database and swapped in, so no
//     deleted entry survives in an obsolete sstable or a recycled WAL; the
//     frame and table caches are emptied; tmp/ is cleaned.
//  5. Proof: every remaining pack trailer is read again and checked to name
//     none of the erased blob IDs, and every live blob to be indexed. The
//     figures are printed and appended to the audit log.
//
// Prune holds the repository's exclusive lock (like every writer), so no
// snapshot can write a blob while it runs: a concurrent `snapshot` waits
// (--lock-wait) or fails with "locked", and never loses a blob.

// PruneOptions tune Prune.
type PruneOptions struct {
	Progress func(string)
	// Cause says why prune ran, for the audit log ("prune", "forget", "erase").
	Cause string
}

// PruneProof is what a prune erased and how it verified it. It is printed
// and appended to the audit log (event "prune").
type PruneProof struct {
	Time            time.Time `json:"time"`
	Cause           string    `json:"cause,omitempty"`
	Snapshots       int       `json:"snapshots"`
	LiveBlobs       int64     `json:"live_blobs"`
	BlobsErased     int64     `json:"blobs_erased"`
	BytesErased     int64     `json:"bytes_erased"` // plaintext bytes of the erased blobs
	CopiesDropped   int64     `json:"redundant_copies_dropped"`
	PacksRewritten  int       `json:"packs_rewritten"` // held live and dead blobs
	PacksDeleted    int       `json:"packs_deleted"`   // held only dead blobs (or copies)
	PacksWritten    int       `json:"packs_written"`
	PackBytesBefore int64     `json:"pack_bytes_before"`
	PackBytesAfter  int64     `json:"pack_bytes_after"`
	StaleIndex      int       `json:"stale_index_packs_dropped,omitempty"`
	// ShadowedVersions record versions no snapshot showed were dropped
	// from shared layers (see dropShadowed) by rewriting SnapshotsRewritten
	// snapshots, logged in audit entry RewriteEntry.
	ShadowedVersions   int    `json:"shadowed_versions,omitempty"`
	SnapshotsRewritten int    `json:"snapshots_rewritten,omitempty"`
	RewriteEntry       string `json:"rewrite_audit_entry,omitempty"`
	// RemovedPacks names the deleted packs, so that push deletes them on
	// remotes and pull never brings them back (RemovalLog).
	RemovedPacks []string `json:"removed_packs,omitempty"`
	// ErasedDigest is BLAKE3 of the sorted erased blob IDs: it lets an
	// auditor who holds the IDs (e.g. from an older index) confirm the set.
	ErasedDigest string `json:"erased_ids_digest"`
	// PacksVerified remaining pack trailers were read after the sweep, and
	// none named an erased blob; every live blob was found indexed.
	PacksVerified int     `json:"packs_verified"`
	Verified      bool    `json:"verified"`
	AuditEntry    string  `json:"audit_entry,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// ErrPruneRefused means prune found damage and changed nothing.
var ErrPruneRefused = errors.New("prune refused: the repository has damage that erasing could make worse")

// Prune erases every unreferenced blob; see the comment above.
func (r *Repository) Prune(ctx context.Context, o PruneOptions) (*PruneProof, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	start := time.Now()
	proof := &PruneProof{Time: r.now().UTC(), Cause: o.Cause}
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	// 0. Versions no snapshot shows, in bases that forgotten snapshots
	// shared, become unreferenced blobs.
	var err error
	if proof.ShadowedVersions, proof.SnapshotsRewritten, proof.RewriteEntry, err = r.dropShadowed(ctx, progress); err != nil {
		return nil, err
	}

	// The live set ('L') and erased set ('E') stay on disk, whatever the
	// repository's size; tmp/ is cleaned by Open after a crash.
	scratch, err := index.OpenIDSet(filepath.Join(r.dir, "tmp", "prune-"+randHex()))
	if err != nil {
		return nil, fmt.Errorf("prune scratch set: %w", err)
	}
	defer scratch.Remove()

	// 1. Mark.
	if err := r.markLive(ctx, scratch, proof, progress); err != nil {
		return nil, err
	}

	// 2. Sweep: classify every pack, copy live blobs out of the ones to go.
	var infos []backend.FileInfo
	if err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		infos = append(infos, fi)
		return nil
	}); err != nil {
		return nil, err
	}
	onDisk := map[crypto.ID]bool{}
	rp := &repacker{r: r, writers: map[packKey]*pack.Writer{}, proof: proof, written: onDisk}
	var doomed []backend.FileInfo
	for i, fi := range infos {
		progress(fmt.Sprintf("sweeping pack %d/%d", i+1, len(infos)))
		proof.PackBytesBefore += fi.Size
		_, _, pid, err := pack.ParseName(fi.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a pack (run `orgsnap check`)", ErrPruneRefused, fi.Name)
		}
		onDisk[pid] = true
		tr, err := r.readTrailer(ctx, fi.Name, fi.Size)
		if err != nil {
			return nil, fmt.Errorf("%w: pack %s: %v (run `orgsnap check`)", ErrPruneRefused, fi.Name, err)
		}
		var keep []pack.Blob
		dead := 0
		for _, f := range tr.Frames {
			for _, b := range f.Blobs {
				live, err := scratch.Has('L', b.ID)
				if err != nil {
					return nil, err
				}
				at, _, err := r.idx.PackOf(b.ID)
				if err != nil {
					return nil, err
				}
				switch {
				case live && at == pid:
					keep = append(keep, b)
				case live:
					proof.CopiesDropped++
					dead++
				default:
					dead++
					first, err := scratch.Add('E', b.ID)
					if err != nil {
						return nil, err
					}
					if first {
						proof.BlobsErased++
						proof.BytesErased += int64(b.Length)
					}
				}
			}
		}
		if dead == 0 {
			continue
		}
		doomed = append(doomed, fi)
		if len(keep) == 0 {
			proof.PacksDeleted++
			continue
		}
		proof.PacksRewritten++
		if err := rp.copyOut(ctx, fi.Name, tr, keep); err != nil {
			return nil, err
		}
	}
	if err := rp.flush(ctx); err != nil {
		return nil, err
	}

	// 3. Delete the old packs: index entries first, then the file.
	for i, fi := range doomed {
		progress(fmt.Sprintf("deleting pack %d/%d", i+1, len(doomed)))
		_, _, pid, _ := pack.ParseName(fi.Name)
		tr, err := r.readTrailer(ctx, fi.Name, fi.Size)
		if err != nil {
			return nil, err
		}
		if err := r.idx.RemovePack(pid, tr); err != nil {
			return nil, err
		}
		if err := r.be.Remove(ctx, backend.Handle{Type: backend.Packs, Name: fi.Name}); err != nil {
			return nil, fmt.Errorf("delete pack %s: %w (run prune again to finish)", fi.Name, err)
		}
		proof.RemovedPacks = append(proof.RemovedPacks, fi.Name)
	}
	// Index entries of packs that no longer exist (deleted by hand, or by a
	// crashed run between the file and its entries) go too.
	for _, p := range r.idx.Packs() {
		if !onDisk[p.ID] {
			if err := r.idx.RemovePack(p.ID, nil); err != nil {
				return nil, err
			}
			proof.StaleIndex++
		}
	}
	if _, err := r.idx.DropStaleAliases(); err != nil {
		return nil, err
	}

	// 4. A fresh index, empty caches, clean tmp/.
	progress("rewriting the index")
	if err := r.rewriteIndex(); err != nil {
		return nil, err
	}
	r.blobs.cache = newFrameCache(64 << 20)
	r.tables = tableCache{}
	if err := r.dropDigests(); err != nil { // they name bases prune may have erased
		return nil, fmt.Errorf("removing base digests: %w", err)
	}

	// 5. Proof.
	if err := r.verifyPrune(ctx, scratch, proof, progress); err != nil {
		return nil, err
	}
	proof.Seconds = time.Since(start).Seconds()
	name, err := r.AppendAudit(ctx, "prune", proof)
	if err != nil {
		return nil, err
	}
	proof.AuditEntry = name
	return proof, nil
}

// markLive puts every blob a snapshot references into the scratch live set.
func (r *Repository) markLive(ctx context.Context, s *index.IDSet, proof *PruneProof, progress func(string)) error {
	var bad []string
	snaps, err := r.Snapshots(ctx, func(name string, err error) {
		bad = append(bad, fmt.Sprintf("snapshot file %s is unreadable: %v", name, err))
	})
	if err != nil {
		return err
	}
	proof.Snapshots = len(snaps)
	mark := func(id crypto.ID, _ string) (bool, error) {
		first, err := s.Add('L', id)
		if first {
			proof.LiveBlobs++
		}
		return first, err
	}
	for i, snap := range snaps {
		progress(fmt.Sprintf("finding live data: snapshot %d/%d, %d blobs live", i+1, len(snaps), proof.LiveBlobs))
		if err := r.walkSnapshot(ctx, snap, mark, func(p Problem) { bad = append(bad, p.Message) }); err != nil {
			return err
		}
	}
	// Every live blob must be where the index says: prune trusts the index
	// to tell the copy it keeps.
	if err := s.Each('L', func(id crypto.ID) error {
		if has, err := r.idx.Has(id); err != nil {
			return err
		} else if !has {
			bad = append(bad, fmt.Sprintf("blob %s is used but in no pack", id.Short()))
		}
		return nil
	}); err != nil {
		return err
	}
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
		}
		return fmt.Errorf("%w: %v; run `orgsnap check` (and `orgsnap repair index` if it says so)", ErrPruneRefused, bad)
	}
	return nil
}

// verifyPrune reads every remaining trailer and checks that none names an
// erased blob, and that every live blob is indexed in a pack that exists.
func (r *Repository) verifyPrune(ctx context.Context, s *index.IDSet, proof *PruneProof, progress func(string)) error {
	var infos []backend.FileInfo
	if err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		infos = append(infos, fi)
		return nil
	}); err != nil {
		return err
	}
	onDisk := map[crypto.ID]bool{}
	for i, fi := range infos {
		progress(fmt.Sprintf("verifying pack %d/%d", i+1, len(infos)))
		_, _, pid, err := pack.ParseName(fi.Name)
		if err != nil {
			return fmt.Errorf("verify: %s is not a pack", fi.Name)
		}
		onDisk[pid] = true
		tr, err := r.readTrailer(ctx, fi.Name, fi.Size)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for _, f := range tr.Frames {
			for _, b := range f.Blobs {
				if erased, err := s.Has('E', b.ID); err != nil {
					return err
				} else if erased {
					return fmt.Errorf("verify: erased blob %s is still in pack %s", b.ID.Short(), fi.Name)
				}
			}
		}
		proof.PacksVerified++
		proof.PackBytesAfter += fi.Size
	}
	err := s.Each('L', func(id crypto.ID) error {
		at, ok, err := r.idx.PackOf(id)
		if err != nil {
			return err
		}
		if !ok || !onDisk[at] {
			return fmt.Errorf("verify: live blob %s is not in any pack after prune", id.Short())
		}
		return nil
	})
	if err != nil {
		return err
	}
	h := blake3.New()
	if err := s.Each('E', func(id crypto.ID) error { h.Write(id[:]); return nil }); err != nil {
		return err
	}
	proof.ErasedDigest = hex.EncodeToString(h.Sum(nil))
	proof.Verified = true
	return nil
}

// rewriteIndex replaces the index with a fresh copy of its live entries.
// A crash part way leaves either the old index, the new one, or none (then
// Open rebuilds it from the pack trailers): all valid.
func (r *Repository) rewriteIndex() error {
	dir := filepath.Join(r.dir, "index")
	tmpNew := filepath.Join(r.dir, "tmp", "index-new-"+randHex())
	tmpOld := filepath.Join(r.dir, "tmp", "index-old-"+randHex())
	if err := r.idx.Flush(); err != nil {
		return err
	}
	if err := r.idx.CopyTo(tmpNew); err != nil {
		os.RemoveAll(tmpNew)
		return err
	}
	if err := r.idx.Close(); err != nil {
		return err
	}
	r.idx = nil
	if err := os.Rename(dir, tmpOld); err != nil {
		return err
	}
	if err := os.Rename(tmpNew, dir); err != nil {
		return err
	}
	if err := syncDirOf(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(tmpOld); err != nil {
		return err
	}
	idx, err := index.Open(dir)
	if err != nil {
		return err
	}
	r.idx = idx
	return nil
}

func syncDirOf(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// repacker copies live blobs out of packs prune deletes into new packs of
// the same kind and group.
type repacker struct {
	r       *Repository
	writers map[packKey]*pack.Writer
	proof   *PruneProof
	written map[crypto.ID]bool // every pack written is added
}

func (rp *repacker) copyOut(ctx context.Context, name string, tr *pack.Trailer, keep []pack.Blob) error {
	data, err := rp.r.be.Load(ctx, backend.Handle{Type: backend.Packs, Name: name}, 0, -1)
	if err != nil {
		return err
	}
	want := map[crypto.ID]bool{}
	for _, b := range keep {
		want[b.ID] = true
	}
	k := packKey{kind: tr.Kind, group: tr.Group}
	for _, f := range tr.Frames {
		need := false
		for _, b := range f.Blobs {
			need = need || want[b.ID]
		}
		if !need {
			continue
		}
		end := f.Offset + uint64(f.SealedLen)
		if end > uint64(len(data)) {
			return fmt.Errorf("%w: pack %s: frame at %d runs past the end", ErrPruneRefused, name, f.Offset)
		}
		plain, err := pack.OpenFrame(rp.r.key, data[f.Offset:end])
		if err != nil {
			return fmt.Errorf("%w: pack %s frame at %d: %v", ErrPruneRefused, name, f.Offset, err)
		}
		for _, b := range f.Blobs {
			if !want[b.ID] {
				continue
			}
			blob := plain[b.Offset : b.Offset+b.Length]
			if rp.r.key.BlobID(blob) != b.ID {
				return fmt.Errorf("%w: pack %s: blob %s does not match its id", ErrPruneRefused, name, b.ID.Short())
			}
			delete(want, b.ID) // a pack may name a blob twice; copy it once
			w := rp.writers[k]
			if w == nil {
				if w, err = rp.r.newPackWriter(k); err != nil {
					return err
				}
				rp.writers[k] = w
			}
			var alias *crypto.ID
			if b.HasAlias {
				a := b.Alias
				alias = &a
			}
			w.Add(b.ID, b.Type, append([]byte(nil), blob...), alias)
			if w.Size() >= rp.r.cfg.PackSize || w.PlainSize() >= maxPendingPlain {
				delete(rp.writers, k)
				if err := rp.save(ctx, k, w); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (rp *repacker) save(ctx context.Context, k packKey, w *pack.Writer) error {
	id, _, _, err := rp.r.storePack(ctx, k, w, true)
	if err != nil {
		return err
	}
	rp.proof.PacksWritten++
	rp.written[id] = true
	return nil
}

func (rp *repacker) flush(ctx context.Context) error {
	for k, w := range rp.writers {
		delete(rp.writers, k)
		if w.Count() == 0 {
			continue
		}
		if err := rp.save(ctx, k, w); err != nil {
			return err
		}
	}
	return nil
}
