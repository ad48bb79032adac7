package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
)

func newSnapshotsCommand() *cli.Command {
	return &cli.Command{
		Name:    "snapshots",
		Aliases: []string{"log"},
		Usage:   "list snapshots, newest first (needs no lock: works while a snapshot runs)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "oneline", Usage: "one short line per snapshot"},
			&cli.StringFlag{Name: "object", Usage: "only snapshots in which `OBJECT` changed"},
			&cli.BoolFlag{Name: "all", Usage: "also list checkpoints (progress of unfinished runs)"},
		},
		Action: func(c *cli.Context) error {
			r, err := openRepo(c, true)
			if err != nil {
				return err
			}
			defer r.Close()
			var bad []string
			snaps, err := r.Snapshots(background(c), func(name string, err error) {
				bad = append(bad, fmt.Sprintf("%s: %v", name, err))
			})
			if err != nil {
				return err
			}
			refs, err := r.Refs(background(c))
			if err != nil {
				return err
			}
			byID := map[string][]string{}
			for name, id := range refs {
				byID[id.String()] = append(byID[id.String()], name)
			}
			var list []*repo.Snapshot
			for i := len(snaps) - 1; i >= 0; i-- {
				s := snaps[i]
				if s.Kind == repo.KindCheckpoint && !c.Bool("all") {
					continue
				}
				if o := c.String("object"); o != "" {
					st, ok := s.Objects[o]
					if !ok || st.Added+st.Changed+st.Deleted == 0 {
						continue
					}
				}
				list = append(list, s)
			}
			if c.Bool("json") {
				type jsnap struct {
					ID string `json:"id"`
					*repo.Snapshot
					Refs []string `json:"refs,omitempty"`
				}
				js := []jsnap{}
				for _, s := range list {
					js = append(js, jsnap{s.ID.String(), s, byID[s.ID.String()]})
				}
				return printJSON(c, js)
			}
			for _, s := range list {
				var a, ch, d uint64
				for _, st := range s.Objects {
					a, ch, d = a+st.Added, ch+st.Changed, d+st.Deleted
				}
				refs := ""
				if names := byID[s.ID.String()]; len(names) > 0 {
					sort.Strings(names)
					refs = " (" + strings.Join(names, ", ") + ")"
				}
				if c.Bool("oneline") {
					out(c, "%s %s %-9s %s +%d ~%d -%d%s\n", s.ID.Short(), s.Time.Format("2006-01-02 15:04"), s.Kind, s.Period, a, ch, d, refs)
					continue
				}
				out(c, "snapshot %s%s\n", s.ID, refs)
				out(c, "Date:    %s (period %s)\n", s.Time.Format(time.RFC1123Z), s.Period)
				out(c, "Kind:    %s", s.Kind)
				if s.Parent != nil {
					out(c, ", parent %s", s.Parent.Short())
				}
				out(c, "\nOrg:     %s %s\n", s.Org, s.Instance)
				out(c, "Records: %d in %d objects (+%d added, ~%d changed, -%d deleted)\n\n", s.Records(), len(s.Objects), a, ch, d)
			}
			for _, b := range bad {
				out(c, "warning: unreadable snapshot %s\n", b)
			}
			return nil
		},
	}
}
