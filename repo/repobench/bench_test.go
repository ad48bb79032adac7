package repobench

import (
	"fmt"
	"context"
	"testing"
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

func BenchmarkRepository1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), b.TempDir(), 1_000_000, 0.01, nil, nil)
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
