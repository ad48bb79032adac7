package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
)

func newCheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "verify the repository's structure (and with --read-data, every byte)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read-data", Usage: "read and decrypt every pack, verifying every blob against its ID"},
		},
		Action: func(c *cli.Context) error {
			r, err := openRepo(c, false)
			if err != nil {
				return err
			}
			defer r.Close()
			rep, err := r.Check(background(c), c.Bool("read-data"), progress(c))
			endProgress(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(c, rep); err != nil {
					return err
				}
			} else {
				out(c, "%d snapshots, %d packs, %d blobs referenced", rep.Snapshots, rep.Packs, rep.Blobs)
				if rep.ReadData {
					out(c, ", all data read")
				}
				out(c, "\n")
				if rep.Unreferenced > 0 {
					out(c, "%d blobs are not used by any snapshot (left by an interrupted run; `orgsnap prune` removes them)\n", rep.Unreferenced)
				}
				for _, p := range rep.Problems {
					out(c, "error: %s", p.Message)
					if p.Pack != "" {
						out(c, " [pack %s]", p.Pack)
					}
					out(c, "\n")
					for _, a := range p.Affects {
						out(c, "  affects %s\n", a)
					}
				}
				if rep.OK() {
					out(c, "no errors were found\n")
				}
			}
			if !rep.OK() {
				return fmt.Errorf("%w: %d problems", repo.ErrCheckFailed, len(rep.Problems))
			}
			return nil
		},
	}
}
