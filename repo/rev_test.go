package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
)

// commitAt commits a snapshot of one record whose value is v, at time t.
func commitAt(t *testing.T, r *Repository, parent *Snapshot, at time.Time, kind, v string) *Snapshot {
	t.Helper()
	w, err := r.NewWriter(ctx, WriterOptions{Parent: parent, Time: at, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutRecord(ctx, "Account", "001000000000001AAA", record.Record{{Name: "Name", Kind: record.String, Value: v}}); err != nil {
		t.Fatal(err)
	}
	var s *Snapshot
	if kind == KindCheckpoint {
		s, err = w.CommitCheckpoint(ctx)
	} else {
		s, err = w.Commit(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolveRevision(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	// main: s1 ← s2 ← s3 ← s4 (daily at 03:00); other: o1 from s2 (a
	// second lineage, newer than s3); a checkpoint newest of all.
	s1 := commitAt(t, r, nil, day(1, 3), "", "a")
	s2 := commitAt(t, r, s1, day(2, 3), "", "b")
	s3 := commitAt(t, r, s2, day(3, 3), "", "c")
	o1 := commitAt(t, r, s2, day(3, 4), "", "x")
	s4 := commitAt(t, r, s3, day(4, 3), "", "d")
	cp := commitAt(t, r, s4, day(5, 3), KindCheckpoint, "e")
	for name, s := range map[string]*Snapshot{"main": s4, "other": o1} {
		if err := r.SetRef(ctx, name, s.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]*Snapshot{
		"latest":                            s4, // the checkpoint is newer but not a revision
		"main":                              s4,
		"main~0":                            s4,
		"main~1":                            s3,
		"main^":                             s3,
		"main^^":                            s2,
		"latest~3":                          s1,
		"other~1":                           s2,
		"other":                             o1,
		s3.ID.String()[:8]:                  s3,
		strings.ToUpper(s3.ID.String()[:8]): s3,
		s3.ID.String():                      s3,
		cp.ID.String()[:10]:                 cp, // a checkpoint by id
		cp.ID.String()[:10] + "^":           s4,
		"@{2026-11-03}":                     s2, // 00:00 UTC: s3 was taken at 03:00
		"@{2026-11-03T03:00Z}":              s3, // at or before
		"@{2026-11-03T02:59Z}":              s2,
		"@{2026-11-03T05:00+02:00}":         s3,
		"main@{2026-12-01}":                 s4,
		"other@{2026-11-03T05:00Z}":         o1,
		"main@{2026-11-03T05:00Z}":          s3,
		"main@{2026-11-04}~1":               s2,
	}
	for rev, w := range want {
		got, err := r.ResolveRevision(ctx, rev)
		if err != nil {
			t.Errorf("%s: %v", rev, err)
			continue
		}
		if got.ID != w.ID {
			t.Errorf("%s: got %s (%s), want %s (%s)", rev, got.ID.Short(), got.Time, w.ID.Short(), w.Time)
		}
	}
	for _, rev := range []string{"nope", "main~4", "latest~9", "@{2026-10-31}", "abcdef0123", "12"} {
		if _, err := r.ResolveRevision(ctx, rev); !errors.Is(err, ErrUnknownRevision) || !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: want unknown revision, got %v", rev, err)
		}
	}
	for _, rev := range []string{"main~x", "main@{yesterday}", "main@2026", "~1", "", "main!"} {
		if _, err := r.ResolveRevision(ctx, rev); !errors.Is(err, ErrBadRevision) && !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("%q: want a malformed-revision error, got %v", rev, err)
		}
	}

	// A prefix shared by several snapshots is ambiguous and lists them
	// all, readable or not: a copy of s3's file under another name that
	// shares its first 8 digits.
	name := s3.ID.String()
	fill := "0"
	if name[8] == '0' {
		fill = "1"
	}
	fake := name[:8] + strings.Repeat(fill, len(name)-8)
	data, err := os.ReadFile(filepath.Join(r.Dir(), "snapshots", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir(), "snapshots", fake), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = r.ResolveRevision(ctx, name[:8])
	var amb *AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, ErrAmbiguousRevision) || len(amb.Candidates) != 2 ||
		!strings.Contains(err.Error(), name[:16]) || !strings.Contains(err.Error(), fake[:16]) {
		t.Fatalf("%s: want an ambiguity listing both candidates, got %v", name[:8], err)
	}
	if got, err := r.ResolveRevision(ctx, name[:9]); err != nil || got.ID != s3.ID {
		t.Fatalf("%s: %v", name[:9], err)
	}

	// Ranges.
	from, to, err := r.ResolveRange(ctx, "main~2..main")
	if err != nil || from.ID != s2.ID || to.ID != s4.ID {
		t.Fatalf("main~2..main: %v %v %v", from, to, err)
	}
	from, to, err = r.ResolveRange(ctx, "main~1..")
	if err != nil || from.ID != s3.ID || to.ID != s4.ID {
		t.Fatalf("main~1..: %v %v %v", from, to, err)
	}
	from, to, err = r.ResolveRange(ctx, "other")
	if err != nil || from != nil || to.ID != o1.ID {
		t.Fatalf("other: %v %v %v", from, to, err)
	}
}
