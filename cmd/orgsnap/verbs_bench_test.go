package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/repobench"
)

// Benchmarks of diff and history (docs/benchmarks.md, "History verbs"):
//
//	go test -run XXX -bench 'DiffCLI|History365' -benchtime 3x -v ./cmd/orgsnap/
//
// Each builds its repository with repo.Writer directly (generated
// Contact-like records, repobench's shape), then times the command's path
// from opening the repository to the formatted output (to io.Discard).
// ORGSNAP_BENCH_RECORDS overrides the record counts.

func benchRecords(def int) int {
	if n, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// benchDescribe is a minimal stored describe: what history needs to find
// the object from an Id's key prefix, and diff to compare schemas.
func benchDescribe() []byte {
	b := []byte(`{"name":"Contact","keyPrefix":"003","fields":[`)
	for i, f := range repobench.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"name":%q,"type":"string","length":255}`, f)
	}
	return append(b, "]}"...)
}

func benchRepo(b *testing.B) (string, *repo.Repository) {
	dir := b.TempDir()
	r, err := repo.Init(context.Background(), dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		b.Fatal(err)
	}
	return dir, r
}

// commitDay writes one snapshot a day after parent: the records i in
// changed at version v (all of 0..n-1 when parent is nil).
func commitDay(b *testing.B, r *repo.Repository, parent *repo.Snapshot, at time.Time, n int, changed []int, v int) *repo.Snapshot {
	ctx := context.Background()
	w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Time: at})
	if err != nil {
		b.Fatal(err)
	}
	if parent == nil {
		if err := w.PutSchema(ctx, "Contact", benchDescribe()); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := w.PutRecord(ctx, "Contact", repobench.ID("003", i), repobench.ToRecord(repobench.Record(i, 0))); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, i := range changed {
		if err := w.PutRecord(ctx, "Contact", repobench.ID("003", i), repobench.ToRecord(repobench.Record(i, v))); err != nil {
			b.Fatal(err)
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func openBench(b *testing.B, dir string) *repo.Repository {
	r, err := repo.Open(context.Background(), dir, repo.Options{Password: []byte("pw")})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkDiffCLI: `orgsnap diff` of two 1M-record snapshots 1% apart,
// field by field, formatted as text, from a freshly opened repository.
func BenchmarkDiffCLI(b *testing.B) {
	n := benchRecords(1_000_000)
	dir, r := benchRepo(b)
	t0 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	s1 := commitDay(b, r, nil, t0, n, nil, 0)
	rng := rand.New(rand.NewSource(1))
	changed := rng.Perm(n)[:n/100]
	s2 := commitDay(b, r, s1, t0.Add(24*time.Hour), n, changed, 1)
	r.Close()
	for _, format := range []string{"text", "json", "stat"} {
		b.Run(format, func(b *testing.B) {
			var took time.Duration
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				r := openBench(b, dir)
				a, bb, err := diffPair(context.Background(), r, []string{s1.ID.String(), s2.ID.String()})
				if err != nil {
					b.Fatal(err)
				}
				if err := writeDiff(context.Background(), r, a, bb, nil, diffOptions{Format: format}, io.Discard); err != nil {
					b.Fatal(err)
				}
				r.Close()
				took += time.Since(start)
			}
			cpu := (cpuTime() - cpu0).Seconds() * 1000 / float64(b.N)
			b.ReportMetric(took.Seconds()*1000/float64(b.N), "ms/diff")
			b.ReportMetric(cpu, "cpu-ms/diff")
			fmt.Printf("| diff --%s, %d records, %d changed | %.0f ms (%.0f ms CPU) |\n", format, n, len(changed), took.Seconds()*1000/float64(b.N), cpu)
		})
	}
}

// BenchmarkHistory365: `orgsnap history ID` across 365 daily snapshots
// of a 100,000-record object with 100 records changed a day; the record
// followed changes every 30 days. ORGSNAP_BENCH_PER_DAY sets the daily
// churn; ORGSNAP_BENCH_KEEP=DIR keeps the built repository in DIR for the
// next run (profiling).
func BenchmarkHistory365(b *testing.B) {
	n := benchRecords(100_000)
	const days, every = 365, 30
	perDay := 100
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_PER_DAY")); err == nil && v > 0 {
		perDay = v
	}
	target := n / 2
	dir := b.TempDir()
	if keep := os.Getenv("ORGSNAP_BENCH_KEEP"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("history-%d-%d", n, perDay))
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err != nil {
		buildHistoryRepo(b, dir, n, target, days, perDay, every)
	}
	id := repobench.ID("003", target)
	var took time.Duration
	versions := 0
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := openBench(b, dir)
		ctx := context.Background()
		tip, err := r.ResolveRevision(ctx, repo.LatestRev)
		if err != nil {
			b.Fatal(err)
		}
		object, err := objectOfID(ctx, r, tip, id)
		if err != nil {
			b.Fatal(err)
		}
		events, err := recordHistory(ctx, r, tip, object, id)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
		took += time.Since(start)
		versions = len(events)
	}
	if want := 1 + (days-1)/every; versions != want {
		b.Fatalf("history found %d versions, want %d", versions, want)
	}
	cpu := (cpuTime() - cpu0).Seconds() * 1000 / float64(b.N)
	b.ReportMetric(took.Seconds()*1000/float64(b.N), "ms/history")
	b.ReportMetric(cpu, "cpu-ms/history")
	fmt.Printf("| history of one record, %d daily snapshots of %d records (%d changed a day) | %d versions in %.0f ms (%.0f ms CPU) |\n",
		days, n, perDay, versions, took.Seconds()*1000/float64(b.N), cpu)
}

// buildHistoryRepo writes the days snapshots of BenchmarkHistory365 into dir.
func buildHistoryRepo(b *testing.B, dir string, n, target, days, perDay, every int) {
	r, err := repo.Init(context.Background(), dir, repo.Options{Password: []byte("pw"), KDF: crypto.TestKDF})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	t0 := time.Date(2025, 11, 1, 3, 0, 0, 0, time.UTC)
	s := commitDay(b, r, nil, t0, n, nil, 0)
	rng := rand.New(rand.NewSource(1))
	for d := 1; d < days; d++ {
		changed := rng.Perm(n)[:perDay]
		for k, i := range changed {
			if i == target {
				changed[k] = (i + 1) % n
			}
		}
		if d%every == 0 {
			changed = append(changed, target)
		}
		s = commitDay(b, r, s, t0.Add(time.Duration(d)*24*time.Hour), n, changed, d)
	}
}

// cpuTime is the process's user and system CPU time: under a loaded
// machine it says what a run costs when wall time cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
