package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/faulty"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/record"
)

// markerHistory builds s1 (a workload), s2 = s1 plus records and a file
// carrying marker (one record inline, one large enough to be a blob of its
// own), s3 = s2 without them. Only s2 holds the marker.
func markerHistory(t *testing.T, r *Repository, marker string) (s1, s2, s3 *Snapshot, m1, m3 model) {
	t.Helper()
	s1, m1, err := workload(r, nil, 1, model{})
	must(t, err)
	w, err := r.NewWriter(ctx, WriterOptions{Parent: s1, Org: "00D000000000001"})
	must(t, err)
	small := record.Record{{Name: "Email", Kind: record.String, Value: marker + "@example.com"}, {Name: "LastName", Kind: record.String, Value: "Subject"}}
	large := record.Record{{Name: "Description", Kind: record.String, Value: strings.Repeat("notes about "+marker+" ", 30)}}
	must(t, w.PutRecord(ctx, "Contact", "0035g00000Subject1", small))
	must(t, w.PutRecord(ctx, "Contact", "0035g00000Subject2", large))
	_, err = w.PutFile(ctx, "Attachment", "00P5g00000Subject3", strings.NewReader(strings.Repeat("scan of "+marker+"\n", 400)), "md5-marker")
	must(t, err)
	s2, err = w.Commit(ctx)
	must(t, err)
	w, err = r.NewWriter(ctx, WriterOptions{Parent: s2, Org: "00D000000000001"})
	must(t, err)
	must(t, w.DeleteRecord(ctx, "Contact", "0035g00000Subject1"))
	must(t, w.DeleteRecord(ctx, "Contact", "0035g00000Subject2"))
	must(t, w.RemoveObject(ctx, "Attachment"))
	s3, err = w.Commit(ctx)
	must(t, err)
	return s1, s2, s3, m1, m1.clone()
}

// plaintextHolding decrypts every frame of every pack (so every blob) and
// returns the packs whose plaintext contains marker; it also reports any
// file under the repository directory whose raw bytes contain it.
func plaintextHolding(t *testing.T, r *Repository, marker string) []string {
	t.Helper()
	var found []string
	err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		data, err := r.be.Load(ctx, backend.Handle{Type: backend.Packs, Name: fi.Name}, 0, -1)
		if err != nil {
			return err
		}
		tr, err := pack.ReadTrailer(r.key, data)
		if err != nil {
			return err
		}
		for _, f := range tr.Frames {
			plain, err := pack.OpenFrame(r.key, data[f.Offset:f.Offset+uint64(f.SealedLen)])
			if err != nil {
				return err
			}
			for _, b := range f.Blobs {
				if bytes.Contains(plain[b.Offset:b.Offset+b.Length], []byte(marker)) {
					found = append(found, fmt.Sprintf("pack %s blob %s (%s)", fi.Name, b.ID.Short(), b.Type))
				}
			}
		}
		return nil
	})
	must(t, err)
	// The repository is open: pebble may delete obsolete files of its own
	// while this walks. A file gone holds nothing any more.
	err = filepath.WalkDir(r.Dir(), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) {
			found = append(found, "raw file "+p)
		}
		return nil
	})
	must(t, err)
	return found
}

func TestPruneErasesForgottenData(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer func() { r.Close() }()
	const marker = "MARKER-7f3a9c21"
	s1, s2, s3, m1, m3 := markerHistory(t, r, marker)
	if got := plaintextHolding(t, r, marker); len(got) < 3 {
		t.Fatalf("the marker should be in a leaf, a record blob and a file chunk before prune: %v", got)
	}
	must(t, r.RemoveSnapshot(ctx, s2.ID))
	proof, err := r.Prune(ctx, PruneOptions{Cause: "test"})
	must(t, err)
	if !proof.Verified || proof.BlobsErased == 0 || proof.BytesErased == 0 || proof.PacksRewritten+proof.PacksDeleted == 0 || proof.Snapshots != 2 {
		t.Fatalf("proof: %+v", proof)
	}
	if got := plaintextHolding(t, r, marker); len(got) > 0 {
		t.Fatalf("marker survived prune: %v", got)
	}
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() || rep.Unreferenced != 0 {
		t.Fatalf("check after prune: %v %+v", err, rep)
	}
	checkSnapshot(t, r, current(t, r, s1), m1)
	checkSnapshot(t, r, current(t, r, s3), m3)
	if _, ok, err := r.FileByChecksum("md5-marker"); ok || err != nil {
		t.Fatalf("the erased file is still found by its checksum: %v %v", ok, err)
	}
	log, err := r.AuditLog(ctx)
	// s3 still held s2's run (the marker records) under its own run of
	// tombstones: both were shadowed versions, dropped by a rewrite first.
	if err != nil || len(log) != 2 || log[0].Event != "rewrite" || log[1].Event != "prune" || !strings.Contains(string(log[1].Detail), `"verified":true`) {
		t.Fatalf("audit log: %v %+v", err, log)
	}
	// A second prune has nothing to erase, and the repository reopens.
	r = reopen(t, r)
	proof, err = r.Prune(ctx, PruneOptions{})
	must(t, err)
	if proof.BlobsErased != 0 || proof.PacksRewritten != 0 || proof.PacksDeleted != 0 {
		t.Fatalf("second prune changed things: %+v", proof)
	}
	checkSnapshot(t, r, current(t, r, s3), m3)
}

// current is s, or the snapshot that replaced it when prune dropped
// shadowed versions from its layers (or an erase rewrote it).
func current(t *testing.T, r *Repository, s *Snapshot) *Snapshot {
	t.Helper()
	snaps, err := r.Snapshots(ctx, nil)
	must(t, err)
	for _, c := range snaps {
		if c.ID == s.ID {
			return c
		}
	}
	orig := s.ID
	if s.Original != nil {
		orig = *s.Original // rewrites name the first snapshot of the chain
	}
	for _, c := range snaps {
		if c.Original != nil && *c.Original == orig {
			return c
		}
	}
	t.Fatalf("snapshot %s is gone and nothing replaced it", s.ID.Short())
	return nil
}

// TestPruneRefusesDamage: a snapshot whose tree cannot be read would have
// its blobs erased; prune must change nothing instead.
func TestPruneRefusesDamage(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	_, s2, _, _, _ := markerHistory(t, r, "x")
	// Drop the index entry of s2's root node by removing every pack that
	// holds it from the index only: the blob is then "used but in no pack".
	loc, err := r.idx.Lookup(s2.Root)
	must(t, err)
	must(t, r.idx.RemovePack(loc.Pack, nil))
	before := treeState(t, filepath.Join(r.Dir(), "packs"))
	if _, err := r.Prune(ctx, PruneOptions{}); !errors.Is(err, ErrPruneRefused) {
		t.Fatalf("prune on a damaged repository: %v", err)
	}
	after := treeState(t, filepath.Join(r.Dir(), "packs"))
	if before != after {
		t.Fatal("a refused prune changed files")
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	must(t, err)
}

// TestPruneCrashAnywhere: the storage dies after n calls of a prune, for
// every n. Afterwards the repository opens, check --read-data passes, every
// remaining snapshot reads back exactly (no live blob lost), and a second
// prune completes and erases everything the first meant to.
func TestPruneCrashAnywhere(t *testing.T) {
	template := t.TempDir()
	r := newTestRepo(t, template)
	const marker = "MARKER-c4a5h"
	s1, s2, s3, m1, m3 := markerHistory(t, r, marker)
	must(t, r.RemoveSnapshot(ctx, s2.ID))
	r.Close()

	points := 0
	for n := 1; ; n++ {
		dir := filepath.Join(t.TempDir(), "repo")
		copyDir(t, template, dir)
		var fb *faulty.Backend
		r, err := Open(ctx, dir, Options{Password: []byte("pw"), Now: testClock(), WrapBackend: func(b backend.Backend) backend.Backend {
			fb = faulty.Wrap(b, nil)
			return fb
		}})
		must(t, err)
		afterWrite := n%2 == 0
		fb.SetRule(func(i int, op faulty.Op, h backend.Handle) (bool, bool) { return i > n, afterWrite })
		_, err = r.Prune(ctx, PruneOptions{})
		r.Close()
		if err == nil {
			break
		}
		// An unreadable snapshot makes prune refuse to start (as it should).
		if !errors.Is(err, faulty.ErrInjected) && !(errors.Is(err, ErrPruneRefused) && strings.Contains(err.Error(), faulty.ErrInjected.Error())) {
			t.Fatalf("n=%d: unexpected error %v", n, err)
		}
		points++
		r2, err := Open(ctx, dir, Options{Password: []byte("pw"), Now: testClock()})
		if err != nil {
			t.Fatalf("n=%d: reopen: %v", n, err)
		}
		rep, err := r2.Check(ctx, true, nil)
		if err != nil || !rep.OK() {
			t.Fatalf("n=%d: check after crashed prune: %v %+v", n, err, rep)
		}
		checkSnapshot(t, r2, current(t, r2, s1), m1)
		checkSnapshot(t, r2, current(t, r2, s3), m3)
		proof, err := r2.Prune(ctx, PruneOptions{})
		if err != nil || !proof.Verified {
			t.Fatalf("n=%d: prune after crash: %v %+v", n, err, proof)
		}
		if got := plaintextHolding(t, r2, marker); len(got) > 0 {
			t.Fatalf("n=%d: marker survived the finishing prune: %v", n, got)
		}
		rep, err = r2.Check(ctx, true, nil)
		if err != nil || !rep.OK() || rep.Unreferenced != 0 {
			t.Fatalf("n=%d: check after finishing prune: %v %+v", n, err, rep)
		}
		checkSnapshot(t, r2, current(t, r2, s3), m3)
		r2.Close()
	}
	if points < 10 {
		t.Fatalf("only %d crash points exercised", points)
	}
	t.Logf("%d crash points", points)
}
