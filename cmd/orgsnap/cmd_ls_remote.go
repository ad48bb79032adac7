package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
)

func newLsRemoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls-remote",
		Usage:     "list the refs and snapshots on a remote",
		ArgsUsage: "[NAME]",
		Action: func(c *cli.Context) error {
			r, rc, rb, done, err := openWithRemote(c, true, false)
			if err != nil {
				return err
			}
			defer done()
			l, err := remote.LsRemote(background(c), r, rb)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, l)
			}
			out(c, "%s (%s): %d snapshots, %d packs (%s)\n", rc.Name, l.Location, len(l.Snapshots), l.Packs, human(l.PackBytes))
			for _, n := range sortedRefNames(l.Refs) {
				out(c, "ref %-12s %s\n", n, l.Refs[n].Short())
			}
			for _, s := range l.Snapshots {
				if s.Kind == repo.KindCheckpoint {
					continue
				}
				out(c, "%s  %s  %-9s %s %d records\n", s.ID.Short(), s.Time.Format(time.RFC3339), s.Kind, s.Org, s.Records())
			}
			return nil
		},
	}
}
