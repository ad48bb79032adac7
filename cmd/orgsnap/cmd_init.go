package main

import (
	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
)

func newInitCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a repository (encrypted; the password comes from ORGSNAP_PASSWORD, ORGSNAP_PASSWORD_FILE or a prompt)",
		Description: "Creates the repository in --repo DIR, or in ./.orgsnap. The master key is random and\n" +
			"wrapped by a key derived from the password with argon2id; add more passwords with `orgsnap key add`.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "insecure-no-password", Usage: "store the master key unprotected: anyone who can read the repository can decrypt it"},
		},
		Action: func(c *cli.Context) error {
			dir, err := repoDir(c, true)
			if err != nil {
				return err
			}
			o := repo.Options{Insecure: c.Bool("insecure-no-password"), Purpose: "orgsnap init", KDF: keyParams()}
			if !o.Insecure {
				if o.Password, err = password(c, "new repository password: ", true); err != nil {
					return err
				}
			}
			r, err := repo.Init(background(c), dir, o)
			if err != nil {
				return err
			}
			defer r.Close()
			cfg := r.Config()
			if c.Bool("json") {
				return printJSON(c, map[string]any{"repository": r.Dir(), "id": cfg.ID, "encrypted": !o.Insecure})
			}
			out(c, "created orgsnap repository %s at %s\n", cfg.ID, r.Dir())
			if o.Insecure {
				out(c, "warning: the master key is NOT protected by a password\n")
			} else {
				out(c, "keep the password safe: without it the backups cannot be read\n")
			}
			return nil
		},
	}
}
