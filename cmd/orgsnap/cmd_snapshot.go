package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
)

func newSnapshotCommand() *cli.Command {
	return &cli.Command{
		Name:      "snapshot",
		Usage:     "take a snapshot of an org: synthetic (only what changed) once a parent exists, else full",
		ArgsUsage: " ",
		Description: "Reads the org of an org profile (see `orgsnap org add`) into the repository and moves\n" +
			"the profile's ref (by default named like the profile) to the new snapshot. An interrupted\n" +
			"run (Ctrl-C, kill, crash, API budget) is resumed by the next one.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "org", Aliases: []string{"o"}, Usage: "org profile `NAME` (default: the only one)"},
			&cli.StringFlag{Name: "ref", Usage: "ref `NAME` of the lineage (default: the profile name)"},
			&cli.BoolFlag{Name: "full", Usage: "read every object in full even with a parent"},
			&cli.StringSliceFlag{Name: "object", Usage: "partial snapshot of only this `OBJECT` (repeatable; no parent, no ref moves)"},
			&cli.StringSliceFlag{Name: "filter", Usage: "`OBJECT:CONDITION` SOQL filter for a partial snapshot, e.g. \"Account:Industry = 'Banking'\""},
			&cli.StringSliceFlag{Name: "include", Usage: "only objects matching `GLOB` (repeatable; names a default-excluded object back in)"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "leave out objects matching `GLOB` (repeatable)"},
			&cli.BoolFlag{Name: "formulas", Usage: "also store formula fields"},
			&cli.BoolFlag{Name: "no-bulk", Usage: "read everything through the REST API"},
			&cli.BoolFlag{Name: "reconcile", Usage: "scan every object's Ids to catch hard deletes no API reported"},
			&cli.DurationFlag{Name: "reconcile-every", Value: 7 * 24 * time.Hour, Usage: "reconcile each object at least this often"},
			&cli.DurationFlag{Name: "overlap", Value: 10 * time.Minute, Usage: "re-read this much before each high-water mark (late commits)"},
			&cli.BoolFlag{Name: "no-files", Usage: "skip file bodies (ContentVersion, Attachment, Document)"},
			&cli.StringFlag{Name: "max-file-size", Usage: "skip file bodies larger than `SIZE` (e.g. 100MB)"},
			&cli.BoolFlag{Name: "metadata", Usage: "also retrieve Metadata API components (Apex, objects, layouts, …) as files of $Metadata"},
			&cli.StringSliceFlag{Name: "metadata-type", Usage: "retrieve only this metadata `TYPE`, e.g. ApexClass (repeatable; implies --metadata)"},
			&cli.IntFlag{Name: "bulk-jobs", Value: 3, Usage: "Bulk API jobs at once"},
			&cli.IntFlag{Name: "rest-queries", Value: 4, Usage: "REST queries at once"},
			&cli.IntFlag{Name: "downloads", Value: 4, Usage: "file downloads at once"},
			&cli.IntFlag{Name: "chunk", Value: 250000, Usage: "records per Bulk job of a large object (first guess; adapts)"},
			&cli.DurationFlag{Name: "checkpoint-every", Value: 5 * time.Minute, Usage: "save progress this often"},
			&cli.Float64Flag{Name: "budget", Value: 90, Usage: "stop cleanly (resumable) when the org's daily API use passes `PERCENT`"},
			&cli.StringFlag{Name: "alert-deleted", Usage: "warn and exit 4 when an object lost `PERCENT` of its records (e.g. 5%)"},
			&cli.StringFlag{Name: "alert-changed", Usage: "warn and exit 4 when `PERCENT` of an object's records changed"},
			&cli.StringSliceFlag{Name: "tag", Usage: "tag the snapshot (repeatable)"},
		},
		Action: snapshotAction,
	}
}

func snapshotAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("snapshot takes no arguments (objects go in --object)")
	}
	opts, err := snapshotOptions(c)
	if err != nil {
		return err
	}
	ctx := background(c)
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	profile, err := chooseProfile(c, r)
	if err != nil {
		return err
	}
	if opts.Ref == "" && len(opts.Objects) == 0 {
		opts.Ref = profile.Name
	}
	client, err := profile.Client(ctx, backup.ClientOptions{Repository: r, ClientName: "orgsnap"})
	if err != nil {
		return err
	}
	return runSnapshot(c, r, client, opts)
}

// runSnapshot runs the engine with the CLI's progress and output; the demo
// shares it.
func runSnapshot(c *cli.Context, r *repo.Repository, src backup.Source, opts backup.Options) error {
	if !c.Bool("json") {
		opts.Progress = newProgressLine(c)
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.ToolVersion = version
	opts.Interrupt = interrupted
	res, err := backup.Run(background(c), r, src, opts)
	endProgress(c)
	if err != nil {
		if errors.Is(err, backup.ErrStopped) {
			return stoppedError{err}
		}
		return err
	}
	if c.Bool("json") {
		if err := printJSON(c, snapshotJSON(res)); err != nil {
			return err
		}
	} else {
		printSnapshotResult(c, res)
	}
	if len(res.Alerts) > 0 {
		msgs := make([]string, len(res.Alerts))
		for i, a := range res.Alerts {
			msgs[i] = a.String()
		}
		return alertError{fmt.Sprintf("snapshot %s taken, but thresholds were crossed:\n  %s\ncheck what happened with `orgsnap diff %s`",
			res.Snapshot.ID.Short(), strings.Join(msgs, "\n  "), res.Snapshot.ID.Short())}
	}
	return nil
}

// stoppedError: the run stopped and will be resumed (exit 5).
type stoppedError struct{ err error }

func (e stoppedError) Error() string { return e.err.Error() }
func (e stoppedError) Unwrap() error { return e.err }

// alertError: the snapshot was taken but alert thresholds were crossed
// (exit 4).
type alertError struct{ msg string }

func (e alertError) Error() string { return e.msg }

func snapshotOptions(c *cli.Context) (backup.Options, error) {
	o := backup.Options{
		Ref: c.String("ref"), Full: c.Bool("full"), Objects: c.StringSlice("object"),
		Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"),
		Formulas: c.Bool("formulas"), NoBulk: c.Bool("no-bulk"),
		Metadata: c.Bool("metadata"), MetadataTypes: c.StringSlice("metadata-type"),
		Reconcile: c.Bool("reconcile"), ReconcileEvery: c.Duration("reconcile-every"), Overlap: c.Duration("overlap"),
		ChunkRecords:    c.Int("chunk"),
		Files:           backup.FileOptions{Skip: c.Bool("no-files")},
		Parallel:        backup.Parallelism{Bulk: c.Int("bulk-jobs"), REST: c.Int("rest-queries"), Files: c.Int("downloads")},
		CheckpointEvery: c.Duration("checkpoint-every"), BudgetPercent: c.Float64("budget"),
		Tags: c.StringSlice("tag"),
	}
	if o.Parallel.Bulk < 1 || o.Parallel.REST < 1 || o.Parallel.Files < 1 {
		return o, usagef("--bulk-jobs, --rest-queries and --downloads must be at least 1")
	}
	if o.BudgetPercent <= 0 || o.BudgetPercent > 100 {
		return o, usagef("--budget %v: give a percentage between 1 and 100", o.BudgetPercent)
	}
	for _, f := range c.StringSlice("filter") {
		obj, cond, ok := strings.Cut(f, ":")
		if !ok || strings.TrimSpace(obj) == "" || strings.TrimSpace(cond) == "" {
			return o, usagef("--filter %q: write OBJECT:CONDITION, e.g. \"Account:Industry = 'Banking'\"", f)
		}
		if o.Filters == nil {
			o.Filters = map[string]string{}
		}
		o.Filters[strings.TrimSpace(obj)] = strings.TrimSpace(cond)
	}
	if len(o.Filters) > 0 && len(o.Objects) == 0 {
		return o, usagef("--filter makes a partial snapshot: name its objects with --object too")
	}
	if s := c.String("max-file-size"); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return o, usagef("--max-file-size %q: %v (e.g. 100MB, 2GiB)", s, err)
		}
		o.Files.MaxSize = n
	}
	var err error
	if o.Alerts.Deleted, err = parsePercent(c.String("alert-deleted")); err != nil {
		return o, usagef("--alert-deleted: %v", err)
	}
	if o.Alerts.Changed, err = parsePercent(c.String("alert-changed")); err != nil {
		return o, usagef("--alert-changed: %v", err)
	}
	return o, nil
}

// parsePercent reads "5%" or "5" as 0.05; "" is 0 (off).
func parsePercent(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage between 0 and 100 (e.g. 5%%)", s)
	}
	return v / 100, nil
}

// parseSize reads 100, 100KB, 10MB, 2GB (powers of 1000) or KiB/MiB/GiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) && (len(u.suffix) != 2 || !strings.HasSuffix(strings.ToUpper(s), "I"+strings.ToUpper(u.suffix))) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("not a size")
	}
	return int64(n * float64(mult)), nil
}

// chooseProfile returns --org's profile, or the only one.
func chooseProfile(c *cli.Context, r *repo.Repository) (backup.Profile, error) {
	ctx := background(c)
	if name := c.String("org"); name != "" {
		p, err := backup.LoadProfile(ctx, r, name)
		if errors.Is(err, repo.ErrNotFound) {
			return p, usagef("no org profile %q: see `orgsnap org list`, or add it with `orgsnap org add %s …`", name, name)
		}
		return p, err
	}
	ps, err := backup.Profiles(ctx, r)
	if err != nil {
		return backup.Profile{}, err
	}
	switch len(ps) {
	case 0:
		return backup.Profile{}, usagef("no org to snapshot: add one with `orgsnap org add NAME …` (see `orgsnap org add --help`)")
	case 1:
		return ps[0], nil
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return backup.Profile{}, usagef("several org profiles (%s): say which with --org NAME", strings.Join(names, ", "))
}

type snapshotOutput struct {
	Snapshot string                `json:"snapshot"`
	Parent   string                `json:"parent,omitempty"`
	Ref      string                `json:"ref,omitempty"`
	Kind     string                `json:"kind"`
	Period   string                `json:"period"`
	Time     time.Time             `json:"time"`
	Resumed  bool                  `json:"resumed"`
	Records  uint64                `json:"records"`
	Added    uint64                `json:"added"`
	Changed  uint64                `json:"changed"`
	Deleted  uint64                `json:"deleted"`
	Fetched  int64                 `json:"fetched"`
	Requests int64                 `json:"api_requests"`
	Seconds  float64               `json:"seconds"`
	Files    backup.FileStats      `json:"files"`
	Metadata *backup.MetadataStats `json:"metadata,omitempty"`
	Objects  []backup.ObjectResult `json:"objects"`
	Alerts   []backup.Alert        `json:"alerts"`
}

func snapshotJSON(res *backup.Result) snapshotOutput {
	s := res.Snapshot
	o := snapshotOutput{
		Snapshot: s.ID.String(), Ref: res.Ref, Kind: s.Kind, Period: s.Period, Time: s.Time, Resumed: res.Resumed,
		Records: res.Records, Added: res.Added, Changed: res.Changed, Deleted: res.Deleted, Fetched: res.Fetched,
		Requests: res.Requests, Seconds: res.Duration.Seconds(), Files: res.Files, Metadata: res.Metadata, Objects: res.Objects, Alerts: res.Alerts,
	}
	if s.Parent != nil {
		o.Parent = s.Parent.String()
	}
	if o.Alerts == nil {
		o.Alerts = []backup.Alert{}
	}
	return o
}

func printSnapshotResult(c *cli.Context, res *backup.Result) {
	s := res.Snapshot
	resumed := ""
	if res.Resumed {
		resumed = ", resumed"
	}
	out(c, "snapshot %s (%s, period %s%s): %d records in %d objects, +%d ~%d -%d\n",
		s.ID.Short(), s.Kind, s.Period, resumed, res.Records, len(res.Objects), res.Added, res.Changed, res.Deleted)
	out(c, "  read %d rows with %d API requests in %s", res.Fetched, res.Requests, res.Duration.Round(time.Millisecond))
	if secs := res.Duration.Seconds(); secs > 0 && res.Fetched > 0 {
		out(c, " (%.0f rows/s)", float64(res.Fetched)/secs)
	}
	out(c, "\n")
	if f := res.Files; f.Downloaded+f.Linked+f.Skipped > 0 {
		out(c, "  files: %d downloaded (%s), %d already held, %d skipped\n", f.Downloaded, human(f.Bytes), f.Linked, f.Skipped)
	}
	if m := res.Metadata; m != nil && !m.Resumed {
		out(c, "  metadata: %d components of %d types, %d files (%s), %d new\n", m.Components, m.Types, m.Files, human(m.Bytes), m.Stored)
	}
	for _, o := range res.Objects {
		if o.Added+o.Changed+o.Deleted == 0 {
			continue
		}
		out(c, "  %-28s %9d records  +%d ~%d -%d  (%s)\n", o.Name, o.Records, o.Added, o.Changed, o.Deleted, o.Mode)
	}
	if res.Ref != "" {
		out(c, "  %s → %s\n", res.Ref, s.ID.Short())
	}
}

// progressLine draws the engine's status on one terminal line, or logs a
// line every 10 seconds when stderr is not a terminal.
type progressLine struct {
	isTerm bool
	last   time.Time
}

func newProgressLine(c *cli.Context) backup.Progress {
	return &progressLine{isTerm: term.IsTerminal(int(os.Stderr.Fd()))}
}

func (p *progressLine) Progress(s backup.Status) {
	line := fmt.Sprintf("objects %d/%d  records %d", s.ObjectsDone, s.Objects, s.Records)
	if s.Expected >= s.Records {
		line += fmt.Sprintf("/%d", s.Expected)
	}
	line += fmt.Sprintf("  %.0f/s", s.Rate)
	if s.Files.Downloaded > 0 {
		line += fmt.Sprintf("  files %d (%s)", s.Files.Downloaded, human(s.Files.Bytes))
	}
	if s.ETA > 0 {
		line += "  ETA " + s.ETA.Round(time.Second).String()
	}
	if s.Object != "" {
		line += "  " + s.Object
	}
	switch {
	case p.isTerm:
		fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
	case s.Done || time.Since(p.last) >= 10*time.Second:
		p.last = time.Now()
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), line)
	}
}

var _ sfapi.Logger = (*slog.Logger)(nil)
