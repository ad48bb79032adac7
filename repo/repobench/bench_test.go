package repobench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
)

// TestSmall runs the harness on a small repository so it stays working;
// the figures in docs/benchmarks.md come from the 1M run (see there).
func TestSmall(t *testing.T) {
	res, err := Run(context.Background(), t.TempDir(), 20000, 0.01, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.DiffChanges != 200 {
		t.Fatalf("diff found %d changes, want exactly the 200 made", res.DiffChanges)
	}
	if res.ChangeBytes <= 0 || res.RepoBytes <= 0 {
		t.Fatalf("sizes: %+v", res)
	}
	t.Log("\n" + Table(res))
}

// BenchmarkRepository1M measures 1M records. ORGSNAP_BENCH_LEVEL=1..4
// overrides the repository's zstd level, to compare levels.
func BenchmarkRepository1M(b *testing.B) {
	var tune func(*repo.Config)
	if l, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_LEVEL")); err == nil {
		tune = func(c *repo.Config) { c.Compression = l }
	}
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), b.TempDir(), 1_000_000, 0.01, tune, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.WriteRecordsPerS, "records/s")
		b.ReportMetric(res.RatioVsCSVZstd, "x-csv-zstd3")
		b.ReportMetric(res.ChangeOfParent*100, "%-written-1pct")
		b.ReportMetric(res.DiffSeconds*1000, "ms-diff")
		b.ReportMetric(res.LookupMicros, "µs-lookup")
		fmt.Println(Table(res)) // b.Log output is truncated by go test
	}
}

// TestPruneChild is the child process of the prune benchmark: it prunes
// the repository RunPrune names and prints the figures. Without the
// variable it does nothing.
func TestPruneChild(t *testing.T) {
	if _, err := RunPruneChild(context.Background(), os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// TestPruneSmall runs the prune harness on a small history so it stays
// working: dropping the oldest periods must erase something and keep the
// proof verified.
func TestPruneSmall(t *testing.T) {
	if os.Getenv(PruneChildEnv) != "" {
		t.Skip("child process")
	}
	res, err := RunPrune(context.Background(), t.TempDir(), 5000, 6, 3, 0.01, "TestPruneChild", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Forgotten != 3 {
		t.Fatalf("forgot %d snapshots, want the 3 of the oldest periods", res.Forgotten)
	}
	if p := res.Proof; !p.Verified || p.BlobsErased == 0 || p.BytesErased == 0 || p.PackBytesAfter >= p.PackBytesBefore {
		t.Fatalf("proof: %+v", p)
	}
	if res.MaxRSSMiB <= 0 || res.PeakHeapMiB <= 0 {
		t.Fatalf("memory figures missing: %+v", res)
	}
	t.Log("\n" + PruneTable(res))
}

// BenchmarkPrune1M: prune after forgetting 12 of 24 monthly periods of a
// 1M-record history (1% churn a month). ORGSNAP_BENCH_RECORDS resizes it.
func BenchmarkPrune1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		res, err := RunPrune(context.Background(), b.TempDir(), n, 24, 12, 0.01, "TestPruneChild", os.Stderr)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.PruneSeconds, "s-prune")
		b.ReportMetric(res.PeakHeapMiB, "MiB-heap")
		b.ReportMetric(res.MaxRSSMiB, "MiB-maxrss")
		b.ReportMetric(float64(res.Proof.BytesErased)/(1<<20), "MiB-erased")
		fmt.Println(PruneTable(res))
	}
}

// BenchmarkDailyCycle measures the cost of daily snapshots over time:
// ORGSNAP_BENCH_RECORDS (default 200,000) records, ORGSNAP_BENCH_DAYS
// (default 60) days of 1% random churn, ORGSNAP_BENCH_REBASE overriding the
// rebase ratio.
func BenchmarkDailyCycle(b *testing.B) {
	n, days, ratio := 200_000, 60, 0
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_REBASE")); err == nil && v > 0 {
		ratio = v
	}
	for i := 0; i < b.N; i++ {
		res, err := Cycle(context.Background(), b.TempDir(), n, days, 0.01, ratio)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Print(CycleTable(res))
	}
}

// TestCycleSmall keeps the daily-cycle harness working, and checks what
// it measures: a day costs about its changes (a run of its own), except
// the days runs are merged (a few times a day's changes) or folded into a
// new base.
func TestCycleSmall(t *testing.T) {
	res, err := Cycle(context.Background(), t.TempDir(), 20000, 20, 0.01, 8)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rebases == 0 || res.Rebases > 2 {
		t.Fatalf("%d rebases in 20 days of 1%% churn with ratio 8, want 1 or 2", res.Rebases)
	}
	if res.NewBytes[0] > res.FullBytes/10 {
		t.Fatalf("the first day wrote %d bytes, a tenth of the full snapshot is %d", res.NewBytes[0], res.FullBytes/10)
	}
	// Days without a fold: each writes its own run (~1%), and a merge day
	// a run of about eight days' changes. With one delta rewritten daily,
	// day k after a fold wrote about k%: a mean of 5-7% over those days.
	var sum int64
	for _, b := range res.NewBytes {
		if b <= res.FullBytes/2 {
			sum += b
		}
	}
	if mean := float64(sum) / float64(len(res.NewBytes)-res.Rebases) / float64(res.FullBytes); mean > 0.035 {
		t.Fatalf("days without a fold wrote %.1f%% of a full snapshot on average, want at most 3.5%%", 100*mean)
	}
	t.Log("\n" + CycleTable(res))
}
