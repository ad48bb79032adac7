package repobench

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// CycleResults are the costs of a run of daily synthetic snapshots: what a
// repository pays per day over time, deltas folded into new bases
// included, rather than for one snapshot after a full one.
// ORGSNAP_BENCH_RUN_MERGE overrides the repository's run merge fan-in.
type CycleResults struct {
	Records, Days int
	DailyChange   float64 // fraction of the records changed each day
	RebaseRatio   int
	RunMerge      int
	FullBytes     int64   // the repository after the first, full snapshot
	NewBytes      []int64 // per day
	DaySeconds    []float64
	Rebases       int // days whose snapshot folded the runs into a new base
}

// Cycle writes a full snapshot of n records, then days synthetic ones,
// each changing a random fraction of the records. rebaseRatio 0 keeps the
// repository default.
func Cycle(ctx context.Context, dir string, n, days int, change float64, rebaseRatio int) (*CycleResults, error) {
	r, err := repo.Init(ctx, dir, repo.Options{Password: []byte("bench"), KDF: crypto.TestKDF, Tune: func(c *repo.Config) {
		if rebaseRatio > 0 {
			c.RebaseRatio = rebaseRatio
		}
		if m, err := strconv.Atoi(os.Getenv("ORGSNAP_BENCH_RUN_MERGE")); err == nil && m > 1 {
			c.RunMerge = m
		}
	}})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &CycleResults{Records: n, Days: days, DailyChange: change, RebaseRatio: r.Config().RebaseRatio, RunMerge: r.Config().RunMerge}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w, err := r.NewWriter(ctx, repo.WriterOptions{Time: t0, Period: "2601"})
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		vals := Record(i, 0)
		if err := w.PutRecord(ctx, "Contact", vals[0], ToRecord(vals)); err != nil {
			return nil, err
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	res.FullBytes = repoBytes(dir)
	rng := rand.New(rand.NewSource(7))
	version := map[int]int{}
	for d := 1; d <= days; d++ {
		before := repoBytes(dir)
		start := time.Now()
		w, err := r.NewWriter(ctx, repo.WriterOptions{Parent: s, Time: t0.AddDate(0, 0, d), Period: "2601"})
		if err != nil {
			return nil, err
		}
		for k := 0; k < int(float64(n)*change); k++ {
			i := rng.Intn(n)
			version[i]++
			vals := Record(i, version[i])
			if err := w.PutRecord(ctx, "Contact", vals[0], ToRecord(vals)); err != nil {
				return nil, err
			}
		}
		if s, err = w.Commit(ctx); err != nil {
			return nil, err
		}
		res.DaySeconds = append(res.DaySeconds, time.Since(start).Seconds())
		nb := repoBytes(dir) - before
		res.NewBytes = append(res.NewBytes, nb)
		if nb > res.FullBytes/2 {
			res.Rebases++
		}
	}
	return res, nil
}

// CycleTable renders the results as a markdown table row (with a header).
func CycleTable(c *CycleResults) string {
	var total int64
	var secs float64
	var maxDay int64
	for i, b := range c.NewBytes {
		total += b
		secs += c.DaySeconds[i]
		maxDay = max(maxDay, b)
	}
	pct := func(b int64) float64 { return 100 * float64(b) / float64(c.FullBytes) }
	return fmt.Sprintf("| records | days × change | rebase ratio | run merge | full snapshot | new bytes a day, mean | largest day | rebases | mean time a day |\n"+
		"|---|---|---|---|---|---|---|---|---|\n"+
		"| %d | %d × %.1f%% | %d | %d | %s | %s (%.1f%% of full) | %s (%.0f%%) | %d | %.0f ms |\n",
		c.Records, c.Days, 100*c.DailyChange, c.RebaseRatio, c.RunMerge, mib(c.FullBytes),
		mib(total/int64(len(c.NewBytes))), pct(total)/float64(len(c.NewBytes)), mib(maxDay), pct(maxDay),
		c.Rebases, 1000*secs/float64(len(c.DaySeconds)))
}
