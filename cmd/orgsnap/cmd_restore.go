package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/export"
	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/restore"
)

func newRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "put records of a snapshot back into an org: deleted hierarchies, chosen fields, a bad load rolled back",
		ArgsUsage: "REV",
		Description: "Restores records of snapshot REV into the org of an org profile. Records in the Recycle Bin\n" +
			"are undeleted (Ids kept); records gone for good are inserted and every lookup that pointed to\n" +
			"them is re-pointed to the new Id; live records get only the fields that differ. --dry-run\n" +
			"prints the plan and writes nothing. An interrupted restore resumes when run again, without\n" +
			"inserting anything twice.\n\n" +
			"Roll back a bad data load: `orgsnap restore A --changed-since A --until B --fields Contact.Email`\n" +
			"restores, from A, the fields that changed between snapshots A and B, except where the org\n" +
			"changed them again after B.\n\n" +
			"To restore by hand: --to-dir DIR writes the same selection as DIR/csv/OBJECT.csv and\n" +
			"DIR/tree/plan.json (`sf data import tree --plan DIR/tree/plan.json`), without any org.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "org", Aliases: []string{"o", "target-org"}, Usage: "org profile `NAME` to restore into (default: the only one); another org than the snapshot's is matched by external Id"},
			&cli.StringFlag{Name: "object", Usage: "restore records of `OBJECT` (with --id, --ids-file or --where; alone: all its records)"},
			&cli.StringSliceFlag{Name: "id", Usage: "record `ID` to restore (repeatable, or comma-separated)"},
			&cli.StringFlag{Name: "ids-file", Usage: "read record Ids from `FILE`, one a line"},
			&cli.StringFlag{Name: "where", Usage: "restore the object's records matching `FILTER` (the find language, e.g. \"Industry = 'Banking'\")"},
			&cli.StringFlag{Name: "changed-since", Usage: "restore what changed since snapshot `REV` (with --until: up to that snapshot; default: the newest)"},
			&cli.StringFlag{Name: "until", Usage: "end of the --changed-since window: snapshot `REV`"},
			&cli.StringSliceFlag{Name: "fields", Usage: "write only these fields: `FIELD` or Object.Field (repeatable, comma-separated)"},
			&cli.BoolFlag{Name: "with-children", Usage: "also restore the records that referred to the selected ones"},
			&cli.IntFlag{Name: "depth", Value: 1, Usage: "levels of children for --with-children"},
			&cli.BoolFlag{Name: "no-parents", Usage: "do not restore missing parents that selected records refer to"},
			&cli.StringSliceFlag{Name: "match-fields", Usage: "`OBJECT:FIELD[+FIELD]` identifying records in another org (default: an external-Id field)"},
			&cli.StringFlag{Name: "fallback-owner", Usage: "owner `USER` (Id or username) for records whose owner the target lacks"},
			&cli.StringSliceFlag{Name: "mask", Usage: "mask `FIELD` or Object.Field values (sandbox seeding; repeatable)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and write nothing"},
			&cli.IntFlag{Name: "bulk-threshold", Value: 2000, Usage: "use Bulk API 2.0 for an object with more than `N` inserts or updates"},
			&cli.Float64Flag{Name: "budget", Value: 90, Usage: "stop cleanly (resumable) when the org's daily API use passes `PERCENT`"},
			&cli.BoolFlag{Name: "allow-duplicates", Usage: "save records that duplicate rules would block"},
			&cli.StringFlag{Name: "results", Usage: "write per-record results as CSV to `FILE`"},
			&cli.BoolFlag{Name: "no-files", Usage: "restore file records without their bodies"},
			&cli.BoolFlag{Name: "fresh", Usage: "forget the journal of an earlier run of this restore (records it inserted may be inserted again)"},
			&cli.StringFlag{Name: "to-dir", Usage: "write the restore set into `DIR` as CSV (Data Loader) and sObject Tree JSON (sf data import tree) instead of restoring; reads no org"},
		},
		Action: restoreAction,
	}
}

// restoreFailedError: the restore ran but records failed (exit 6).
type restoreFailedError struct{ err error }

func (e restoreFailedError) Error() string { return e.err.Error() }
func (e restoreFailedError) Unwrap() error { return e.err }

func restoreAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("restore takes one snapshot (REV), e.g. `orgsnap restore latest --object Account --id 001…`")
	}
	ctx := background(c)
	// Not read-only: records are read through the index, and the journal
	// is written to the repository.
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	opts, err := restoreOptions(c, r)
	if err != nil {
		return err
	}
	if dir := c.String("to-dir"); dir != "" {
		return restoreToDir(c, r, opts, dir)
	}
	profile, err := chooseProfile(c, r)
	if err != nil {
		return err
	}
	client, err := profile.Client(ctx, backup.ClientOptions{Repository: r, ClientName: "orgsnap"})
	if err != nil {
		return err
	}
	tok, err := client.Token(ctx)
	if err != nil {
		return err
	}
	opts.TargetOrg = tok.OrgID()
	opts.CrossOrg = opts.Snapshot.Org != "" && opts.TargetOrg != "" && !sameOrg(opts.Snapshot.Org, opts.TargetOrg)
	opts.Interrupt = interrupted
	opts.Progress = progress(c)
	rep, err := restore.Run(ctx, r, client, opts)
	endProgress(c)
	if rep != nil {
		if path := c.String("results"); path != "" && !opts.DryRun {
			if werr := writeResults(path, rep); werr != nil {
				return werr
			}
		}
		if c.Bool("json") {
			if jerr := printJSON(c, rep); jerr != nil {
				return jerr
			}
		} else {
			rep.Plan.WriteText(c.App.Writer)
			if !opts.DryRun {
				fmt.Fprintln(c.App.Writer)
				rep.WriteSummary(c.App.Writer)
			}
		}
	}
	switch {
	case errors.Is(err, restore.ErrRecordsFailed):
		return restoreFailedError{err}
	case errors.Is(err, restore.ErrStopped):
		return stoppedError{fmt.Errorf("%w; run the same command again to resume", err)}
	case errors.Is(err, restore.ErrBadSelection), errors.Is(err, restore.ErrNothingSelected):
		return usagef("%v", err)
	}
	return err
}

// restoreToDir writes the restore set as files (restore --to-dir).
func restoreToDir(c *cli.Context, r *repo.Repository, opts restore.Options, dir string) error {
	rep, err := restore.ToDir(background(c), r, opts, dir)
	if errors.Is(err, restore.ErrBadSelection) || errors.Is(err, restore.ErrNothingSelected) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, struct {
			Snapshot string `json:"snapshot"`
			*restore.DirReport
		}{opts.Snapshot.ID.String(), rep})
	}
	dropped := map[string]int{}
	for _, res := range rep.Tree {
		dropped[res.Object] = res.DroppedRefs
	}
	total, files := 0, 0
	for _, res := range rep.CSV {
		line := fmt.Sprintf("%-24s %8d records", res.Object, res.Records)
		if res.Files > 0 {
			line += fmt.Sprintf(", %d files", res.Files)
		}
		if n := dropped[res.Object]; n > 0 {
			line += fmt.Sprintf(", %d references outside the set left out of the tree files", n)
		}
		out(c, "%s\n", line)
		total += res.Records
		files += res.Files
	}
	out(c, "wrote the restore set of snapshot %s (%d records, %d files) to %s; no org was read or written\n", opts.Snapshot.ID.Short(), total, files, dir)
	out(c, "Data Loader: %s (insert, or update by Id)\n", filepath.Join(dir, "csv", "OBJECT.csv"))
	out(c, "sf CLI:      sf data import tree --plan %s --target-org ALIAS\n", filepath.Join(dir, "tree", "plan.json"))
	return nil
}

func sameOrg(a, b string) bool {
	n := min(len(a), len(b), 15)
	return strings.EqualFold(a[:n], b[:n])
}

func writeResults(path string, rep *restore.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := restore.WriteResultsCSV(f, rep.Results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func restoreOptions(c *cli.Context, r *repo.Repository) (restore.Options, error) {
	ctx := background(c)
	var opts restore.Options
	snap, err := r.FindSnapshot(ctx, c.Args().First())
	if err != nil {
		return opts, err
	}
	opts.Snapshot = snap
	ids, err := idsFromFlags(c)
	if err != nil {
		return opts, err
	}
	obj, where := c.String("object"), c.String("where")
	switch {
	case obj != "":
		t := restore.Target{Object: obj, IDs: ids, Where: where}
		if where != "" {
			m, err := bindWhere(c, r, snap, obj, where)
			if err != nil {
				return opts, err
			}
			t.Match = m.Match
		}
		opts.Targets = append(opts.Targets, t)
	case len(ids) > 0 || where != "":
		if where != "" {
			return opts, usagef("--where needs --object")
		}
		// Ids alone: the object comes from each Id's key prefix, read from
		// the snapshot's describes.
		byObj, err := objectsOfIDs(c, r, snap, ids)
		if err != nil {
			return opts, err
		}
		for _, o := range sortedNames(byObj) {
			opts.Targets = append(opts.Targets, restore.Target{Object: o, IDs: byObj[o]})
		}
	}
	if rev := c.String("changed-since"); rev != "" {
		if opts.ChangedSince, err = r.FindSnapshot(ctx, rev); err != nil {
			return opts, err
		}
	}
	if rev := c.String("until"); rev != "" {
		if opts.ChangedSince == nil {
			return opts, usagef("--until ends a --changed-since window; give --changed-since too")
		}
		if opts.Until, err = r.FindSnapshot(ctx, rev); err != nil {
			return opts, err
		}
	}
	if len(opts.Targets) == 0 && opts.ChangedSince == nil {
		return opts, usagef("say what to restore: --object (with --id, --ids-file or --where), --id, or --changed-since")
	}
	opts.Fields = c.StringSlice("fields")
	opts.WithChildren, opts.Depth, opts.NoParents = c.Bool("with-children"), c.Int("depth"), c.Bool("no-parents")
	if c.IsSet("match-fields") {
		opts.MatchFields = map[string][]string{}
		for _, m := range c.StringSlice("match-fields") {
			o, fs, ok := strings.Cut(m, ":")
			if !ok || fs == "" {
				return opts, usagef("--match-fields %q: write OBJECT:FIELD or OBJECT:FIELD+FIELD", m)
			}
			opts.MatchFields[o] = strings.Split(fs, "+")
		}
	}
	opts.FallbackOwner, opts.Mask = c.String("fallback-owner"), c.StringSlice("mask")
	opts.DryRun, opts.BulkThreshold, opts.BudgetPercent = c.Bool("dry-run"), c.Int("bulk-threshold"), c.Float64("budget")
	opts.AllowDuplicates, opts.NoFiles, opts.Fresh = c.Bool("allow-duplicates"), c.Bool("no-files"), c.Bool("fresh")
	return opts, nil
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// bindWhere compiles --where against the object's fields in the snapshot
// (filter.ObjectFields: every stored column, typed from the stored
// describe), as find does.
func bindWhere(c *cli.Context, r *repo.Repository, snap *repo.Snapshot, object, where string) (*filter.Matcher, error) {
	ctx := background(c)
	expr, err := filter.Parse(where)
	if err != nil {
		return nil, usagef("--where: %v", err)
	}
	names, err := export.ResolveObjects(ctx, r, snap, []string{object})
	if err != nil {
		return nil, usagef("--object: %v", err)
	}
	fields, err := filter.ObjectFields(ctx, r, snap, names[0])
	if err != nil {
		return nil, err
	}
	m, err := expr.Bind(fields)
	if err != nil {
		return nil, usagef("--where: %v", err)
	}
	return m, nil
}

// objectsOfIDs groups Ids by the object their key prefix names in the
// snapshot's stored describes.
func objectsOfIDs(c *cli.Context, r *repo.Repository, snap *repo.Snapshot, ids []string) (map[string][]string, error) {
	ctx := background(c)
	objs, err := r.Objects(ctx, snap)
	if err != nil {
		return nil, err
	}
	prefixes := map[string]string{}
	for _, o := range objs {
		if o.Schema.IsZero() {
			continue
		}
		doc, err := r.LoadBlob(ctx, o.Schema)
		if err != nil {
			return nil, err
		}
		d, err := parseDescribe(doc)
		if err != nil {
			return nil, err
		}
		if d.KeyPrefix != "" {
			prefixes[d.KeyPrefix] = o.Name
		}
	}
	out := map[string][]string{}
	for _, id := range ids {
		if len(id) < 3 || prefixes[id[:3]] == "" {
			return nil, usagef("%q: no object of snapshot %s has this Id's key prefix; give --object", id, snap.ID.Short())
		}
		out[prefixes[id[:3]]] = append(out[prefixes[id[:3]]], id)
	}
	return out, nil
}

func sortedNames(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
