// Package backendtest is the conformance suite every backend must pass: the
// contract written in package backend, checked the same way for the local
// directory, memory, S3 and any wrapper.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Run runs the suite. newBackend must return an empty backend each call.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend.Backend)
	}{
		{"SaveLoad", testSaveLoad},
		{"RangedLoad", testRangedLoad},
		{"MissingFile", testMissing},
		{"List", testList},
		{"Remove", testRemove},
		{"CreateOnly", testCreateOnly},
		{"CompareAndSwap", testCompareAndSwap},
		{"RacingCreates", testRacingCreates},
		{"BadNames", testBadNames},
		{"LargeFile", testLargeFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			defer b.Close()
			tc.fn(t, b)
		})
	}
}

var ctx = context.Background()

func pack(name string) backend.Handle { return backend.Handle{Type: backend.Packs, Name: name} }

func testSaveLoad(t *testing.T, b backend.Backend) {
	data := bytes.Repeat([]byte("orgsnap"), 1000)
	h := pack("2611/d0001")
	if err := b.Save(ctx, h, data, backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx, h, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	fi, err := b.Stat(ctx, h)
	if err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("stat = %+v, %v", fi, err)
	}
	// Config is a single file without a name.
	cfg := backend.Handle{Type: backend.Config}
	if err := b.Save(ctx, cfg, []byte("{}"), backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(ctx, cfg, 0, -1); err != nil || string(got) != "{}" {
		t.Fatalf("config = %q, %v", got, err)
	}
	// Empty files are files.
	empty := backend.Handle{Type: backend.Locks, Name: "empty"}
	if err := b.Save(ctx, empty, nil, backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(ctx, empty, 0, -1); err != nil || len(got) != 0 {
		t.Fatalf("empty = %q, %v", got, err)
	}
}

func testRangedLoad(t *testing.T, b backend.Backend) {
	data := []byte("0123456789")
	h := pack("r")
	if err := b.Save(ctx, h, data, backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 3, "012"}, {7, -1, "789"}, {8, 10, "89"}, {10, 5, ""}, {12, 1, ""}, {3, 0, ""}} {
		got, err := b.Load(ctx, h, c.off, c.n)
		if err != nil || string(got) != c.want {
			t.Errorf("Load(%d,%d) = %q, %v; want %q", c.off, c.n, got, err, c.want)
		}
	}
}

func testMissing(t *testing.T, b backend.Backend) {
	h := pack("nope")
	if _, err := b.Load(ctx, h, 0, -1); !backend.IsNotExist(err) {
		t.Errorf("Load missing: %v, want ErrNotExist", err)
	}
	if _, err := b.Stat(ctx, h); !backend.IsNotExist(err) {
		t.Errorf("Stat missing: %v, want ErrNotExist", err)
	}
}

func testList(t *testing.T, b backend.Backend) {
	want := []string{"2610/d1", "2611/d2", "2611/t3"}
	for _, n := range want {
		if err := b.Save(ctx, pack(n), []byte(n), backend.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Save(ctx, backend.Handle{Type: backend.Snapshots, Name: "s1"}, []byte("x"), backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := b.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		got = append(got, fi.Name)
		if fi.Size != int64(len(fi.Name)) {
			t.Errorf("%s: size %d", fi.Name, fi.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	// An error from fn stops the listing and comes back.
	stop := errors.New("stop")
	if err := b.List(ctx, backend.Packs, func(backend.FileInfo) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("list with failing callback: %v", err)
	}
	// An empty type lists nothing.
	n := 0
	if err := b.List(ctx, backend.Refs, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("empty list: %d, %v", n, err)
	}
}

func testRemove(t *testing.T, b backend.Backend) {
	h := pack("gone")
	if err := b.Save(ctx, h, []byte("x"), backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, h); !backend.IsNotExist(err) {
		t.Fatalf("after remove: %v", err)
	}
	if err := b.Remove(ctx, h); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

func testCreateOnly(t *testing.T, b backend.Backend) {
	h := backend.Handle{Type: backend.Refs, Name: "main"}
	if err := b.Save(ctx, h, []byte("a"), backend.SaveOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, h, []byte("b"), backend.SaveOptions{IfNotExists: true}); !errors.Is(err, backend.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if got, _ := b.Load(ctx, h, 0, -1); string(got) != "a" {
		t.Fatalf("content after refused create = %q", got)
	}
}

func testCompareAndSwap(t *testing.T, b backend.Backend) {
	h := backend.Handle{Type: backend.Refs, Name: "prod"}
	if err := b.Save(ctx, h, []byte("v1"), backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := b.Stat(ctx, h)
	if err != nil || fi.ETag == "" {
		t.Fatalf("stat: %+v %v", fi, err)
	}
	if err := b.Save(ctx, h, []byte("v2"), backend.SaveOptions{IfMatch: fi.ETag}); err != nil {
		t.Fatalf("swap with current etag: %v", err)
	}
	if err := b.Save(ctx, h, []byte("v3"), backend.SaveOptions{IfMatch: fi.ETag}); !errors.Is(err, backend.ErrPrecondition) {
		t.Fatalf("swap with stale etag: %v, want ErrPrecondition", err)
	}
	if got, _ := b.Load(ctx, h, 0, -1); string(got) != "v2" {
		t.Fatalf("content = %q, want v2", got)
	}
	fi2, _ := b.Stat(ctx, h)
	if fi2.ETag == fi.ETag {
		t.Fatal("etag did not change with content")
	}
	if err := b.Save(ctx, backend.Handle{Type: backend.Refs, Name: "absent"}, []byte("x"), backend.SaveOptions{IfMatch: fi2.ETag}); !errors.Is(err, backend.ErrPrecondition) {
		t.Fatalf("swap of missing file: %v, want ErrPrecondition", err)
	}
}

// testRacingCreates: of many concurrent create-only saves exactly one wins.
func testRacingCreates(t *testing.T, b backend.Backend) {
	h := backend.Handle{Type: backend.Locks, Name: "race"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := b.Save(ctx, h, []byte{byte(i)}, backend.SaveOptions{IfNotExists: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, backend.ErrExists):
				losses++
			default:
				t.Errorf("racing create: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 || losses != 7 {
		t.Fatalf("wins=%d losses=%d, want 1 and 7", wins, losses)
	}
}

func testBadNames(t *testing.T, b backend.Backend) {
	for _, name := range []string{"", "../x", "a/../../b", "/abs", "a//b", "a/"} {
		if err := b.Save(ctx, pack(name), []byte("x"), backend.SaveOptions{}); err == nil {
			t.Errorf("Save(%q) accepted", name)
		}
	}
}

// testLargeFile: a file larger than a pack (S3 backends in the tests upload
// it in parts) reads back whole and in ranges that straddle part borders.
func testLargeFile(t *testing.T, b backend.Backend) {
	data := make([]byte, 11<<20+12345)
	x := uint32(2463534242)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	h := pack("2611/dlarge")
	if err := b.Save(ctx, h, data, backend.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx, h, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load = %d bytes, %v; want the %d saved", len(got), err, len(data))
	}
	off := int64(5<<20 - 100)
	got, err = b.Load(ctx, h, off, 200)
	if err != nil || !bytes.Equal(got, data[off:off+200]) {
		t.Fatalf("ranged load across a part border = %d bytes, %v", len(got), err)
	}
	if fi, err := b.Stat(ctx, h); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("stat = %+v, %v", fi, err)
	}
}
