package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/export"
	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

func newFindCommand() *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "records of a snapshot that match a filter",
		ArgsUsage: "[REV] (default latest)",
		Description: `WHERE is SOQL's WHERE clause: =, !=, <, <=, >, >=, LIKE, IN, NOT IN,
INCLUDES, EXCLUDES, AND, OR, NOT, parentheses, null, 'quoted text', numbers,
true/false, dates (2024-01-31) and datetimes (2024-01-31T09:00:00Z).
See "The filter language" in the user guide.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "object", Aliases: []string{"o"}, Usage: "search `OBJECT` (repeatable; default: every object that has the filter's fields)"},
			&cli.StringFlag{Name: "where", Aliases: []string{"w"}, Usage: "the filter, e.g. \"Email = 'a@b.com'\" (default: every record)"},
			&cli.StringSliceFlag{Name: "fields", Aliases: []string{"f"}, Usage: "print only these `FIELDS` (comma-separated or repeated; Id is always printed)"},
			&cli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "stop after `N` matches (0: no limit)"},
			&cli.BoolFlag{Name: "csv", Usage: "print CSV (one object only)"},
		},
		Action: runFind,
	}
}

// parseWhere parses --where ("" gives nil: every record).
func parseWhere(c *cli.Context) (*filter.Expr, error) {
	w := c.String("where")
	if strings.TrimSpace(w) == "" {
		return nil, nil
	}
	return filter.Parse(w)
}

// revArg resolves the optional REV argument (default latest).
func revArg(c *cli.Context, r *repo.Repository) (*repo.Snapshot, error) {
	if c.NArg() > 1 {
		return nil, usagef("%s takes at most one revision, got %q", c.Command.Name, c.Args().Slice())
	}
	rev := repo.LatestRev
	if c.NArg() == 1 {
		rev = c.Args().First()
	}
	return r.ResolveRevision(background(c), rev)
}

func runFind(c *cli.Context) error {
	where, err := parseWhere(c)
	if err != nil {
		return err
	}
	fields := splitList(c.StringSlice("fields"))
	if c.Bool("csv") && c.Bool("json") {
		return usagef("find: choose --csv or --json, not both")
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	ctx := background(c)
	s, err := revArg(c, r)
	if err != nil {
		return err
	}
	explicit := len(c.StringSlice("object")) > 0
	objects, err := export.ResolveObjects(ctx, r, s, splitList(c.StringSlice("object")))
	if err != nil {
		return err
	}
	if c.Bool("csv") && len(objects) != 1 {
		return usagef("find --csv prints one object; name it with --object (the snapshot has %d)", len(objects))
	}

	// Bind the filter to each object. Searching every object, those that
	// lack a field the filter names are skipped; if all lack one, that is
	// the error.
	type target struct {
		name   string
		m      *filter.Matcher
		fields []string
	}
	var targets []target
	var firstUnknown error
	for _, name := range objects {
		t := target{name: name, m: filter.MatchAll()}
		known, err := filter.ObjectFields(ctx, r, s, name)
		if err != nil {
			return err
		}
		if where != nil {
			if t.m, err = where.Bind(known); err != nil {
				if !explicit && errors.Is(err, filter.ErrUnknownField) {
					if firstUnknown == nil {
						firstUnknown = fmt.Errorf("%s: %w", name, err)
					}
					continue
				}
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if t.fields, err = pickFields(known, fields); err != nil {
			if !explicit {
				continue
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		if firstUnknown != nil {
			return fmt.Errorf("no object of snapshot %s has every field the filter names; %w", s.ID.Short(), firstUnknown)
		}
		return usagef("no object of snapshot %s has the fields %s", s.ID.Short(), strings.Join(fields, ", "))
	}

	w := bufio.NewWriterSize(c.App.Writer, 64<<10)
	defer w.Flush()
	limit := c.Int("limit")
	matched, searched := 0, 0
	var csvw *export.CSV
	if c.Bool("csv") {
		header := targets[0].fields
		if header == nil {
			if header, err = r.FieldNames(ctx, s, targets[0].name); err != nil {
				return err
			}
		}
		if csvw, err = export.NewCSV(w, header); err != nil {
			return err
		}
	}
	stop := errors.New("limit reached")
	var buf []byte
	var sel record.Record
	for _, t := range targets {
		err := r.EachRecord(ctx, s, t.name, "", func(id string, rec record.Record) error {
			searched++
			if !t.m.Match(id, rec) {
				return nil
			}
			matched++
			sel = selectFields(sel[:0], rec, t.fields, fields != nil)
			switch {
			case csvw != nil:
				err = csvw.Write(id, rec)
			case c.Bool("json"):
				buf = append(buf[:0], `{"object":`...)
				buf = record.AppendJSONString(buf, t.name)
				buf = append(buf, `,"id":`...)
				buf = record.AppendJSONString(buf, id)
				buf = append(buf, `,"fields":`...)
				if buf, err = sel.AppendJSON(buf); err == nil {
					buf = append(buf, "}\n"...)
					_, err = w.Write(buf)
				}
			default:
				err = writeRecordText(w, t.name, id, sel)
			}
			if err != nil {
				return err
			}
			if limit > 0 && matched >= limit {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if csvw != nil {
		return csvw.Flush()
	}
	if !c.Bool("json") {
		names := make([]string, len(targets))
		for i, t := range targets {
			names[i] = t.name
		}
		fmt.Fprintf(w, "%d of %d records matched in snapshot %s (%s)\n", matched, searched, s.ID.Short(), strings.Join(names, ", "))
	}
	return w.Flush()
}

// pickFields resolves --fields against an object's fields
// (case-insensitively); nil when none were asked for (all fields), empty
// when only Id was (it is always printed).
func pickFields(known filter.Fields, asked []string) ([]string, error) {
	if len(asked) == 0 {
		return nil, nil
	}
	out := []string{}
	for _, a := range asked {
		name, err := known.Resolve(a)
		var fe *filter.Error
		if errors.As(err, &fe) {
			return nil, usagef("--fields: %s", fe.Msg)
		} else if err != nil {
			return nil, err
		}
		if name != "Id" {
			out = append(out, name)
		}
	}
	return out, nil
}

// selectFields keeps the chosen fields of rec, in the order chosen (all of
// rec when !chosen).
func selectFields(dst record.Record, rec record.Record, fields []string, chosen bool) record.Record {
	if !chosen {
		return rec
	}
	for _, f := range fields {
		if v, ok := rec.Get(f); ok {
			dst = append(dst, v)
		} else {
			dst = append(dst, record.Field{Name: f, Kind: record.Null})
		}
	}
	return dst
}

// writeRecordText prints one record: a heading line, then a field per
// line, names aligned, nulls as "null".
func writeRecordText(w *bufio.Writer, object, id string, rec record.Record) error {
	width := 0
	for _, f := range rec {
		width = max(width, len(f.Name))
	}
	fmt.Fprintf(w, "%s %s\n", object, id)
	for _, f := range rec {
		v := f.Value
		switch {
		case f.Kind == record.Null:
			v = "null"
		case f.Kind == record.String && strings.ContainsAny(v, "\r\n\t"):
			v = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(v)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, f.Name, v)
	}
	_, err := w.WriteString("\n")
	return err
}
