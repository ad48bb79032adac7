package main

import (
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func newKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage the passwords (key slots) that open the repository",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list key slots",
				Action: func(c *cli.Context) error {
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					pw, _ := password(c, "", false)
					keys, err := r.Keys(background(c), pw)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, keys)
					}
					out(c, "  %-32s  %-9s  %-20s  %s\n", "ID", "KDF", "CREATED", "USER@HOST LABEL")
					for _, k := range keys {
						mark := " "
						if k.Current {
							mark = "*"
						}
						out(c, "%s %-32s  %-9s  %-20s  %s@%s %s\n", mark, k.ID, k.KDF, k.Created.Format(time.RFC3339), k.Username, k.Host, k.Label)
					}
					return nil
				},
			},
			{
				Name:  "add",
				Usage: "add a password (ORGSNAP_NEW_PASSWORD or a prompt)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "label", Usage: "a note for `key list`, e.g. who holds it"}},
				Action: func(c *cli.Context) error {
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					npw, err := newPassword(c)
					if err != nil {
						return err
					}
					id, err := r.AddKey(background(c), npw, keyParams(), c.String("label"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, map[string]string{"id": id})
					}
					out(c, "added key slot %s\n", id)
					return nil
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a key slot (not the last one)",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("key remove takes one slot ID (see `orgsnap key list`)")
					}
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					if err := r.RemoveKey(background(c), c.Args().First()); err != nil {
						return err
					}
					out(c, "removed key slot %s\n", c.Args().First())
					return nil
				},
			},
			{
				Name:  "passwd",
				Usage: "change the password that opened the repository (ORGSNAP_NEW_PASSWORD or a prompt)",
				Action: func(c *cli.Context) error {
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					old, err := password(c, "current password: ", false)
					if err != nil {
						return err
					}
					npw, err := newPassword(c)
					if err != nil {
						return err
					}
					id, err := r.ChangePassword(background(c), old, npw, keyParams())
					if err != nil {
						return err
					}
					out(c, "password changed (new key slot %s)\n", id)
					return nil
				},
			},
		},
	}
}

func newPassword(c *cli.Context) ([]byte, error) {
	if p := os.Getenv("ORGSNAP_NEW_PASSWORD"); p != "" {
		return []byte(p), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("no new password: set ORGSNAP_NEW_PASSWORD (there is no terminal to ask on)")
	}
	return ask("new password: ", true)
}
