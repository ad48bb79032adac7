package repo

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/faulty"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
)

// workload commits snapshot number step on top of parent: a few hundred
// records across two objects with inserts, updates and deletes, and a file.
func workload(r *Repository, parent *Snapshot, step int, m model) (*Snapshot, model, error) {
	rng := rand.New(rand.NewSource(int64(step)))
	next := m.clone()
	w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Org: "00D000000000001"})
	if err != nil {
		return nil, nil, err
	}
	for _, o := range []string{"Account", "Contact"} {
		if next[o] == nil {
			next[o] = map[string]record.Record{}
		}
		ids := keys(next[o])
		for i := 0; i < 60; i++ {
			if len(ids) > 0 && rng.Intn(4) == 0 {
				id := ids[rng.Intn(len(ids))]
				delete(next[o], id)
				if err := w.DeleteRecord(ctx, o, id); err != nil {
					w.Abort()
					return nil, nil, err
				}
				continue
			}
			id := randID(rng, "001")
			if len(ids) > 0 && rng.Intn(2) == 0 {
				id = ids[rng.Intn(len(ids))]
			}
			v := randRecord(rng, id)
			next[o][id] = v
			if err := w.PutRecord(ctx, o, id, v); err != nil {
				w.Abort()
				return nil, nil, err
			}
		}
	}
	body := make([]byte, 3000+rng.Intn(5000))
	rng.Read(body)
	if _, err := w.PutFile(ctx, "ContentVersion", randID(rng, "068"), bytes.NewReader(body), fmt.Sprint("md5-", step)); err != nil {
		w.Abort()
		return nil, nil, err
	}
	s, err := w.Commit(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s, next, nil
}

// TestCrashAnywhere: the storage dies after n calls, for many n. After
// each crash the repository reopens, check passes, every committed snapshot
// reads back exactly, and the next run completes.
func TestCrashAnywhere(t *testing.T) {
	points := 0
	for n := 1; ; n++ {
		dir := t.TempDir()
		var fb *faulty.Backend
		wrap := func(b backend.Backend) backend.Backend {
			fb = faulty.Wrap(b, nil)
			return fb
		}
		r, err := Init(ctx, dir, Options{Password: []byte("pw"), KDF: crypto.TestKDF, Now: testClock(), Tune: tiny, WrapBackend: wrap})
		if err != nil {
			t.Fatal(err)
		}
		// Two committed snapshots, then the crash somewhere in the third or
		// fourth; half the time the failing write lands before the error.
		s1, m1, err := workload(r, nil, 1, model{})
		must(t, err)
		s2, m2, err := workload(r, s1, 2, m1)
		must(t, err)
		afterWrite := n%2 == 0
		fb.SetRule(func(i int, op faulty.Op, h backend.Handle) (bool, bool) { return i > n, afterWrite })
		committed := map[*Snapshot]model{s1: m1, s2: m2}
		s3, m3, err := workload(r, s2, 3, m2)
		crashed := err != nil
		if !crashed {
			committed[s3] = m3
			if _, _, err = workload(r, s3, 4, m3); err != nil {
				crashed = true
			}
		}
		r.Close() // the process "dies": nothing more is flushed
		if !crashed {
			break // n is past the last storage call of the workload
		}
		if !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("n=%d: unexpected error %v", n, err)
		}
		points++
		r2, err := Open(ctx, dir, Options{Password: []byte("pw"), Now: testClock()})
		if err != nil {
			t.Fatalf("n=%d: reopen after crash: %v", n, err)
		}
		rep, err := r2.Check(ctx, true, nil)
		if err != nil || !rep.OK() {
			t.Fatalf("n=%d: check after crash: %v %+v", n, err, rep)
		}
		for s, m := range committed {
			checkSnapshot(t, r2, s, m)
		}
		// Resume: the run that crashed completes now.
		last := s2
		lm := m2
		if s3 != nil && committed[s3] != nil {
			last, lm = s3, m3
		}
		s5, m5, err := workload(r2, last, 5, lm)
		if err != nil {
			t.Fatalf("n=%d: run after crash: %v", n, err)
		}
		checkSnapshot(t, r2, s5, m5)
		r2.Close()
	}
	if points < 10 {
		t.Fatalf("only %d crash points exercised", points)
	}
	t.Logf("%d crash points", points)
}

// TestCorruptPack: flipping bytes in a pack is found by check --read-data,
// which names the pack and the snapshot and object affected.
func TestCorruptPack(t *testing.T) {
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	s1, _, err := workload(r, nil, 1, model{})
	must(t, err)
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("clean repo: %v %+v", err, rep)
	}
	// Damage a data pack in the middle.
	var victim string
	filepath.Walk(filepath.Join(dir, "packs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && victim == "" && filepath.Base(p)[0] == 'd' {
			victim = p
		}
		return nil
	})
	data, err := os.ReadFile(victim)
	must(t, err)
	data[len(data)/3] ^= 0xff
	must(t, os.WriteFile(victim, data, 0o600))

	rep, err = r.Check(ctx, false, nil)
	must(t, err)
	if !rep.OK() {
		t.Fatalf("structure check should not read data: %+v", rep.Problems)
	}
	rep, err = r.Check(ctx, true, nil)
	must(t, err)
	if rep.OK() {
		t.Fatal("check --read-data missed a damaged pack")
	}
	name, _ := filepath.Rel(filepath.Join(dir, "packs"), victim)
	named, affects := false, false
	for _, p := range rep.Problems {
		if p.Pack == filepath.ToSlash(name) {
			named = true
		}
		for _, a := range p.Affects {
			if a != "" && len(a) > 9 && a[:9] == "snapshot " && contains(a, s1.ID.Short()) {
				affects = true
			}
		}
	}
	if !named || !affects {
		t.Fatalf("problems do not name the pack (%v) and affected snapshot (%v): %+v", named, affects, rep.Problems)
	}
	r.Close()
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// TestWrongPassword: a wrong password is ErrWrongPassword and writes nothing.
func TestWrongPassword(t *testing.T) {
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	_, _, err := workload(r, nil, 1, model{})
	must(t, err)
	r.Close()
	before := treeState(t, dir)
	_, err = Open(ctx, dir, Options{Password: []byte("nope")})
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("a failed open changed the repository:\n%s\n---\n%s", before, after)
	}
	if _, err := Open(ctx, t.TempDir(), Options{Password: []byte("pw")}); !errors.Is(err, ErrNoRepository) {
		t.Fatalf("empty dir: %v", err)
	}
}

// treeState lists every file with size and mtime (the index dir included).
func treeState(t *testing.T, dir string) string {
	var s string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			s += fmt.Sprintf("%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return s
}

// TestKeySlots: passwords can be added, changed and removed; the last
// slot cannot be removed.
func TestKeySlots(t *testing.T) {
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	id2, err := r.AddKey(ctx, []byte("second"), crypto.TestKDF, "ops")
	must(t, err)
	if _, err := r.ChangePassword(ctx, []byte("pw"), []byte("third"), crypto.TestKDF); err != nil {
		t.Fatal(err)
	}
	keys, err := r.Keys(ctx, []byte("third"))
	must(t, err)
	if len(keys) != 2 {
		t.Fatalf("%d slots, want 2", len(keys))
	}
	r.Close()
	for pw, ok := range map[string]bool{"pw": false, "second": true, "third": true} {
		r, err := Open(ctx, dir, Options{Password: []byte(pw), ReadOnly: true})
		if (err == nil) != ok {
			t.Fatalf("password %q: %v", pw, err)
		}
		if err == nil {
			r.Close()
		}
	}
	r, err = Open(ctx, dir, Options{Password: []byte("third")})
	must(t, err)
	must(t, r.RemoveKey(ctx, id2))
	keys, _ = r.Keys(ctx, nil)
	if err := r.RemoveKey(ctx, keys[0].ID); err == nil {
		t.Fatal("removed the last slot")
	}
	r.Close()
}

// TestConcurrentWriters: a second process is refused while the first holds
// the repository, or waits for it with LockWait and then builds on the
// first one's snapshot; both snapshots survive and check passes.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	r.Close()
	open := func(wait time.Duration) (*Repository, error) {
		return Open(ctx, dir, Options{Password: []byte("pw"), Now: testClock(), LockWait: wait, Purpose: "test"})
	}
	a, err := open(0)
	must(t, err)
	if _, err := open(0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	type result struct {
		s   *Snapshot
		m   model
		err error
	}
	first := make(chan model, 1)
	done := make(chan result, 1)
	go func() {
		b, err := open(30 * time.Second) // blocks until a closes
		if err != nil {
			done <- result{err: err}
			return
		}
		snaps, err := b.Snapshots(ctx, nil)
		if err != nil || len(snaps) != 1 {
			b.Close()
			done <- result{err: fmt.Errorf("second writer sees %d snapshots: %v", len(snaps), err)}
			return
		}
		s, m, err := workload(b, snaps[0], 2, <-first)
		b.Close()
		done <- result{s, m, err}
	}()
	sa, ma, err := workload(a, nil, 1, model{})
	must(t, err)
	first <- ma
	a.Close()
	rb := <-done
	must(t, rb.err)
	r, err = open(0)
	must(t, err)
	defer r.Close()
	checkSnapshot(t, r, sa, ma)
	checkSnapshot(t, r, rb.s, rb.m)
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %+v", err, rep)
	}
}
