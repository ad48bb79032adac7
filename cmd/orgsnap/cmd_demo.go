package main

import (
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// The demo shows the product at work with no setup: it starts the
// Salesforce emulator in-process with a generated org, makes a throwaway
// encrypted repository, takes a full snapshot through the real client and
// engine, lets a day of changes happen in the org (creates, updates,
// deletes, undeletes, hard deletes, a new field), takes a synthetic
// snapshot, and shows what changed, field by field.
func newDemoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "see orgsnap back up an emulated Salesforce org, with nothing to set up",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "records", Value: 50000, Usage: "approximate number of records in the generated org"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "generator seed (same seed, same org)"},
			&cli.StringFlag{Name: "keep", Usage: "leave the demo repository in `DIR` instead of deleting it"},
		},
		Action: demoAction,
	}
}

func demoAction(c *cli.Context) error {
	ctx := background(c)
	dir := c.String("keep")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "orgsnap-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	srv := sftest.NewServer(sftest.Options{Seed: c.Int64("seed"), Records: c.Int("records")})
	defer srv.Close()
	org := srv.Org
	out(c, "== an emulated Salesforce org %s at %s: %d records (Accounts, Contacts, Opportunities, Cases, files, …)\n",
		org.ID(), srv.URL, c.Int("records"))
	out(c, "== creating an encrypted repository in %s\n", dir)
	r, err := repo.Init(ctx, dir, repo.Options{Password: []byte("demo"), KDF: keyParams(), Purpose: "orgsnap demo"})
	if err != nil {
		return err
	}
	defer r.Close()
	client, err := sfapi.New(sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock: sftest.ClientClock{Org: org, MaxSleep: 50 * time.Millisecond}, ClientName: "orgsnap-demo",
	})
	if err != nil {
		return err
	}
	// Snapshot times follow the org's clock, so the day of changes below
	// is a day in the repository too.
	opts := backup.Options{Ref: "demo", Now: org.Now}

	out(c, "\n$ orgsnap snapshot            # the first one reads everything\n")
	if err := runSnapshot(c, r, client, opts); err != nil {
		return err
	}
	full, err := r.FindSnapshot(ctx, "demo")
	if err != nil {
		return err
	}
	before := r.WriteStats()

	cs := org.Churn(sftest.ChurnOptions{Seed: 2, Rate: 0.01, NewFields: 1})
	out(c, "\n== a day passes in the org: %d created, %d updated, %d deleted, %d undeleted, %d hard-deleted; new field %s\n",
		cs.Created, cs.Updated, cs.Deleted, cs.Undeleted, cs.Purged, strings.Join(cs.NewFields, ", "))

	out(c, "\n$ orgsnap snapshot            # now only what changed: a synthetic full snapshot\n")
	if err := runSnapshot(c, r, client, opts); err != nil {
		return err
	}
	syn, err := r.FindSnapshot(ctx, "demo")
	if err != nil {
		return err
	}
	after := r.WriteStats()
	out(c, "  new data written: %s (%.1f%% of the first snapshot's %s), yet it holds all %d records\n",
		human(after.PackBytes-before.PackBytes), 100*float64(after.PackBytes-before.PackBytes)/float64(max(1, before.PackBytes)),
		human(before.PackBytes), syn.Records())

	out(c, "\n$ orgsnap diff %s %s   # first lines\n", full.ID.Short(), syn.ID.Short())
	shown, total, schema := 0, 0, 0
	err = r.Diff(ctx, full, syn, func(ch repo.Change) error {
		total++
		if ch.What == "schema" {
			schema++
			out(c, "  schema %s changed\n", ch.Object)
			return nil
		}
		if shown >= 10 || ch.What != "record" {
			return nil
		}
		shown++
		switch ch.Kind {
		case repo.Added:
			out(c, "  + %s %s %s\n", ch.Object, ch.ID, recordLabel(ch.New))
		case repo.Deleted:
			out(c, "  - %s %s %s\n", ch.Object, ch.ID, recordLabel(ch.Old))
		default:
			// What someone changed first; the audit fields every update
			// moves (who, when) after it.
			var d, audit []string
			for _, f := range fieldChanges(ch.Old, ch.New) {
				s := f.Name + ": " + showValue(f.Old) + " → " + showValue(f.New)
				if auditField[f.Name] {
					audit = append(audit, s)
				} else {
					d = append(d, s)
				}
			}
			d = append(d, audit...)
			if len(d) > 2 {
				d = append(d[:2], "…")
			}
			out(c, "  ~ %s %s: %s\n", ch.Object, ch.ID, strings.Join(d, ", "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	out(c, "  … %d changes in all\n", total)
	rep, err := r.Check(ctx, true, nil)
	if err != nil {
		return err
	}
	out(c, "\n$ orgsnap check --read-data\n  %d snapshots, %d packs, %d problems\n", rep.Snapshots, rep.Packs, len(rep.Problems))
	if c.String("keep") != "" {
		out(c, "\nThe repository stays in %s (password \"demo\"): try `orgsnap -r %s snapshots`.\n", dir, dir)
	}
	return nil
}

// auditField names the system fields Salesforce sets on every write.
var auditField = map[string]bool{"LastModifiedById": true, "LastModifiedDate": true, "SystemModstamp": true, "CreatedById": true, "CreatedDate": true}
