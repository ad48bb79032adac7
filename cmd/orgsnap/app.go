package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/export"
	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/retention"
)

// version is stamped at release time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes. Scripts branch on these; they are documented in docs/guide.md
// and never change meaning.
const (
	exitOK            = 0
	exitError         = 1  // anything else
	exitUsage         = 2  // bad flags or arguments
	exitCheckFailed   = 3  // check found damage
	exitAlert         = 4  // the snapshot was taken but alert thresholds were crossed
	exitStopped       = 5  // the snapshot stopped early (API budget, Ctrl-C); the next run resumes it
	exitRestoreFailed = 6  // a restore finished but Salesforce refused some records (see its results)
	exitNoPolicy      = 7  // forget has no retention rule: none given and none saved
	exitRemoteAhead   = 8  // push refused: a remote ref is past snapshots this repository lacks, or the remote has removals not applied here: pull first
	exitNoRepository  = 10 // no repository where one was expected
	exitLocked        = 11 // another process holds the repository
	exitWrongPassword = 12 // no key slot opens with the password
)

// usageError marks errors in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	var ae alertError
	var se stoppedError
	var rf restoreFailedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue),
		errors.Is(err, repo.ErrBadRevision), errors.Is(err, repo.ErrUnknownRevision), errors.Is(err, repo.ErrAmbiguousRevision),
		errors.Is(err, filter.ErrSyntax), errors.Is(err, filter.ErrUnknownField), errors.Is(err, filter.ErrType),
		errors.Is(err, export.ErrUsage):
		return exitUsage
	case errors.As(err, &ae):
		return exitAlert
	case errors.As(err, &se):
		return exitStopped
	case errors.As(err, &rf):
		return exitRestoreFailed
	case errors.Is(err, retention.ErrEmptyPolicy):
		return exitNoPolicy
	case errors.Is(err, remote.ErrRemoteAhead):
		return exitRemoteAhead
	case errors.Is(err, repo.ErrWrongPassword):
		return exitWrongPassword
	case errors.Is(err, repo.ErrLocked):
		return exitLocked
	case errors.Is(err, repo.ErrNoRepository):
		return exitNoRepository
	case errors.Is(err, repo.ErrCheckFailed):
		return exitCheckFailed
	}
	return exitError
}

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "orgsnap",
		Usage:                "git-style, encrypted, deduplicated backups of a Salesforce org",
		Version:              version,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Aliases: []string{"r"}, EnvVars: []string{"ORGSNAP_REPO"},
				Usage: "repository `DIR` (default: the nearest .orgsnap in this directory or its parents)"},
			&cli.StringFlag{Name: "password-file", EnvVars: []string{"ORGSNAP_PASSWORD_FILE"},
				Usage: "read the repository password from `FILE` (or set ORGSNAP_PASSWORD)"},
			&cli.DurationFlag{Name: "lock-wait", Value: 0,
				Usage: "wait up to `DURATION` for another orgsnap process to release the repository"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts instead of text"},
		},
		Commands: []*cli.Command{
			newInitCommand(),
			newKeyCommand(),
			newOrgCommand(),
			newSnapshotCommand(),
			newRestoreCommand(),
			newLogCommand(),
			newDiffCommand(),
			newHistoryCommand(),
			newShowCommand(),
			newFindCommand(),
			newExportCommand(),
			newCheckCommand(),
			newForgetCommand(),
			newPruneCommand(),
			newEraseCommand(),
			newRepairCommand(),
			newRemoteCommand(),
			newPushCommand(),
			newPullCommand(),
			newCloneCommand(),
			newLsRemoteCommand(),
			newStatsCommand(),
			newCatCommand(),
			newDemoCommand(),
			newDevOrgCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints and exits
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usagef("%v (see `orgsnap %s --help`)", err, c.Command.FullName())
		},
		Writer:    os.Stdout,
		ErrWriter: os.Stderr,
	}
	var mark func([]*cli.Command)
	mark = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = app.OnUsageError
			mark(cmd.Subcommands)
		}
	}
	mark(app.Commands)
	for _, cmd := range app.Commands {
		cmd.Category = commandCategory[cmd.Name]
	}
	return app
}

// commandCategory groups the commands in `orgsnap --help` (urfave/cli
// lists the groups by name).
var commandCategory = map[string]string{
	"init": "Setting up", "key": "Setting up", "org": "Setting up",
	"snapshot": "Backing up and restoring", "restore": "Backing up and restoring",
	"log": "Looking back", "diff": "Looking back", "history": "Looking back", "show": "Looking back",
	"find": "Looking back", "export": "Looking back",
	"forget": "Retention and erasure", "prune": "Retention and erasure", "erase": "Retention and erasure",
	"remote": "Remotes", "push": "Remotes", "pull": "Remotes", "clone": "Remotes", "ls-remote": "Remotes",
	"check": "Maintenance", "repair": "Maintenance", "stats": "Maintenance", "cat": "Maintenance",
	"demo": "Trying it out", "dev-org": "Trying it out",
}

// now is the clock commands use; tests replace it.
var now = time.Now
