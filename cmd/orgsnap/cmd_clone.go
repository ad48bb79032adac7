package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
)

func newCloneCommand() *cli.Command {
	return &cli.Command{
		Name:      "clone",
		Usage:     "make a new local repository from a remote (same keys, same snapshots)",
		ArgsUsage: "URL DIR",
		Description: "The remote becomes `origin`. The index is rebuilt from the pack trailers.\n" +
			"A clone that stops is run again with the same arguments and resumes.",
		Flags: append(s3Flags(),
			&cli.IntFlag{Name: "parallel", Value: 8, Usage: "download `N` files at once"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("clone takes URL and DIR")
			}
			rc, err := remoteConfigFromFlags(c, "origin", c.Args().Get(0))
			if err != nil {
				return err
			}
			dir := c.Args().Get(1)
			rb, err := openRemote(c, rc, false)
			if err != nil {
				return err
			}
			defer rb.Close()
			ctx := background(c)
			t, err := remote.Clone(ctx, rb, dir, remote.Options{Parallel: c.Int("parallel"), Progress: progress(c), Now: now})
			endProgress(c)
			if err != nil {
				return err
			}
			pw, err := password(c, "repository password: ", false)
			if err != nil && !insecureRepo(dir) {
				return err
			}
			if !c.Bool("json") {
				out(c, "indexing the packs\n")
			}
			r, err := repo.Open(ctx, dir, repo.Options{Password: pw, Purpose: "orgsnap clone"})
			if err != nil {
				return err
			}
			defer r.Close()
			if err := remote.FinishClone(ctx, r, rc); err != nil {
				return err
			}
			abs, _ := filepath.Abs(dir)
			if c.Bool("json") {
				return printJSON(c, t)
			}
			out(c, "cloned %s into %s: %d packs (%s), %d snapshots\n", rc.URL, abs, t.Packs, human(t.PackBytes), t.Snapshots)
			return nil
		},
	}
}
