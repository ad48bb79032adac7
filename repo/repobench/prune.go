package repobench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/retention"
)

// PruneResults are the figures of the prune benchmark: a history of
// monthly snapshots, the oldest periods forgotten, then prune.
type PruneResults struct {
	Records      int     `json:"records"`
	Periods      int     `json:"periods"`
	Kept         int     `json:"kept_periods"`
	Churn        float64 `json:"churn"`
	BuildSeconds float64 `json:"build_seconds"`
	Forgotten    int     `json:"snapshots_forgotten"`
	// Measured in the process that ran prune alone (see RunPruneChild):
	PruneSeconds    float64          `json:"prune_seconds"`
	PeakHeapMiB     float64          `json:"peak_heap_mib"` // runtime.MemStats.HeapInuse, sampled every 20 ms
	MaxRSSMiB       float64          `json:"max_rss_mib"`   // getrusage(RUSAGE_SELF).ru_maxrss of that process
	Proof           *repo.PruneProof `json:"proof"`
	RepoBytesAfter  int64            `json:"repo_bytes_after"`
	RepoBytesBefore int64            `json:"repo_bytes_before"`
}

// BuildHistory writes periods monthly snapshots of n records into a new
// repository in dir: a full one in the first month, then one synthetic
// snapshot a month changing a random fraction (churn) of the records, each
// in its own period (YYMM), so its new blobs land in that period's packs.
func BuildHistory(ctx context.Context, dir string, n, periods int, churn float64, log io.Writer) error {
	r, err := repo.Init(ctx, dir, repo.Options{Password: []byte("bench"), KDF: crypto.TestKDF})
	if err != nil {
		return err
	}
	defer r.Close()
	rng := rand.New(rand.NewSource(7))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var parent *repo.Snapshot
	for m := 0; m < periods; m++ {
		w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: parent, Org: "00D5g0000000BENCH", Time: start.AddDate(0, m, 0)})
		if err != nil {
			return err
		}
		if parent == nil {
			for i := 0; i < n; i++ {
				vals := Record(i, 0)
				if err := w.PutRecord(ctx, "Contact", vals[0], ToRecord(vals)); err != nil {
					return err
				}
			}
		} else {
			changed := map[int]bool{}
			for k := int(float64(n) * churn); len(changed) < k; {
				i := rng.Intn(n)
				if changed[i] {
					continue
				}
				changed[i] = true
				vals := Record(i, m)
				if err := w.PutRecord(ctx, "Contact", vals[0], ToRecord(vals)); err != nil {
					return err
				}
			}
		}
		if parent, err = w.Commit(ctx); err != nil {
			return err
		}
		if log != nil {
			fmt.Fprintf(log, "  period %s written\n", parent.Period)
		}
	}
	return nil
}

// ForgetOldPeriods removes every snapshot the retention policy
// --keep-periods keep does not keep, as `orgsnap forget` does, and returns
// how many it removed.
func ForgetOldPeriods(ctx context.Context, dir string, keep int) (int, error) {
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("bench")})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return 0, err
	}
	in := make([]retention.Snapshot, len(snaps))
	for i, s := range snaps {
		in[i] = retention.Snapshot{ID: s.ID.String(), Time: s.Time, Period: s.Period, Group: s.Org}
	}
	decisions, err := retention.Apply(in, retention.Policy{Periods: keep}, time.Now())
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, d := range decisions {
		if d.Keep {
			continue
		}
		id, err := crypto.ParseID(d.Snapshot.ID)
		if err != nil {
			return removed, err
		}
		if err := r.RemoveSnapshot(ctx, id); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// PruneChildEnv names the repository a re-executed test binary prunes
// (RunPruneChild): prune's memory is measured in a process of its own, so
// that the maximum RSS is prune's and not the history build's.
const PruneChildEnv = "ORGSNAP_PRUNE_CHILD_DIR"

// RunPrune builds the history in dir, forgets all but the newest keep
// periods, and runs prune in a child process: the test binary itself
// (os.Args[0]) run with childTest as -test.run and PruneChildEnv set; that
// test must call RunPruneChild.
func RunPrune(ctx context.Context, dir string, n, periods, keep int, churn float64, childTest string, log io.Writer) (*PruneResults, error) {
	res := &PruneResults{Records: n, Periods: periods, Kept: keep, Churn: churn}
	start := time.Now()
	if err := BuildHistory(ctx, dir, n, periods, churn, log); err != nil {
		return nil, err
	}
	res.BuildSeconds = time.Since(start).Seconds()
	var err error
	if res.Forgotten, err = ForgetOldPeriods(ctx, dir, keep); err != nil {
		return nil, err
	}
	res.RepoBytesBefore = repoBytes(dir)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^"+childTest+"$", "-test.count", "1")
	cmd.Env = append(os.Environ(), PruneChildEnv+"="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("prune child: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	// The child prints its figures as one JSON line between markers (go
	// test adds its own lines around it).
	out := stdout.Bytes()
	i, j := bytes.Index(out, []byte(childBegin)), bytes.Index(out, []byte(childEnd))
	if i < 0 || j < i {
		return nil, fmt.Errorf("prune child printed no result:\n%s%s", out, stderr.String())
	}
	var child PruneResults
	if err := json.Unmarshal(out[i+len(childBegin):j], &child); err != nil {
		return nil, err
	}
	res.PruneSeconds, res.PeakHeapMiB, res.MaxRSSMiB, res.Proof = child.PruneSeconds, child.PeakHeapMiB, child.MaxRSSMiB, child.Proof
	res.RepoBytesAfter = repoBytes(dir)
	return res, nil
}

const childBegin, childEnd = "<<<prune-result ", " prune-result>>>"

// RunPruneChild prunes the repository named by PruneChildEnv and prints
// the figures for RunPrune. It reports whether it ran (the variable set).
func RunPruneChild(ctx context.Context, stdout io.Writer) (bool, error) {
	dir := os.Getenv(PruneChildEnv)
	if dir == "" {
		return false, nil
	}
	var peak atomic.Uint64
	stop := sampleHeap(&peak)
	start := time.Now()
	r, err := repo.Open(ctx, dir, repo.Options{Password: []byte("bench")})
	if err != nil {
		return true, err
	}
	proof, err := r.Prune(ctx, repo.PruneOptions{Cause: "benchmark"})
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return true, err
	}
	res := PruneResults{PruneSeconds: time.Since(start).Seconds(), Proof: proof}
	stop()
	res.PeakHeapMiB = float64(peak.Load()) / (1 << 20)
	res.MaxRSSMiB = maxRSSMiB()
	data, err := json.Marshal(res)
	if err != nil {
		return true, err
	}
	fmt.Fprintf(stdout, "%s%s%s\n", childBegin, data, childEnd)
	return true, nil
}

// maxRSSMiB is this process's peak resident set. getrusage's ru_maxrss is
// not it for a process exec'd by a large one: Linux carries the larger of
// the old and new address spaces' peaks across execve, and Go starts
// children with vfork (the parent's address space), so the child would
// report the parent's peak. /proc/self/status's VmHWM is the peak of the
// current address space only; getrusage is the fallback elsewhere.
func maxRSSMiB() float64 {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb float64
				if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return 0
}

// PruneTable formats the prune figures as a Markdown table.
func PruneTable(r *PruneResults) string {
	var b bytes.Buffer
	p := r.Proof
	fmt.Fprintf(&b, "| measure (%d records, %d monthly periods, %.0f%% churn a month; %d oldest periods forgotten) | result |\n|---|---|\n",
		r.Records, r.Periods, r.Churn*100, r.Periods-r.Kept)
	fmt.Fprintf(&b, "| history built (not part of the figure) | %.1f s, %s, %d snapshots forgotten |\n", r.BuildSeconds, mib(r.RepoBytesBefore), r.Forgotten)
	fmt.Fprintf(&b, "| prune wall time (open, rewrite shared bases, mark, sweep, fresh index, verify; GOMAXPROCS=%d) | %.1f s |\n", runtime.GOMAXPROCS(0), r.PruneSeconds)
	fmt.Fprintf(&b, "| peak Go heap in use (MemStats.HeapInuse, sampled every 20 ms) | %.0f MiB |\n", r.PeakHeapMiB)
	fmt.Fprintf(&b, "| maximum RSS of the prune process (VmHWM) | %.0f MiB |\n", r.MaxRSSMiB)
	fmt.Fprintf(&b, "| record versions no kept snapshot shows, dropped from shared bases (snapshots rewritten) | %d (%d) |\n", p.ShadowedVersions, p.SnapshotsRewritten)
	fmt.Fprintf(&b, "| blobs erased / plaintext bytes erased | %d / %s |\n", p.BlobsErased, mib(p.BytesErased))
	fmt.Fprintf(&b, "| live blobs (snapshots kept: %d) | %d |\n", p.Snapshots, p.LiveBlobs)
	fmt.Fprintf(&b, "| packs rewritten / deleted / written | %d / %d / %d |\n", p.PacksRewritten, p.PacksDeleted, p.PacksWritten)
	fmt.Fprintf(&b, "| pack bytes at the sweep (after the rewrite) → after | %s → %s |\n", mib(p.PackBytesBefore), mib(p.PackBytesAfter))
	fmt.Fprintf(&b, "| repository bytes before prune → after | %s → %s (%s freed) |\n", mib(r.RepoBytesBefore), mib(r.RepoBytesAfter), mib(r.RepoBytesBefore-r.RepoBytesAfter))
	fmt.Fprintf(&b, "| proof verified (no erased id in any of %d pack trailers) | %v |\n", p.PacksVerified, p.Verified)
	return b.String()
}
