package main

import (
	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
)

// pullOutput is pull's --json: the transfer, and the prune that followed
// when fetched snapshots held erased records.
type pullOutput struct {
	*remote.Transfer
	Prune *repo.PruneProof `json:"prune,omitempty"`
}

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
			rl, err := r.RemovalLog(background(c))
			if err != nil {
				return err
			}
			t, err := remote.Pull(background(c), r, rc.Name, rb, remote.Options{
				Parallel: c.Int("parallel"), Progress: progress(c), Removed: rl, Filter: rl, Scrub: rl, Now: now,
			})
			endProgress(c)
			if t == nil {
				return err
			}
			res := pullOutput{Transfer: t}
			if !c.Bool("json") {
				printTransfer(c, "fetched", "from", rc, t)
			}
			if err == nil && t.RemovedHere > 0 && !c.Bool("json") {
				out(c, "removed %d snapshots here that another machine removed (forget, erase)\n", t.RemovedHere)
			}
			if err == nil && t.Scrubbed+t.Refetched+t.RemovedHere > 0 {
				// Fetched snapshots held erased records and were rewritten,
				// or needed packs pruned here: erase the dropped data here
				// again (the remote's copy goes at the next push).
				if !c.Bool("json") && t.Scrubbed+t.Refetched > 0 {
					out(c, "rewrote %d snapshots without records erased here (%d pruned packs fetched again for them)\n", t.Scrubbed, t.Refetched)
				}
				res.Prune, err = pruneAndReport(c, r)
			}
			if err == nil && c.Bool("json") {
				return printJSON(c, res)
			}
			return err
		},
	}
}
