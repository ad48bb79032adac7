package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
)

func newShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "a snapshot's summary, an object's schema and counts, or one record",
		ArgsUsage: "[REV[:OBJECT[/ID]]] (default latest)",
		Action:    runShow,
	}
}

// splitShowArg splits REV[:OBJECT[/ID]] at the first ':' outside a
// @{…} date (which may hold one).
func splitShowArg(arg string) (rev, object, id string) {
	depth := 0
	for i := 0; i < len(arg); i++ {
		switch arg[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				object, id, _ = strings.Cut(arg[i+1:], "/")
				return arg[:i], object, id
			}
		}
	}
	return arg, "", ""
}

func runShow(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef("show takes one REV[:OBJECT[/ID]] (see `orgsnap show --help`)")
	}
	rev, object, id := splitShowArg(c.Args().First())
	if rev == "" {
		rev = repo.LatestRev
	}
	if id != "" {
		var err error
		if id, err = sfapi.To18(id); err != nil {
			return usagef("%v", err)
		}
	}
	r, err := openRepo(c, object == "") // a summary needs no index
	if err != nil {
		return err
	}
	defer r.Close()
	ctx := background(c)
	s, err := r.ResolveRevision(ctx, rev)
	if err != nil {
		return err
	}
	switch {
	case object == "":
		return showSnapshot(c, r, s)
	case id == "":
		return showObject(c, r, s, object)
	}
	rec, ok, err := r.Record(ctx, s, object, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: record %s/%s is not in snapshot %s (see `orgsnap history %s`)", repo.ErrNotFound, object, id, s.ID.Short(), id)
	}
	file, hasFile, err := r.File(ctx, s, object, id)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		v := struct {
			Snapshot string          `json:"snapshot"`
			Object   string          `json:"object"`
			ID       string          `json:"id"`
			Fields   json.RawMessage `json:"fields"`
			File     string          `json:"file,omitempty"`
		}{Snapshot: s.ID.String(), Object: object, ID: id}
		if v.Fields, err = rec.MarshalJSON(); err != nil {
			return err
		}
		if hasFile {
			v.File = file.String()
		}
		return printJSON(c, v)
	}
	out(c, "%s %s in snapshot %s (%s)\n", object, id, s.ID.Short(), s.Time.UTC().Format("2006-01-02 15:04"))
	width := 0
	for _, f := range rec {
		width = max(width, len(f.Name))
	}
	for i := range rec {
		out(c, "  %-*s  %s\n", width, rec[i].Name, showValue(&rec[i]))
	}
	if hasFile {
		out(c, "  %-*s  %s\n", width, "(file)", file)
	}
	return nil
}

func showSnapshot(c *cli.Context, r *repo.Repository, s *repo.Snapshot) error {
	refs, err := r.Refs(background(c))
	if err != nil {
		return err
	}
	var names []string
	for name, id := range refs {
		if id == s.ID {
			names = append(names, name)
		}
	}
	if c.Bool("json") {
		return printJSON(c, logEntry{s.ID.String(), s, names})
	}
	printLogEntry(c, logEntry{s.ID.String(), s, names}, "")
	return nil
}

func showObject(c *cli.Context, r *repo.Repository, s *repo.Snapshot, name string) error {
	ctx := background(c)
	o, err := r.Object(ctx, s, name)
	if err != nil {
		return err
	}
	st := s.Objects[name]
	var d *sfapi.SObjectDescribe
	if !o.Schema.IsZero() {
		b, err := r.LoadBlob(ctx, o.Schema)
		if err != nil {
			return err
		}
		if d, err = parseDescribe(b); err != nil {
			return fmt.Errorf("object %s: %w", name, err)
		}
	}
	type jfield struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Label string `json:"label,omitempty"`
	}
	var fields []jfield
	if d != nil {
		for _, f := range d.Fields {
			fields = append(fields, jfield{f.Name, fieldType(f), f.Label})
		}
	}
	if c.Bool("json") {
		v := struct {
			Snapshot  string           `json:"snapshot"`
			Object    string           `json:"object"`
			KeyPrefix string           `json:"key_prefix,omitempty"`
			Stats     repo.ObjectStats `json:"stats"`
			Schema    string           `json:"schema,omitempty"`
			Fields    []jfield         `json:"fields,omitempty"`
		}{Snapshot: s.ID.String(), Object: name, Stats: st, Fields: fields}
		v.Stats.Records, v.Stats.Files = o.Records, o.Files
		if d != nil {
			v.KeyPrefix, v.Schema = d.KeyPrefix, o.Schema.String()
		}
		return printJSON(c, v)
	}
	out(c, "%s in snapshot %s (%s)\n", name, s.ID.Short(), s.Time.UTC().Format(time.RFC3339))
	out(c, "  records  %d (+%d added, ~%d changed, -%d deleted since the parent)\n", o.Records, st.Added, st.Changed, st.Deleted)
	if o.Files > 0 {
		out(c, "  files    %d\n", o.Files)
	}
	if d == nil {
		out(c, "  schema   none stored\n")
		return nil
	}
	out(c, "  prefix   %s\n  schema   %d fields (%s)\n", d.KeyPrefix, len(fields), o.Schema.Short())
	nw, tw := 0, 0
	for _, f := range fields {
		nw, tw = max(nw, len(f.Name)), max(tw, len(f.Type))
	}
	for _, f := range fields {
		out(c, "    %-*s  %-*s  %s\n", nw, f.Name, tw, f.Type, f.Label)
	}
	return nil
}
