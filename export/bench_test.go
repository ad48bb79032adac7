package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/repobench"
)

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine it measures the work done, where wall time also measures
// the other processes.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExport1M exports a generated 1M-record object (repobench's
// Contact records, ~600 bytes of JSON each) as CSV to a file, with and
// without a filter. Building the repository is not timed.
// ORGSNAP_BENCH_RECORDS overrides the size. The figures and the command
// are in docs/benchmarks.md.
func BenchmarkExport1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	r, err := repo.Init(bg, filepath.Join(dir, "repo"), repo.Options{Password: []byte("bench"), KDF: crypto.TestKDF})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	w, err := r.NewWriter(bg, repo.WriterOptions{Org: "00D5g0000000BENCH", Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		vals := repobench.Record(i, 0)
		if err := w.PutRecord(bg, "Contact", vals[0], repobench.ToRecord(vals)); err != nil {
			b.Fatal(err)
		}
	}
	s, err := w.Commit(bg)
	if err != nil {
		b.Fatal(err)
	}
	fields, err := r.FieldNames(bg, s, "Contact")
	if err != nil {
		b.Fatal(err)
	}
	where := "LastName LIKE 'a%' OR Email = 'nobody@example.com'"
	for _, bc := range []struct {
		name  string
		where string
	}{{"all", ""}, {"where", where}} {
		b.Run(bc.name, func(b *testing.B) {
			var o Options
			if bc.where != "" {
				e, err := filter.Parse(bc.where)
				if err != nil {
					b.Fatal(err)
				}
				o.Where = e
			}
			var res []Result
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				o.Dir = filepath.Join(dir, fmt.Sprintf("out-%s-%d", bc.name, i))
				if res, err = Run(bg, r, s, o); err != nil {
					b.Fatal(err)
				}
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			cpu := (cpuTime() - cpu0).Seconds() / float64(b.N)
			b.ReportMetric(float64(n)/sec, "records/s")
			b.ReportMetric(cpu*1e6/float64(n), "cpu-s/1M")
			st, _ := os.Stat(res[0].Path)
			b.ReportMetric(float64(st.Size())/sec/1e6, "MB/s")
			fmt.Printf("export %s: %d records read, %d written, %d fields, %.2f s, %.0f records/s, CPU %.2f s per 1M records, CSV %.1f MB\n",
				bc.name, n, res[0].Records, len(fields)+1, sec, float64(n)/sec, cpu*1e6/float64(n), float64(st.Size())/1e6)
		})
	}
}
