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
