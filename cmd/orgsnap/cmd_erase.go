package main

import (
	"bufio"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/remote"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

func newEraseCommand() *cli.Command {
	return &cli.Command{
		Name:  "erase",
		Usage: "erase a data subject's records from every snapshot, then prune them away physically (GDPR)",
		Description: "Every snapshot holding one of the records is rewritten without it (refs move to the\n" +
			"rewrites, the old snapshots go), then prune erases the data and proves it. The audit log\n" +
			"records when, by whom, which objects and how many records — never the data. Erased Ids\n" +
			"are remembered as keyed hashes: later snapshots skip them, even if the org still has them.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "object", Usage: "the `OBJECT` whose records to erase (e.g. Contact)", Required: true},
			&cli.StringSliceFlag{Name: "id", Usage: "record `ID` to erase (repeatable, or comma-separated)"},
			&cli.StringFlag{Name: "ids-file", Usage: "read record Ids from `FILE`, one a line"},
			&cli.StringFlag{Name: "where", Usage: "erase the object's records matching `FILTER` in any snapshot (the find language, e.g. \"Email = 'a@b.example'\")"},
			&cli.BoolFlag{Name: "follow", Usage: "also erase records whose lookups point at an erased record (Tasks, Events, Cases, ContentDocumentLinks, …), repeatedly"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "only list what would be erased"},
		},
		Action: runErase,
	}
}

// idsFromFlags collects record Ids from --id (repeatable, comma lists)
// and --ids-file (one a line, # comments, first CSV column).
func idsFromFlags(c *cli.Context) ([]string, error) {
	ids := splitList(c.StringSlice("id"))
	if path := c.String("ids-file"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("--ids-file: %v", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				ids = append(ids, strings.Trim(strings.Split(line, ",")[0], `"`))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

type eraseOutput struct {
	DryRun    bool                `json:"dry_run"`
	Records   map[string][]string `json:"records"` // object → Ids selected (not printed in the audit log)
	Snapshots map[string]string   `json:"replaced,omitempty"`
	RefsMoved []string            `json:"refs_moved,omitempty"`
	Audit     string              `json:"audit_entry,omitempty"`
	Prune     *repo.PruneProof    `json:"prune,omitempty"`
}

func runErase(c *cli.Context) error {
	ctx := background(c)
	object := c.String("object")
	ids, err := idsFromFlags(c)
	if err != nil {
		return err
	}
	where := c.String("where")
	if len(ids) == 0 && where == "" {
		return usagef("say which records to erase: --id, --ids-file or --where")
	}
	// Snapshots key records by their 18-character Id; a 15-character Id
	// (what Salesforce shows in URLs and reports) gets its checksum suffix.
	// 18-character Ids are taken as given (snapshots hold exactly what the
	// API returned).
	for i, id := range ids {
		switch len(id) {
		case 18:
		case 15:
			id18, err := sfapi.To18(id)
			if err != nil {
				return usagef("record Id %q: %v", id, err)
			}
			ids[i] = id18
		default:
			return usagef("record Id %q: give the 15- or 18-character Id", id)
		}
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return err
	}
	sel := repo.EraseSelection{}
	add := func(obj, id string) bool {
		for _, x := range sel[obj] {
			if x == id {
				return false
			}
		}
		sel[obj] = append(sel[obj], id)
		return true
	}
	for _, id := range ids {
		add(object, id)
	}
	selectedBy := "ids"
	if where != "" {
		selectedBy = "where"
		if len(ids) > 0 {
			selectedBy = "ids+where"
		}
		if err := selectWhere(c, r, snaps, object, where, add); err != nil {
			return err
		}
	}
	if c.Bool("follow") {
		selectedBy += "+follow"
		if err := followLookups(c, r, snaps, sel, add); err != nil {
			return err
		}
	}
	res := eraseOutput{DryRun: c.Bool("dry-run"), Records: sel}
	total := 0
	objs := make([]string, 0, len(sel))
	for o, l := range sel {
		sort.Strings(l)
		objs = append(objs, o)
		total += len(l)
	}
	sort.Strings(objs)
	if !c.Bool("json") {
		for _, o := range objs {
			out(c, "%s: %d records: %s\n", o, len(sel[o]), strings.Join(sel[o], " "))
		}
	}
	if res.DryRun {
		if !c.Bool("json") {
			out(c, "dry run: %d records would be erased from %d snapshots' trees; nothing was changed\n", total, len(snaps))
			return nil
		}
		return printJSON(c, res)
	}
	er, err := r.EraseRecords(ctx, sel, selectedBy, progress(c))
	endProgress(c)
	if err != nil {
		return err
	}
	res.Snapshots, res.RefsMoved, res.Audit = er.Detail.Replaced, er.RefsMoved, er.AuditEntry
	if !c.Bool("json") {
		out(c, "rewrote %d snapshots without %d records", len(er.Detail.Replaced), er.Detail.Records)
		if len(er.RefsMoved) > 0 {
			out(c, " (refs moved: %s)", strings.Join(er.RefsMoved, ", "))
		}
		out(c, "\naudit log entry: %s\n", er.AuditEntry)
	}
	if res.Prune, err = pruneAndReport(c, r); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, res)
	}
	return nil
}

// selectWhere adds the records of object matching the filter in any
// snapshot (a record may be only in old ones). The filter is bound to the
// newest stored describe of the object.
func selectWhere(c *cli.Context, r *repo.Repository, snaps []*repo.Snapshot, object, where string, add func(obj, id string) bool) error {
	ctx := background(c)
	var bound *filter.Matcher
	for i := len(snaps) - 1; i >= 0 && bound == nil; i-- {
		if _, err := r.Object(ctx, snaps[i], object); err != nil {
			continue
		}
		m, err := bindWhere(c, r, snaps[i], object, where)
		if err != nil {
			return err
		}
		bound = m
	}
	if bound == nil {
		return usagef("--object %s: no snapshot holds it", object)
	}
	seen := map[string]bool{}
	for _, s := range snaps {
		o, err := r.Object(ctx, s, object)
		if err != nil {
			continue
		}
		if key := o.TreeKey(); seen[key] {
			continue // the same records as a snapshot already read
		} else {
			seen[key] = true
		}
		err = r.EachRecord(ctx, s, object, "", func(id string, rec record.Record) error {
			if bound.Match(id, rec) {
				add(object, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// followLookups adds, until nothing changes, every record in any snapshot
// one of whose lookup fields (reference fields of the stored describe:
// WhoId, WhatId, ContactId, LinkedEntityId, custom lookups, …) holds a
// selected Id.
func followLookups(c *cli.Context, r *repo.Repository, snaps []*repo.Snapshot, sel repo.EraseSelection, add func(obj, id string) bool) error {
	ctx := background(c)
	selected := map[string]bool{}
	for _, ids := range sel {
		for _, id := range ids {
			selected[id] = true
		}
	}
	refFields := map[string][]string{} // schema blob → reference field names
	for grew := true; grew; {
		grew = false
		seen := map[string]bool{}
		for _, s := range snaps {
			objs, err := r.Objects(ctx, s)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.Schema.IsZero() || o.Records == 0 || seen[o.TreeKey()] {
					continue
				}
				seen[o.TreeKey()] = true
				fields, ok := refFields[o.Schema.String()]
				if !ok {
					doc, err := r.LoadBlob(ctx, o.Schema)
					if err != nil {
						return err
					}
					d, err := parseDescribe(doc)
					if err != nil {
						return err
					}
					for _, f := range d.Fields {
						if f.Type == "reference" || len(f.ReferenceTo) > 0 {
							fields = append(fields, f.Name)
						}
					}
					refFields[o.Schema.String()] = fields
				}
				if len(fields) == 0 {
					continue
				}
				err = r.EachRecord(ctx, s, o.Name, "", func(id string, rec record.Record) error {
					if selected[id] {
						return nil
					}
					for _, f := range rec {
						if f.Kind == record.String && selected[f.Value] && contains(fields, f.Name) {
							selected[id] = true
							if add(o.Name, id) {
								grew = true
							}
							return nil
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// removalRecord is the retention code's hook for push: what this
// repository removed on purpose (forget, prune, erase), so that push
// removes it from the remote too. An unreadable audit log stops the push:
// mirroring nothing would leave erased data on the remote unnoticed.
func removalRecord(c *cli.Context, r *repo.Repository) (remote.RemovalRecord, error) {
	return r.RemovalLog(background(c))
}
