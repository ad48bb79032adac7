// Command devorg serves an emulated org like `orgsnap dev-org`, for
// scripts/real-clients.sh when the CLI command is not available (it needs
// only sfapi/sftest, so it builds even while the rest of the tree changes).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

func main() {
	records := flag.Int("records", 10000, "approximate number of generated records")
	seed := flag.Int64("seed", 1, "generator seed")
	port := flag.Int("port", 8642, "TCP port on 127.0.0.1")
	faults := flag.Float64("faults", 0, "fraction of requests failing transiently")
	page := flag.Int("bulk-page-size", 0, "Bulk 2.0 rows per result page without maxRecords")
	verbose := flag.Bool("verbose", false, "log every request")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := sftest.Options{Seed: *seed, Records: *records, BaseTime: time.Now().UTC().Truncate(24 * time.Hour),
		Clock: wallClock{}, BulkPageSize: *page, Faults: sftest.FaultOptions{Rate: *faults, Seed: *seed,
			Kinds: []sftest.FaultKind{sftest.Fault503, sftest.Fault500, sftest.FaultReset, sftest.FaultSlow}}}
	if *verbose {
		opts.RequestLog = os.Stderr
	}
	if err := sftest.ListenAndServe(ctx, fmt.Sprintf("127.0.0.1:%d", *port), opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
