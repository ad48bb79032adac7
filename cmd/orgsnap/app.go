package main

import (
	"github.com/urfave/cli/v2"
)

// version is stamped at release time with -ldflags "-X main.version=…".
var version = "dev"

func newApp() *cli.App {
	return &cli.App{
		Name:                 "orgsnap",
		Usage:                "git-style, encrypted, deduplicated backups of a Salesforce org",
		Version:              version,
		EnableBashCompletion: true,
		Commands:             []*cli.Command{},
	}
}

func exitCode(err error) int { return 1 }
