package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// wallClock drives the dev org with real time, so records written by a
// client get current SystemModstamps.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// newDevOrgCommand serves a generated, emulated Salesforce org on
// 127.0.0.1 for demos and manual tests against real clients.
func newDevOrgCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev-org",
		Usage: "serve an emulated Salesforce org with generated data on 127.0.0.1",
		Description: "Generates an org deterministically from --seed (records are computed on demand, so any size\n" +
			"starts instantly) and serves the REST, Bulk API 2.0, SOAP and Metadata APIs. The printed access\n" +
			"token works with jsforce and `sf org login access-token`. Stop with Ctrl-C.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "records", Value: 10000, Usage: "approximate number of generated records"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "generator seed (same seed, same org)"},
			&cli.IntFlag{Name: "port", Value: 8642, Usage: "TCP port on 127.0.0.1 (0 picks a free one)"},
			&cli.Float64Flag{Name: "faults", Usage: "fraction of API requests to fail transiently (0..1)"},
			&cli.IntFlag{Name: "bulk-page-size", Usage: "Bulk 2.0 result rows per page when the client sends no maxRecords (0 = 100000)"},
			&cli.StringFlag{Name: "base-time", Usage: "org creation time, RFC 3339 (default: today 00:00 UTC)"},
			&cli.BoolFlag{Name: "verbose", Usage: "log every request to stderr"},
		},
		Action: func(c *cli.Context) error {
			if r := c.Float64("faults"); r < 0 || r > 1 {
				return fmt.Errorf("--faults must be between 0 and 1, got %v", r)
			}
			base := time.Now().UTC().Truncate(24 * time.Hour)
			if s := c.String("base-time"); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					return fmt.Errorf("--base-time: %w", err)
				}
				base = t
			}
			opts := sftest.Options{
				Seed: c.Int64("seed"), Records: c.Int("records"), BaseTime: base, Clock: wallClock{},
				BulkPageSize: c.Int("bulk-page-size"),
				Faults: sftest.FaultOptions{Rate: c.Float64("faults"), Seed: c.Int64("seed"),
					Kinds: []sftest.FaultKind{sftest.Fault503, sftest.Fault500, sftest.FaultReset, sftest.FaultSlow, sftest.FaultQueryTimeout, sftest.FaultLimit}},
			}
			if c.Bool("verbose") {
				opts.RequestLog = c.App.ErrWriter
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return sftest.ListenAndServe(ctx, fmt.Sprintf("127.0.0.1:%d", c.Int("port")), opts, &orgAddHint{w: c.App.Writer})
		},
	}
}

// orgAddHint passes the dev org's connection details through and follows
// them with the `orgsnap org add` command that makes the org a profile
// (docs/guide.md, "Connecting to an org"). It reads the URL and username
// from the lines the emulator prints, one per Write.
type orgAddHint struct {
	w         io.Writer
	url, user string
	done      bool
}

func (h *orgAddHint) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	if h.done || err != nil {
		return n, err
	}
	line := string(p)
	if v, ok := strings.CutPrefix(line, "instance URL:"); ok {
		h.url = strings.TrimSpace(v)
	}
	if v, ok := strings.CutPrefix(line, "username:"); ok {
		if f := strings.Fields(v); len(f) > 0 {
			h.user = f[0]
		}
	}
	if strings.HasPrefix(line, "sf CLI:") && h.url != "" && h.user != "" {
		h.done = true
		fmt.Fprintf(h.w, "orgsnap:       %s=%s %s=%s orgsnap org add dev --login-url %s --username %s --client-id %s\n",
			envSFPassword, sftest.DefaultPassword, envSFClientSecret, sftest.DefaultClientSecret, h.url, h.user, sftest.DefaultClientID)
	}
	return n, nil
}
