package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// defaultRepoDir is the folder `init` creates when --repo is not given,
// and the one other commands look for in the current directory and its
// parents, the way git finds .git.
const defaultRepoDir = ".orgsnap"

func repoDir(c *cli.Context, forInit bool) (string, error) {
	if d := c.String("repo"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if forInit {
		return filepath.Join(wd, defaultRepoDir), nil
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, defaultRepoDir)
		if _, err := os.Stat(filepath.Join(cand, "config")); err == nil {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("%w in %s or its parents: run `orgsnap init`, or pass --repo DIR (or set ORGSNAP_REPO)", repo.ErrNoRepository, wd)
}

// password reads the repository password from ORGSNAP_PASSWORD,
// --password-file/ORGSNAP_PASSWORD_FILE, or a terminal prompt.
func password(c *cli.Context, prompt string, confirm bool) ([]byte, error) {
	if p, ok := os.LookupEnv("ORGSNAP_PASSWORD"); ok && p != "" {
		return []byte(p), nil
	}
	if f := c.String("password-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read password file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("no password: set ORGSNAP_PASSWORD or ORGSNAP_PASSWORD_FILE (there is no terminal to ask on)")
	}
	return ask(prompt, confirm)
}

// ask reads a password on the terminal, twice when confirm is set.
func ask(prompt string, confirm bool) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	fmt.Fprint(os.Stderr, prompt)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil || !confirm {
		return p, err
	}
	fmt.Fprint(os.Stderr, "enter it again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, p2) {
		return nil, errors.New("the passwords do not match; nothing was changed")
	}
	return p, nil
}

// openRepo opens the repository for a command. readOnly commands take no
// lock and open no index.
func openRepo(c *cli.Context, readOnly bool) (*repo.Repository, error) {
	dir, err := repoDir(c, false)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err != nil {
		return nil, fmt.Errorf("%w at %s: run `orgsnap init --repo %s` to create one", repo.ErrNoRepository, dir, dir)
	}
	pw, err := password(c, "repository password: ", false)
	if err != nil && !insecureRepo(dir) {
		return nil, err
	}
	return repo.Open(c.Context, dir, repo.Options{
		Password: pw,
		ReadOnly: readOnly,
		LockWait: c.Duration("lock-wait"),
		Purpose:  strings.TrimSpace("orgsnap " + c.Command.FullName()),
		// Revisions may name remote-tracking refs (origin/main).
		RemoteRefs: remote.RefResolver{},
	})
}

// insecureRepo reports whether the repository has an unprotected key slot
// (created with --insecure-no-password), so no password is needed.
func insecureRepo(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "keys", e.Name()))
		if err == nil && bytes.Contains(b, []byte(`"kdf": "none"`)) {
			return true
		}
	}
	return false
}

// printJSON writes v as indented JSON.
func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func out(c *cli.Context, format string, args ...any) {
	fmt.Fprintf(c.App.Writer, format, args...)
}

// progress prints progress lines to stderr unless --json asked for quiet.
func progress(c *cli.Context) func(string) {
	if c.Bool("json") {
		return nil
	}
	isTerm := term.IsTerminal(int(os.Stderr.Fd()))
	return func(s string) {
		if isTerm {
			fmt.Fprintf(os.Stderr, "\r\033[K%s", s)
		} else {
			fmt.Fprintln(os.Stderr, s)
		}
	}
}

func endProgress(c *cli.Context) {
	if !c.Bool("json") && term.IsTerminal(int(os.Stderr.Fd())) {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}

// interrupted is closed by the first interrupt signal (see main).
var interrupted = make(chan struct{})

func background(c *cli.Context) context.Context {
	if c.Context != nil {
		return c.Context
	}
	return context.Background()
}

// keyParams are the argon2id costs for new key slots; ORGSNAP_TEST_FAST_KDF
// (tests only) makes them cheap.
func keyParams() crypto.KDFParams {
	if os.Getenv("ORGSNAP_TEST_FAST_KDF") != "" {
		return crypto.TestKDF
	}
	return crypto.DefaultKDF
}

// human formats a byte count.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
