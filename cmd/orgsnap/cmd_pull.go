package main

import (
	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
)

func newPullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch what this repository lacks from a remote and fast-forward local refs",
		ArgsUsage: "[NAME]",
		Description: "The remote's refs are recorded as NAME/REF (see `orgsnap remote list`); a local\n" +
			"ref moves only forward, to a snapshot that descends from it.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "parallel", Value: 8, Usage: "download `N` files at once"},
		},
		Action: func(c *cli.Context) error {
			r, rc, rb, done, err := openWithRemote(c, false, false)
			if err != nil {
				return err
			}
			defer done()
			removed, filter, err := removalHooks(c, r)
			if err != nil {
				return err
			}
			t, err := remote.Pull(background(c), r, rc.Name, rb, remote.Options{
				Parallel: c.Int("parallel"), Progress: progress(c), Removed: removed, Filter: filter, Now: now,
			})
			endProgress(c)
			if t != nil {
				if perr := printTransfer(c, "fetched", "from", rc, t); perr != nil {
					return perr
				}
			}
			return err
		},
	}
}
