package backupbench

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// checkExport reads every exported CSV file back and compares its rows
// with the emulator's count of the object; objects Bulk refused must be
// exactly those the emulator marks unsupported.
func checkExport(step Step, org *sftest.Org, x *Export) error {
	seen := map[string]bool{}
	for _, o := range x.Objects {
		seen[o.Object] = true
		f, err := os.Open(o.File)
		if err != nil {
			return err
		}
		r := csv.NewReader(f)
		r.ReuseRecord = true
		var rows int64
		var header []string
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", o.File, err)
			}
			if header == nil {
				header = append([]string(nil), rec...)
				continue
			}
			if len(rec) != len(header) || !strings.HasPrefix(rec[0], org.Object(o.Object).KeyPrefix) {
				f.Close()
				return fmt.Errorf("%s: row %d: %q", o.Object, rows, rec)
			}
			rows++
		}
		f.Close()
		if header == nil || header[0] != "Id" || len(header) != o.Fields {
			return fmt.Errorf("%s: header %q, want Id first and %d fields", o.Object, header, o.Fields)
		}
		if want := org.Count(o.Object, false); rows != want || o.Rows != want {
			return fmt.Errorf("%s (%s): %d rows in the file, %d counted, org has %d", o.Object, step, rows, o.Rows, want)
		}
	}
	for _, o := range x.Skipped {
		if !org.Object(o.Object).BulkUnsupported {
			return fmt.Errorf("%s skipped but Bulk supports it: %s", o.Object, o.Err)
		}
	}
	for _, name := range org.Objects() {
		obj := org.Object(name)
		if !seen[name] && obj.Queryable && !obj.BulkUnsupported {
			return fmt.Errorf("%s not exported", name)
		}
	}
	if len(x.Objects) < 20 || x.Records < 4000 {
		return fmt.Errorf("export too small: %d objects, %d records", len(x.Objects), x.Records)
	}
	return nil
}

// TestCompareSmoke runs the comparison on a 5K-record org: the CSV export
// (checked against the emulator after each step), zstd, git and git gc,
// restic when it is installed, and orgsnap.
func TestCompareSmoke(t *testing.T) {
	ctx := context.Background()
	g := &Git{}
	rs := &Restic{}
	res, err := Run(ctx, Options{
		Seed: 7, Records: 5000, Dir: t.TempDir(), Log: testLog{t},
		Contenders: []Contender{orgsnapContender(), &CSVZstd{}, rs, g, &GitGC{Git: g}},
		Check:      checkExport,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + Table(res))
	if res.Churn.Updated == 0 || res.Churn.Created == 0 {
		t.Fatalf("churn did nothing: %+v", res.Churn)
	}
	rows := map[string]Row{}
	for _, r := range res.Rows {
		rows[r.Contender+"/"+r.Step.String()] = r
	}
	if full, inc := rows["orgsnap/"+Full.String()], rows["orgsnap/"+Incremental.String()]; inc.NewBytes*2 > full.NewBytes {
		t.Errorf("orgsnap after churn wrote %d bytes, the full snapshot %d", inc.NewBytes, full.NewBytes)
	}
	for _, step := range []Step{Full, Incremental} {
		if r := rows["orgsnap/"+step.String()]; r.Skipped != "" || r.Records <= 0 || r.NewBytes <= 0 || r.Duration <= 0 {
			t.Errorf("orgsnap %s: %+v", step, r)
		}
		csvRow := rows["csv export/"+step.String()]
		if csvRow.Records != res.Export[step].Records || csvRow.NewBytes != res.Export[step].Bytes || csvRow.Duration <= 0 {
			t.Errorf("csv export %s: %+v", step, csvRow)
		}
		z := rows["csv export + zstd -3/"+step.String()]
		if z.NewBytes <= 0 || z.NewBytes*3 > csvRow.NewBytes || z.Duration <= csvRow.Duration {
			t.Errorf("zstd %s: %+v vs csv %+v", step, z.Measure, csvRow.Measure)
		}
		for _, name := range []string{"git", "git + gc"} {
			r := rows[name+"/"+step.String()]
			if r.Skipped != "" || r.NewBytes <= 0 || r.TotalBytes <= 0 || r.Records != csvRow.Records || r.Duration <= csvRow.Duration {
				t.Errorf("%s %s: %+v", name, step, r)
			}
		}
	}
	// A day's commit of 1% churn is a fraction of the first; packed, less.
	if a, b := rows["git/full"], rows["git/after churn"]; b.NewBytes >= a.NewBytes {
		t.Errorf("git: day 2 added %d bytes, day 1 %d", b.NewBytes, a.NewBytes)
	}
	if a, b := rows["git + gc/full"], rows["git + gc/after churn"]; b.NewBytes*2 >= a.NewBytes {
		t.Errorf("git gc: day 2 added %d bytes, day 1 %d", b.NewBytes, a.NewBytes)
	}
	if n, err := g.Commits(ctx); err != nil || n != 2 {
		t.Errorf("git has %d commits (%v), want 2", n, err)
	}
	if ResticPath() == "" {
		if r := rows["restic/full"]; !strings.HasPrefix(r.Skipped, "skipped") {
			t.Errorf("restic absent but not skipped: %+v", r)
		}
		t.Log("restic not found: its rows are skipped (scripts/install-bench-tools.sh installs it)")
		return
	}
	for _, step := range []Step{Full, Incremental} {
		if r := rows["restic/"+step.String()]; r.Skipped != "" || r.NewBytes <= 0 || r.Records != res.Export[step].Records {
			t.Errorf("restic %s: %+v", step, r)
		}
	}
	if snaps, err := rs.Snapshots(ctx); err != nil || len(snaps) != 2 {
		t.Errorf("restic has snapshots %v (%v), want 2", snaps, err)
	}
}

// loadAvg is the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// BenchmarkCompare runs the comparison on a generated org of
// ORGSNAP_BENCH_RECORDS records (default 1,000,000; seed
// ORGSNAP_BENCH_SEED, default 1; churn ORGSNAP_BENCH_CHURN, default 0.01)
// and prints the table. See docs/benchmarks.md for the command.
func BenchmarkCompare(b *testing.B) {
	n, seed, churn := 1_000_000, int64(1), 0.01
	if v, err := strconv.Atoi(strings.ReplaceAll(os.Getenv("ORGSNAP_BENCH_RECORDS"), "_", "")); err == nil {
		n = v
	}
	if v, err := strconv.ParseInt(os.Getenv("ORGSNAP_BENCH_SEED"), 10, 64); err == nil {
		seed = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("ORGSNAP_BENCH_CHURN"), 64); err == nil {
		churn = v
	}
	for i := 0; i < b.N; i++ {
		load0 := loadAvg()
		res, err := Run(context.Background(), Options{Seed: seed, Records: n, Churn: churn, Dir: b.TempDir(), Log: os.Stdout})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("\n%d generated records (%d exported), seed %d, churn %+v, whole run %.0f s\n", n, res.Exported, seed, res.Churn, res.Elapsed.Seconds())
		// Timings are only comparable on an otherwise idle machine.
		fmt.Printf("load average before %s, after %s (GOMAXPROCS %d)\n\n", load0, loadAvg(), runtime.GOMAXPROCS(0))
		fmt.Println(Table(res)) // b.Log output is truncated by go test
	}
}
