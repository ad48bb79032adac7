package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

func newCatCommand() *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "print a repository object, for debugging",
		ArgsUsage: "config | snapshot REV | blob ID | record REV OBJECT ID",
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usagef("cat needs what to print: config, snapshot REV, blob ID, or record REV OBJECT ID")
			}
			r, err := openRepo(c, args[0] == "config" || args[0] == "snapshot")
			if err != nil {
				return err
			}
			defer r.Close()
			ctx := background(c)
			switch {
			case args[0] == "config" && len(args) == 1:
				return printJSON(c, r.Config())
			case args[0] == "snapshot" && len(args) == 2:
				s, err := r.FindSnapshot(ctx, args[1])
				if err != nil {
					return err
				}
				return printJSON(c, struct {
					ID string `json:"id"`
					any
				}{s.ID.String(), s})
			case args[0] == "blob" && len(args) == 2:
				id, err := crypto.ParseID(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				b, err := r.LoadBlob(ctx, id)
				if err != nil {
					return err
				}
				_, err = c.App.Writer.Write(b)
				return err
			case args[0] == "record" && len(args) == 4:
				s, err := r.FindSnapshot(ctx, args[1])
				if err != nil {
					return err
				}
				rec, ok, err := r.Record(ctx, s, args[2], args[3])
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("record %s/%s is not in snapshot %s", args[2], args[3], s.ID.Short())
				}
				return printJSON(c, rec) // fields in stored (name) order
			}
			return usagef("cat: unknown form %q (want: config | snapshot REV | blob ID | record REV OBJECT ID)", args)
		},
	}
}
