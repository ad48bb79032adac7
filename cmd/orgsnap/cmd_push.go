package main

import (
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

func newPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload what a remote lacks (packs, snapshots, refs) and mirror local removals",
		ArgsUsage: "[NAME]",
		Description: "NAME defaults to origin (or the only remote). A push that stops is simply run\n" +
			"again: packs already there are not sent twice. A ref the remote moved past\n" +
			"yours is not overwritten: the push fails with exit code 8 and asks you to pull.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "move remote refs even when the remote has snapshots you do not have (they stay on the remote, unnamed)"},
			&cli.IntFlag{Name: "parallel", Value: 8, Usage: "upload `N` files at once"},
		},
		Action: func(c *cli.Context) error {
			r, rc, rb, done, err := openWithRemote(c, false, true)
			if err != nil {
				return err
			}
			defer done()
			removed, err := removalRecord(c, r)
			if err != nil {
				return err
			}
			t, err := remote.Push(background(c), r, rc.Name, rb, remote.Options{
				Parallel: c.Int("parallel"), Progress: progress(c), Force: c.Bool("force"), Removed: removed, Now: now,
			})
			endProgress(c)
			if t != nil {
				if perr := printTransfer(c, "pushed", "to", rc, t); perr != nil {
					return perr
				}
			}
			return err
		},
	}
}

// printTransfer reports a push or pull.
func printTransfer(c *cli.Context, verb, dir string, rc remote.Config, t *remote.Transfer) error {
	if c.Bool("json") {
		return printJSON(c, t)
	}
	out(c, "%s %d packs (%s) and %d snapshots %s %s (%s); %d packs were there already\n",
		verb, t.Packs, human(t.PackBytes), t.Snapshots, dir, rc.Name, rc.URL, t.PacksPresent)
	if t.RemovedPacks+t.RemovedSnapshots > 0 {
		out(c, "removed %d packs and %d snapshots from %s (removed here)\n", t.RemovedPacks, t.RemovedSnapshots, rc.Name)
	}
	if t.RemovedKeys > 0 {
		out(c, "removed %d key slots from %s (removed here: those passwords no longer open it)\n", t.RemovedKeys, rc.Name)
	}
	if t.Unlocked {
		out(c, "note: these credentials may not write to %s, so no lock was taken there (a push removing pruned data at this moment could make this fail: run it again then)\n", rc.Name)
	}
	if t.RemovalSkipped != "" {
		out(c, "note: %s\n", t.RemovalSkipped)
	}
	if t.Rejected > 0 {
		out(c, "left out %d snapshots this repository removed or erased\n", t.Rejected)
	}
	for _, u := range t.Refs {
		old := "(none)"
		if u.Old != nil {
			old = u.Old.Short()
		}
		out(c, "  %-12s %s → %s  %s\n", u.Name, old, u.New.Short(), refStatusText(u.Status))
	}
	return nil
}

func refStatusText(s string) string {
	switch s {
	case remote.RefBehind:
		return "kept: the other side is ahead"
	case remote.RefDiverged:
		return "rejected: both sides have snapshots the other lacks"
	}
	return s
}

func sortedRefNames(m map[string]crypto.ID) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
