package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
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
			// The password must open one of the remote's key slots before
			// anything large is downloaded.
			if _, err := rb.Stat(ctx, backend.Handle{Type: backend.Config}); backend.IsNotExist(err) {
				return fmt.Errorf("%w at %s", remote.ErrEmptyRemote, rb.Location())
			}
			pw, pwErr := password(c, "repository password: ", false)
			if err := repo.CheckPassword(ctx, rb, pw); err != nil {
				if pwErr != nil && errors.Is(err, repo.ErrWrongPassword) {
					return pwErr // no password given, and one is needed
				}
				return fmt.Errorf("%s: %w", rc.URL, err)
			}
			t, err := remote.Clone(ctx, rb, dir, remote.Options{Parallel: c.Int("parallel"), Progress: progress(c), Now: now})
			endProgress(c)
			if err != nil {
				return err
			}
			if !c.Bool("json") {
				if t.Unlocked {
					out(c, "note: these credentials may not write to %s, so no lock was taken there (a push removing pruned data at this moment could make this fail: run it again then)\n", rc.URL)
				}
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
