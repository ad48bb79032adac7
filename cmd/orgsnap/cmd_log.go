package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
)

// log (alias snapshots) lists snapshots newest first: every snapshot of the
// repository, or one lineage (REV and its first parents), or a range A..B
// (B's lineage down to, not including, A).
func newLogCommand() *cli.Command {
	return &cli.Command{
		Name:      "log",
		Aliases:   []string{"snapshots"},
		Usage:     "list snapshots, newest first (needs no lock: works while a snapshot runs)",
		ArgsUsage: "[REV | A..B]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "oneline", Usage: "one short line per snapshot"},
			&cli.StringFlag{Name: "object", Usage: "only snapshots in which `OBJECT` changed, with only its counts"},
			&cli.StringFlag{Name: "since", Usage: "only snapshots taken at or after `DATE` (2026-11-01, 2026-11-01T12:00Z; UTC)"},
			&cli.StringFlag{Name: "until", Usage: "only snapshots taken at or before `DATE`"},
			&cli.IntFlag{Name: "max-count", Aliases: []string{"n"}, Usage: "at most `N` snapshots"},
			&cli.BoolFlag{Name: "all", Usage: "also list checkpoints (progress of unfinished runs)"},
		},
		Action: runLog,
	}
}

// logEntry is one listed snapshot as --json prints it: the snapshot's
// own fields (objects filtered by --object) plus its id and refs.
type logEntry struct {
	ID string `json:"id"`
	*repo.Snapshot
	Refs []string `json:"refs,omitempty"`
}

func runLog(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef("log takes at most one revision or range (see `orgsnap log --help`)")
	}
	var since, until time.Time
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := c.String(f.name); v != "" {
			t, err := repo.ParseRevisionTime(v)
			if err != nil {
				return usagef("--%s: %v", f.name, err)
			}
			*f.t = t
		}
	}
	r, err := openRepo(c, true)
	if err != nil {
		return err
	}
	defer r.Close()
	ctx := background(c)
	var bad []string
	list, err := logSnapshots(c, r, func(name string, err error) {
		bad = append(bad, fmt.Sprintf("%s: %v", name, err))
	})
	if err != nil {
		return err
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return err
	}
	byID := map[string][]string{}
	for name, id := range refs {
		byID[id.String()] = append(byID[id.String()], name)
	}
	object := c.String("object")
	var entries []logEntry
	for _, s := range list {
		if s.Kind == repo.KindCheckpoint && !c.Bool("all") {
			continue
		}
		if (!since.IsZero() && s.Time.Before(since)) || (!until.IsZero() && s.Time.After(until)) {
			continue
		}
		if object != "" {
			st, ok := s.Objects[object]
			if !ok || st.Added+st.Changed+st.Deleted == 0 {
				continue
			}
			cp := *s
			cp.Objects = map[string]repo.ObjectStats{object: st}
			s = &cp
		}
		names := byID[s.ID.String()]
		sort.Strings(names)
		entries = append(entries, logEntry{s.ID.String(), s, names})
		if n := c.Int("max-count"); n > 0 && len(entries) == n {
			break
		}
	}
	if c.Bool("json") {
		if entries == nil {
			entries = []logEntry{}
		}
		return printJSON(c, entries)
	}
	for _, e := range entries {
		printLogEntry(c, e, object)
	}
	for _, b := range bad {
		out(c, "warning: unreadable snapshot %s\n", b)
	}
	return nil
}

// logSnapshots returns the snapshots to list, newest first: all of them,
// one lineage, or a range, as the argument says.
func logSnapshots(c *cli.Context, r *repo.Repository, bad func(string, error)) ([]*repo.Snapshot, error) {
	ctx := background(c)
	if c.NArg() == 0 {
		snaps, err := r.Snapshots(ctx, bad)
		slices.Reverse(snaps)
		return snaps, err
	}
	from, to, err := r.ResolveRange(ctx, c.Args().First())
	if err != nil {
		return nil, err
	}
	var list []*repo.Snapshot
	err = r.FirstParents(ctx, to, func(s *repo.Snapshot) bool {
		if from != nil && s.ID == from.ID {
			return false
		}
		list = append(list, s)
		return true
	})
	return list, err
}

// changeTotals sums the added, changed and deleted counts of a snapshot.
func changeTotals(s *repo.Snapshot) (a, ch, d uint64) {
	for _, st := range s.Objects {
		a, ch, d = a+st.Added, ch+st.Changed, d+st.Deleted
	}
	return a, ch, d
}

func printLogEntry(c *cli.Context, e logEntry, object string) {
	s := e.Snapshot
	a, ch, d := changeTotals(s)
	refs := ""
	if len(e.Refs) > 0 {
		refs = " (" + strings.Join(e.Refs, ", ") + ")"
	}
	tags := ""
	if len(s.Tags) > 0 {
		tags = " [" + strings.Join(s.Tags, ", ") + "]"
	}
	if c.Bool("oneline") {
		out(c, "%s %s %-9s %s +%d ~%d -%d%s%s\n", s.ID.Short(), s.Time.UTC().Format("2006-01-02 15:04"), s.Kind, s.Period, a, ch, d, refs, tags)
		return
	}
	out(c, "snapshot %s%s\n", s.ID, refs)
	out(c, "Date:    %s (period %s)\n", s.Time.UTC().Format(time.RFC1123Z), s.Period)
	out(c, "Kind:    %s", s.Kind)
	if s.Parent != nil {
		out(c, ", parent %s", s.Parent.Short())
	}
	out(c, "\n")
	if s.Org != "" || s.Instance != "" {
		out(c, "Org:     %s %s\n", s.Org, s.Instance)
	}
	if len(s.Tags) > 0 {
		out(c, "Tags:    %s\n", strings.Join(s.Tags, ", "))
	}
	if object == "" {
		out(c, "Records: %d in %d objects (+%d added, ~%d changed, -%d deleted)\n", s.Records(), len(s.Objects), a, ch, d)
	}
	printObjectCounts(c, s, true)
	out(c, "\n")
}

// printObjectCounts prints one line per object: its records and changes
// (with onlyChanged, only the objects that changed).
func printObjectCounts(c *cli.Context, s *repo.Snapshot, onlyChanged bool) {
	names := make([]string, 0, len(s.Objects))
	width := 0
	for name, st := range s.Objects {
		if onlyChanged && st.Added+st.Changed+st.Deleted == 0 {
			continue
		}
		names = append(names, name)
		width = max(width, len(name))
	}
	sort.Strings(names)
	for _, name := range names {
		st := s.Objects[name]
		out(c, "    %-*s %9d records  +%d ~%d -%d", width, name, st.Records, st.Added, st.Changed, st.Deleted)
		if st.Files > 0 {
			out(c, "  %d files", st.Files)
		}
		out(c, "\n")
	}
}
