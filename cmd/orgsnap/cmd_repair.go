package main

import (
	"github.com/urfave/cli/v2"
)

func newRepairCommand() *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "rebuild what can be rebuilt",
		Subcommands: []*cli.Command{{
			Name:  "index",
			Usage: "throw the local index away and rebuild it from the pack trailers",
			Action: func(c *cli.Context) error {
				r, err := openRepo(c, false)
				if err != nil {
					return err
				}
				defer r.Close()
				n, bad, err := r.RepairIndex(background(c), progress(c))
				endProgress(c)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"packs_indexed": n, "unreadable_packs": bad})
				}
				out(c, "indexed %d packs\n", n)
				for _, b := range bad {
					out(c, "skipped unreadable pack %s (run `orgsnap check --read-data` to see what it affects)\n", b)
				}
				return nil
			},
		}},
	}
}
