package backup

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// BenchmarkSnapshot measures the engine end to end against the emulator
// (in this process: both share the machine's cores): a full snapshot of a
// generated org, then a synthetic one after a day of 1% churn.
//
//	ORGSNAP_BENCH_RECORDS=1000000 go test -run XXX -bench BenchmarkSnapshot -benchtime 1x -timeout 30m -v ./backup/
//
// ORGSNAP_BENCH_FILES=1 includes file bodies (the emulator's files are
// large: about 3.5 GiB for 1M records).
func BenchmarkSnapshot(b *testing.B) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	files := os.Getenv("ORGSNAP_BENCH_FILES") != ""
	for i := 0; i < b.N; i++ {
		e := newEnv(b, sftest.Options{Seed: 1, Records: n})
		opts := Options{Files: FileOptions{Skip: !files}}
		r := e.open()
		t0, c0 := time.Now(), cpuTime()
		res, err := e.runWith(r, opts)
		if err != nil {
			b.Fatal(err)
		}
		fullDur, fullCPU := time.Since(t0), cpuTime()-c0
		ws := packBytes(r)
		r.Close()
		e.srv.Org.Churn(sftest.ChurnOptions{Seed: 2, Rate: 0.01})
		r = e.open()
		stopProfile := profileTo(b, os.Getenv("ORGSNAP_BENCH_SYNTHETIC_PROFILE"))
		t1, c1 := time.Now(), cpuTime()
		res2, err := e.runWith(r, opts)
		if err != nil {
			b.Fatal(err)
		}
		synDur, synCPU := time.Since(t1), cpuTime()-c1
		stopProfile()
		ws2 := packBytes(r)
		r.Close()
		newBytes := ws2 - ws
		fmt.Printf("| step | time | CPU time | records/s | rows fetched | API requests | new bytes |\n|---|---|---|---|---|---|---|\n")
		fmt.Printf("| full, %d records | %.2f s | %.2f s | %.0f | %d | %d | %s |\n", res.Records, fullDur.Seconds(), fullCPU.Seconds(), float64(res.Records)/fullDur.Seconds(), res.Fetched, res.Requests, mib(ws))
		fmt.Printf("| synthetic after 1%% churn (+%d ~%d -%d) | %.2f s (%.1f%% of full) | %.2f s (%.1f%%) | %.0f | %d | %d | %s (%.2f%% of full) |\n",
			res2.Added, res2.Changed, res2.Deleted, synDur.Seconds(), 100*synDur.Seconds()/fullDur.Seconds(), synCPU.Seconds(), 100*synCPU.Seconds()/fullCPU.Seconds(),
			float64(res2.Records)/synDur.Seconds(), res2.Fetched, res2.Requests, mib(newBytes), 100*float64(newBytes)/float64(ws))
		if files {
			fmt.Printf("files: %d downloaded, %s\n", res.Files.Downloaded, mib(res.Files.Bytes))
		}
	}
}

// profileTo starts a CPU profile into path ("" for none) and returns what
// stops it: the synthetic step is too short to find in a whole-run profile.
func profileTo(b *testing.B, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// cpuTime is the process's user+system time: both the engine and the
// emulator run in this process, so it is the run's whole CPU cost, a
// figure that other load on the machine disturbs far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// runWith takes a snapshot into an open repository; each run's time is a
// day after the last.
func (e *env) runWith(r *repo.Repository, opts Options) (*Result, error) {
	e.now = e.now.Add(24 * time.Hour)
	at := e.now
	opts.Now = func() time.Time { return at }
	return Run(bg, r, e.client, opts)
}

// packBytes is what the repository's packs hold.
func packBytes(r *repo.Repository) int64 {
	var n int64
	for _, p := range r.Index().Packs() {
		n += p.Size
	}
	return n
}
