package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

func newDiffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "what changed between two snapshots, down to the field",
		ArgsUsage: "[REV [REV] | A..B]\n\n" +
			"   no revision: latest against its parent; one: REV against latest; two or A..B: A against B",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stat", Usage: "only added/changed/deleted counts per object"},
			&cli.StringSliceFlag{Name: "object", Usage: "only `OBJECT` (repeatable)"},
			&cli.StringSliceFlag{Name: "field", Usage: "only changes of `FIELD` (repeatable): records where it differs, and its schema"},
			&cli.StringFlag{Name: "only", Usage: "only `KIND` of changes: added, changed or deleted"},
			&cli.BoolFlag{Name: "csv", Usage: "CSV, one row per changed field: object,what,id,kind,field,old,new"},
			&cli.StringFlag{Name: "color", Value: "auto", Usage: "colour `WHEN`: auto (on a terminal), always, never"},
		},
		Action: runDiff,
	}
}

// diffOptions say what a diff prints and how.
type diffOptions struct {
	Format string          // "text", "json" (one change per line), "csv", "stat"
	Only   repo.ChangeKind // 0: every kind
	Fields map[string]bool // nil: every field
	Color  bool
	JSON   bool // with Format "stat": the counts as one JSON object
}

func runDiff(c *cli.Context) error {
	o := diffOptions{Format: "text"}
	switch {
	case c.Bool("stat"):
		o.Format, o.JSON = "stat", c.Bool("json")
	case c.Bool("csv"):
		o.Format = "csv"
	case c.Bool("json"):
		o.Format = "json"
	}
	switch c.String("only") {
	case "":
	case "added":
		o.Only = repo.Added
	case "changed":
		o.Only = repo.Changed
	case "deleted":
		o.Only = repo.Deleted
	default:
		return usagef("--only %q: use added, changed or deleted", c.String("only"))
	}
	if fs := c.StringSlice("field"); len(fs) > 0 {
		o.Fields = map[string]bool{}
		for _, f := range fs {
			o.Fields[f] = true
		}
	}
	switch c.String("color") {
	case "always":
		o.Color = true
	case "never":
	case "auto":
		o.Color = c.App.Writer == os.Stdout && term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "" && o.Format == "text"
	default:
		return usagef("--color %q: use auto, always or never", c.String("color"))
	}
	if c.NArg() > 2 {
		return usagef("diff takes at most two revisions (see `orgsnap diff --help`)")
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	ctx := background(c)
	a, b, err := diffPair(ctx, r, c.Args().Slice())
	if err != nil {
		return err
	}
	return writeDiff(ctx, r, a, b, c.StringSlice("object"), o, c.App.Writer)
}

// diffPair resolves diff's arguments to the two snapshots to compare (a
// may be nil: the first snapshot of a lineage is compared with nothing).
func diffPair(ctx context.Context, r *repo.Repository, args []string) (a, b *repo.Snapshot, err error) {
	switch {
	case len(args) == 2:
		if a, err = r.ResolveRevision(ctx, args[0]); err == nil {
			b, err = r.ResolveRevision(ctx, args[1])
		}
		return a, b, err
	case len(args) == 1:
		if _, _, isRange := repo.SplitRange(args[0]); isRange {
			return r.ResolveRange(ctx, args[0])
		}
		if a, err = r.ResolveRevision(ctx, args[0]); err == nil {
			b, err = r.ResolveRevision(ctx, repo.LatestRev)
		}
		return a, b, err
	}
	if b, err = r.ResolveRevision(ctx, repo.LatestRev); err != nil {
		return nil, nil, err
	}
	if b.Parent != nil {
		if a, err = r.LoadSnapshot(ctx, *b.Parent); err != nil {
			return nil, nil, fmt.Errorf("parent of %s: %w", b.ID.Short(), err)
		}
	}
	return a, b, nil
}

// writeDiff streams the diff of a and b (only the given objects when
// objects is not empty) to w: changes are formatted as they come, never
// collected.
func writeDiff(ctx context.Context, r *repo.Repository, a, b *repo.Snapshot, objects []string, o diffOptions, w io.Writer) error {
	p := newDiffPrinter(w, o)
	p.header(a, b)
	var err error
	if len(objects) == 0 {
		err = r.Diff(ctx, a, b, p.change)
	} else {
		objects = slices.Clone(objects)
		sort.Strings(objects)
		for _, name := range slices.Compact(objects) {
			if err = r.DiffObject(ctx, a, b, name, p.change); err != nil {
				break
			}
		}
	}
	if err != nil {
		p.bw.Flush()
		return err
	}
	return p.finish()
}

// diffPrinter formats changes one at a time.
type diffPrinter struct {
	o    diffOptions
	bw   *bufio.Writer
	csv  *csv.Writer
	cur  string // the object whose header was printed last
	line []byte // scratch for --json lines

	stats map[string]*diffStat // --stat
}

type diffStat struct{ added, changed, deleted, schema, files int }

func newDiffPrinter(w io.Writer, o diffOptions) *diffPrinter {
	p := &diffPrinter{o: o, bw: bufio.NewWriterSize(w, 64<<10)}
	switch o.Format {
	case "csv":
		p.csv = csv.NewWriter(p.bw)
		p.csv.Write([]string{"object", "what", "id", "kind", "field", "old", "new"})
	case "stat":
		p.stats = map[string]*diffStat{}
	}
	return p
}

const (
	colRed    = "\x1b[31m"
	colGreen  = "\x1b[32m"
	colYellow = "\x1b[33m"
	colCyan   = "\x1b[36m"
	colBold   = "\x1b[1m"
	colReset  = "\x1b[m"
)

func (p *diffPrinter) color(code, s string) string {
	if !p.o.Color {
		return s
	}
	return code + s + colReset
}

func (p *diffPrinter) kindColor(k repo.ChangeKind) string {
	return map[repo.ChangeKind]string{repo.Added: colGreen, repo.Changed: colYellow, repo.Deleted: colRed}[k]
}

var kindSign = map[repo.ChangeKind]string{repo.Added: "+", repo.Changed: "~", repo.Deleted: "-"}

func (p *diffPrinter) header(a, b *repo.Snapshot) {
	if p.o.Format != "text" {
		return
	}
	from := "(nothing)"
	if a != nil {
		from = a.ID.Short()
	}
	fmt.Fprintf(p.bw, "%s\n", p.color(colBold, fmt.Sprintf("diff %s..%s", from, b.ID.Short())))
}

func (p *diffPrinter) objectHeader(name string) {
	if p.cur == name {
		return
	}
	p.cur = name
	fmt.Fprintf(p.bw, "%s\n", p.color(colCyan, "=== "+name))
}

func (p *diffPrinter) change(c repo.Change) error {
	switch c.What {
	case "schema":
		return p.schema(c)
	case "file":
		if p.o.Fields != nil || (p.o.Only != 0 && p.o.Only != c.Kind) {
			return nil
		}
		return p.file(c)
	}
	if p.o.Only != 0 && p.o.Only != c.Kind {
		return nil
	}
	var fields []fieldChange
	if c.Kind == repo.Changed || p.o.Fields != nil {
		fields = fieldChanges(c.Old, c.New)
		if p.o.Fields != nil {
			fields = slices.DeleteFunc(fields, func(f fieldChange) bool { return !p.o.Fields[f.Name] })
			if len(fields) == 0 {
				return nil
			}
		}
	}
	switch p.o.Format {
	case "stat":
		st := p.stat(c.Object)
		switch c.Kind {
		case repo.Added:
			st.added++
		case repo.Changed:
			st.changed++
		default:
			st.deleted++
		}
		return nil
	case "json":
		j := jsonChange{Object: c.Object, What: "record", ID: c.ID, Kind: c.Kind.String()}
		switch {
		case p.o.Fields == nil && c.Kind == repo.Added:
			j.New = c.New
		case p.o.Fields == nil && c.Kind == repo.Deleted:
			j.Old = c.Old
		default:
			j.Fields = make([]jsonField, len(fields))
			for i, f := range fields {
				j.Fields[i] = jsonField{f.Name, jsonValue(f.Old), jsonValue(f.New)}
			}
		}
		return p.jsonLine(j)
	case "csv":
		if fields == nil {
			return p.csv.Write([]string{c.Object, "record", c.ID, c.Kind.String(), "", "", ""})
		}
		for _, f := range fields {
			if err := p.csv.Write([]string{c.Object, "record", c.ID, c.Kind.String(), f.Name, csvValue(f.Old), csvValue(f.New)}); err != nil {
				return err
			}
		}
		return nil
	}
	p.objectHeader(c.Object)
	rec := c.New
	if rec == nil {
		rec = c.Old
	}
	line := kindSign[c.Kind] + " " + c.ID
	if l := recordLabel(rec); l != "" {
		line += " " + l
	}
	fmt.Fprintf(p.bw, "%s\n", p.color(p.kindColor(c.Kind), line))
	for _, f := range fields {
		fmt.Fprintf(p.bw, "    %s: %s → %s\n", f.Name, p.color(colRed, showValue(f.Old)), p.color(colGreen, showValue(f.New)))
	}
	return nil
}

func (p *diffPrinter) stat(object string) *diffStat {
	st := p.stats[object]
	if st == nil {
		st = &diffStat{}
		p.stats[object] = st
	}
	return st
}

// schema prints a schema change field by field (fields added, removed,
// retyped); an object that appears or disappears is one line.
func (p *diffPrinter) schema(c repo.Change) error {
	var changes []schemaChange
	other := false
	if c.Kind == repo.Changed {
		var err error
		if changes, other, err = schemaChanges(c.OldSchema, c.NewSchema); err != nil {
			return fmt.Errorf("object %s: %w", c.Object, err)
		}
		changes = slices.DeleteFunc(changes, func(s schemaChange) bool {
			return (p.o.Fields != nil && !p.o.Fields[s.Field]) || (p.o.Only != 0 && p.o.Only.String() != s.Kind)
		})
		if len(changes) == 0 && (!other || p.o.Fields != nil || (p.o.Only != 0 && p.o.Only != repo.Changed)) {
			return nil
		}
	} else if p.o.Fields != nil || (p.o.Only != 0 && p.o.Only != c.Kind) {
		return nil
	}
	switch p.o.Format {
	case "stat":
		p.stat(c.Object).schema += max(1, len(changes))
		return nil
	case "json":
		if len(changes) == 0 {
			return p.jsonLine(jsonChange{Object: c.Object, What: "schema", Kind: c.Kind.String()})
		}
		for _, s := range changes {
			if err := p.jsonLine(jsonChange{Object: c.Object, What: "field", Field: s.Field, Kind: s.Kind, OldType: s.Old, NewType: s.New}); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		if len(changes) == 0 {
			return p.csv.Write([]string{c.Object, "schema", "", c.Kind.String(), "", "", ""})
		}
		for _, s := range changes {
			if err := p.csv.Write([]string{c.Object, "field", "", s.Kind, s.Field, s.Old, s.New}); err != nil {
				return err
			}
		}
		return nil
	}
	p.objectHeader(c.Object)
	switch {
	case c.Kind == repo.Added:
		fmt.Fprintf(p.bw, "%s\n", p.color(colGreen, "schema + (the object is new)"))
	case c.Kind == repo.Deleted:
		fmt.Fprintf(p.bw, "%s\n", p.color(colRed, "schema - (the object is gone)"))
	case len(changes) == 0:
		fmt.Fprintf(p.bw, "%s\n", p.color(colYellow, "schema ~ (describe changed, no field added, removed or retyped)"))
	}
	for _, s := range changes {
		switch s.Kind {
		case "added":
			fmt.Fprintf(p.bw, "%s\n", p.color(colGreen, "schema + field "+s.Field+" "+s.New))
		case "deleted":
			fmt.Fprintf(p.bw, "%s\n", p.color(colRed, "schema - field "+s.Field+" "+s.Old))
		default:
			fmt.Fprintf(p.bw, "%s\n", p.color(colYellow, "schema ~ field "+s.Field+" "+s.Old+" → "+s.New))
		}
	}
	return nil
}

func (p *diffPrinter) file(c repo.Change) error {
	var oldF, newF string
	if !c.OldFile.IsZero() {
		oldF = c.OldFile.String()
	}
	if !c.NewFile.IsZero() {
		newF = c.NewFile.String()
	}
	switch p.o.Format {
	case "stat":
		p.stat(c.Object).files++
		return nil
	case "json":
		return p.jsonLine(jsonChange{Object: c.Object, What: "file", ID: c.ID, Kind: c.Kind.String(), OldFile: oldF, NewFile: newF})
	case "csv":
		return p.csv.Write([]string{c.Object, "file", c.ID, c.Kind.String(), "", oldF, newF})
	}
	p.objectHeader(c.Object)
	line := "file " + kindSign[c.Kind] + " " + c.ID
	switch c.Kind {
	case repo.Added:
		line += " " + c.NewFile.Short()
	case repo.Deleted:
		line += " " + c.OldFile.Short()
	default:
		line += " " + c.OldFile.Short() + " → " + c.NewFile.Short()
	}
	fmt.Fprintf(p.bw, "%s\n", p.color(p.kindColor(c.Kind), line))
	return nil
}

// jsonChange is one line of `diff --json`. What is "record", "file",
// "field" (a field of the schema added, removed or retyped) or "schema"
// (an object's describe appeared, disappeared, or changed otherwise).
type jsonChange struct {
	Object  string        `json:"object"`
	What    string        `json:"what"`
	ID      string        `json:"id,omitempty"`
	Field   string        `json:"field,omitempty"`
	Kind    string        `json:"kind"`
	Fields  []jsonField   `json:"fields,omitempty"` // changed record: the fields that differ
	Old     record.Record `json:"old,omitempty"`    // deleted record
	New     record.Record `json:"new,omitempty"`    // added record
	OldType string        `json:"old_type,omitempty"`
	NewType string        `json:"new_type,omitempty"`
	OldFile string        `json:"old_file,omitempty"`
	NewFile string        `json:"new_file,omitempty"`
}

type jsonField struct {
	Name string          `json:"name"`
	Old  json.RawMessage `json:"old"`
	New  json.RawMessage `json:"new"`
}

func (p *diffPrinter) jsonLine(j jsonChange) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	p.bw.Write(b)
	return p.bw.WriteByte('\n')
}

func (p *diffPrinter) finish() error {
	switch p.o.Format {
	case "csv":
		p.csv.Flush()
		if err := p.csv.Error(); err != nil {
			return err
		}
	case "stat":
		p.printStats()
	}
	return p.bw.Flush()
}

func (p *diffPrinter) printStats() {
	if p.o.JSON {
		type jstat struct {
			Added   int `json:"added"`
			Changed int `json:"changed"`
			Deleted int `json:"deleted"`
			Schema  int `json:"schema"`
			Files   int `json:"files"`
		}
		m := map[string]jstat{}
		for n, s := range p.stats {
			m[n] = jstat{s.added, s.changed, s.deleted, s.schema, s.files}
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		p.bw.Write(append(b, '\n'))
		return
	}
	names := make([]string, 0, len(p.stats))
	width := len("object")
	for n := range p.stats {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var tot diffStat
	fmt.Fprintf(p.bw, "%-*s %9s %9s %9s %7s %7s\n", width, "object", "added", "changed", "deleted", "schema", "files")
	for _, n := range names {
		s := p.stats[n]
		fmt.Fprintf(p.bw, "%-*s %9d %9d %9d %7d %7d\n", width, n, s.added, s.changed, s.deleted, s.schema, s.files)
		tot.added, tot.changed, tot.deleted = tot.added+s.added, tot.changed+s.changed, tot.deleted+s.deleted
		tot.schema, tot.files = tot.schema+s.schema, tot.files+s.files
	}
	fmt.Fprintf(p.bw, "%d objects changed: +%d ~%d -%d records, %d schema changes, %d file changes\n",
		len(names), tot.added, tot.changed, tot.deleted, tot.schema, tot.files)
}
