package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/export"
)

func newExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a snapshot's records out as CSV (Data Loader) or sObject Tree JSON (sf data import tree)",
		ArgsUsage: "[REV] (default latest)",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "object", Aliases: []string{"o"}, Usage: "export `OBJECT` (repeatable; default: every object)"},
			&cli.StringFlag{Name: "where", Aliases: []string{"w"}, Usage: "only records matching the filter (see `orgsnap find`)"},
			&cli.StringSliceFlag{Name: "fields", Aliases: []string{"f"}, Usage: "only these `FIELDS` (comma-separated or repeated; Id is always written)"},
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "`csv` (one OBJECT.csv each) or tree (plan.json and OBJECT-N.json for `sf data import tree --plan`)"},
			&cli.StringFlag{Name: "to", Aliases: []string{"d"}, Usage: "write into `DIR` (created if missing); default: one object to standard output"},
			&cli.BoolFlag{Name: "no-files", Usage: "leave file bodies (ContentVersion, Attachment, Document) out"},
		},
		Action: runExport,
	}
}

func runExport(c *cli.Context) error {
	format, err := export.ParseFormat(c.String("format"))
	if err != nil {
		return usagef("%v", err)
	}
	where, err := parseWhere(c)
	if err != nil {
		return err
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := revArg(c, r)
	if err != nil {
		return err
	}
	results, err := export.Run(background(c), r, s, export.Options{
		Objects: splitList(c.StringSlice("object")),
		Where:   where,
		Fields:  splitList(c.StringSlice("fields")),
		Format:  format,
		Dir:     c.String("to"),
		Stdout:  c.App.Writer,
		NoFiles: c.Bool("no-files"),
	})
	if err != nil {
		return err
	}
	if c.String("to") == "" {
		return nil // standard output holds the data
	}
	if c.Bool("json") {
		return printJSON(c, struct {
			Snapshot string          `json:"snapshot"`
			Dir      string          `json:"dir"`
			Objects  []export.Result `json:"objects"`
		}{s.ID.String(), c.String("to"), results})
	}
	records, files, dropped := 0, 0, 0
	for _, res := range results {
		line := fmt.Sprintf("%-24s %8d records", res.Object, res.Records)
		if res.Files > 0 {
			line += fmt.Sprintf(", %d files", res.Files)
		}
		if res.DroppedRefs > 0 {
			line += fmt.Sprintf(", %d references to records not exported left out", res.DroppedRefs)
		}
		out(c, "%s\n", line)
		records += res.Records
		files += res.Files
		dropped += res.DroppedRefs
	}
	out(c, "exported %d records and %d files of snapshot %s to %s\n", records, files, s.ID.Short(), c.String("to"))
	if format == export.FormatTree {
		out(c, "import with: sf data import tree --plan %s/plan.json --target-org ALIAS\n", c.String("to"))
	}
	return nil
}
