package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/retry"
)

// s3Flags say how to reach a bucket; remote add and clone take them.
func s3Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "endpoint", Usage: "S3 endpoint `URL` of a non-AWS server (MinIO, versitygw, Ceph, …); default AWS"},
		&cli.StringFlag{Name: "region", Usage: "S3 `REGION` (default: from the AWS configuration, else us-east-1)"},
		&cli.BoolFlag{Name: "path-style", Usage: "put the bucket in the URL path (most non-AWS servers need it)"},
		&cli.StringFlag{Name: "profile", Usage: "`PROFILE` of the shared AWS config and credentials files"},
		&cli.StringFlag{Name: "access-key-id", EnvVars: []string{"ORGSNAP_S3_ACCESS_KEY_ID"},
			Usage: "static credentials (stored sealed in the repository); default: the AWS credential chain"},
		&cli.StringFlag{Name: "secret-access-key", EnvVars: []string{"ORGSNAP_S3_SECRET_ACCESS_KEY"}, Usage: "secret for --access-key-id"},
	}
}

// remoteConfigFromFlags parses URL and the S3 flags into a remote.
func remoteConfigFromFlags(c *cli.Context, name, url string) (remote.Config, error) {
	rc, err := remote.ParseURL(url)
	if err != nil {
		return rc, usagef("%v", err)
	}
	rc.Name = name
	if !rc.IsS3() {
		for _, f := range []string{"endpoint", "region", "path-style", "profile", "access-key-id", "secret-access-key"} {
			if c.IsSet(f) {
				return rc, usagef("--%s is for s3:// remotes; %s is a directory", f, rc.URL)
			}
		}
		return rc, nil
	}
	rc.S3.Endpoint, rc.S3.Region, rc.S3.PathStyle, rc.S3.Profile = c.String("endpoint"), c.String("region"), c.Bool("path-style"), c.String("profile")
	rc.S3.AccessKeyID, rc.S3.SecretAccessKey = c.String("access-key-id"), c.String("secret-access-key")
	if (rc.S3.AccessKeyID == "") != (rc.S3.SecretAccessKey == "") {
		return rc, usagef("give both --access-key-id and --secret-access-key, or neither (to use the AWS credential chain)")
	}
	return rc, nil
}

// openRemote connects to a remote, with retries that are reported on stderr.
func openRemote(c *cli.Context, rc remote.Config, create bool) (backend.Backend, error) {
	quiet := c.Bool("json")
	return remote.Open(background(c), rc, create, retry.Policy{
		OnRetry: func(op string, h backend.Handle, attempt int, err error) {
			if !quiet {
				fmt.Fprintf(os.Stderr, "%s %v failed (attempt %d), retrying: %v\n", op, h, attempt, err)
			}
		},
	})
}

// openWithRemote opens the repository and the remote named by the
// command's argument (origin, or the only remote, when none is given).
// close releases both.
func openWithRemote(c *cli.Context, readOnly, create bool) (r *repo.Repository, rc remote.Config, rb backend.Backend, close func(), err error) {
	if c.NArg() > 1 {
		return nil, rc, nil, nil, usagef("%s takes at most one remote NAME", c.Command.Name)
	}
	if r, err = openRepo(c, readOnly); err != nil {
		return nil, rc, nil, nil, err
	}
	if rc, err = remote.Get(background(c), r, c.Args().First()); err == nil {
		rb, err = openRemote(c, rc, create)
	}
	if err != nil {
		r.Close()
		return nil, rc, nil, nil, err
	}
	return r, rc, rb, func() { rb.Close(); r.Close() }, nil
}

func newRemoteCommand() *cli.Command {
	return &cli.Command{
		Name:  "remote",
		Usage: "manage remotes: S3 buckets or directories that hold copies of the repository",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a remote",
				ArgsUsage: "NAME URL",
				Description: "URL is s3://BUCKET/PREFIX, file:///PATH or a directory (a NAS mount).\n" +
					"S3 credentials come from the AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, SSO, instance\n" +
					"roles) unless given here; given ones are stored sealed with the repository key.",
				Flags: s3Flags(),
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("remote add takes NAME and URL")
					}
					rc, err := remoteConfigFromFlags(c, c.Args().Get(0), c.Args().Get(1))
					if err != nil {
						return err
					}
					if err := remote.ValidName(rc.Name); err != nil {
						return usagef("%v", err)
					}
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					if err := remote.Add(background(c), r, rc); err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, rc.Redacted())
					}
					out(c, "added remote %s → %s\n", rc.Name, rc.URL)
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list remotes",
				Action: func(c *cli.Context) error {
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					all, err := remote.List(background(c), r)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						red := []remote.Config{}
						for _, rc := range all {
							red = append(red, rc.Redacted())
						}
						return printJSON(c, red)
					}
					for _, rc := range all {
						out(c, "%-12s %s", rc.Name, rc.URL)
						if rc.S3.Endpoint != "" {
							out(c, " (endpoint %s)", rc.S3.Endpoint)
						}
						if rc.S3.AccessKeyID != "" {
							out(c, " (key %s)", rc.S3.AccessKeyID)
						}
						out(c, "\n")
						refs, err := remote.TrackingRefs(background(c), r, rc.Name)
						if err != nil {
							return err
						}
						for _, n := range sortedRefNames(refs) {
							out(c, "  %s/%s %s\n", rc.Name, n, refs[n].Short())
						}
					}
					return nil
				},
			},
			{
				Name:      "remove",
				Usage:     "forget a remote (nothing on it is deleted)",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("remote remove takes NAME")
					}
					r, err := openRepo(c, true)
					if err != nil {
						return err
					}
					defer r.Close()
					if err := remote.Remove(background(c), r, c.Args().First()); err != nil {
						return err
					}
					out(c, "removed remote %s\n", c.Args().First())
					return nil
				},
			},
		},
	}
}
