package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orgsnap/orgsnap/filter"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Format is how records are written.
type Format int

const (
	FormatCSV  Format = iota // one <Object>.csv per object
	FormatTree               // sObject Tree JSON files and a plan for `sf data import tree`
)

// ParseFormat reads "csv" or "tree".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return FormatCSV, nil
	case "tree", "json":
		return FormatTree, nil
	}
	return 0, fmt.Errorf("export: format %q: use csv or tree", s)
}

// Options say what to export and where.
type Options struct {
	// Objects to export, by exact name (see ResolveObjects); none means
	// every object of the snapshot except internal ones ($Metadata).
	Objects []string
	// Where selects records (nil: all). It is bound to each object's fields.
	Where *filter.Expr
	// Fields to write, names matched case-insensitively; none means every
	// field the records hold. Id is always written.
	Fields []string
	Format Format
	// Dir receives the files; "" writes one object to Stdout (no file
	// bodies).
	Dir    string
	Stdout io.Writer
	// NoFiles leaves file bodies out.
	NoFiles bool
	// Select, when set, picks the records to write (after Where) and may
	// narrow them: it returns the record to write (rec, or a record with
	// some of rec's fields) and whether to write it. It must not keep rec,
	// which is reused. restore --to-dir writes its restore set with it.
	Select func(object, id string, rec record.Record) (record.Record, bool)
	// ObjectFields, when set, names an object's fields to write (exact
	// names, in order) in place of Fields; an empty list writes Id alone.
	ObjectFields map[string][]string
}

// Result is what was written for one object.
type Result struct {
	Object  string `json:"object"`
	Records int    `json:"records"`
	Files   int    `json:"files,omitempty"`
	// Path is the CSV file, or the tree files' common prefix ("" on stdout).
	Path string `json:"path,omitempty"`
	// DroppedRefs counts reference values left out of tree records because
	// the record they point to is not part of the export.
	DroppedRefs int `json:"dropped_refs,omitempty"`
}

// ErrUsage marks a request that cannot be carried out as given (unknown
// object or field, several objects to stdout…).
var ErrUsage = errors.New("export")

// ResolveObjects maps names given by a user to the snapshot's objects,
// case-insensitively; an unknown name is an error listing close matches.
// No names means all objects except internal ones (names starting with $).
func ResolveObjects(ctx context.Context, r *repo.Repository, s *repo.Snapshot, names []string) ([]string, error) {
	objs, err := r.Objects(ctx, s)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, o := range objs {
		all = append(all, o.Name)
	}
	if len(names) == 0 {
		var out []string
		for _, n := range all {
			if !strings.HasPrefix(n, "$") {
				out = append(out, n)
			}
		}
		return out, nil
	}
	var out []string
	for _, n := range names {
		i := slices.IndexFunc(all, func(a string) bool { return strings.EqualFold(a, n) })
		if i < 0 {
			return nil, fmt.Errorf("%w: snapshot %s has no object %s%s", ErrUsage, s.ID.Short(), n, didYouMean(n, all))
		}
		if !slices.Contains(out, all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

func didYouMean(name string, known []string) string {
	_, err := filter.FieldsOf(known).Resolve(name)
	var fe *filter.Error
	if errors.As(err, &fe) && len(fe.Suggestions) > 0 {
		return " (did you mean " + strings.Join(fe.Suggestions, ", ") + "?)"
	}
	return ""
}

// objectInfo is what export needs to know of one object.
type objectInfo struct {
	name     string
	fields   []string // written, in order (sorted unless --fields chose an order)
	match    *filter.Matcher
	describe *sfapi.SObjectDescribe // nil when the snapshot stored none
	body     string                 // the base64 field holding a file body ("" if none)
	hasFiles bool
}

func load(ctx context.Context, r *repo.Repository, s *repo.Snapshot, name string, o Options) (*objectInfo, error) {
	oi := &objectInfo{name: name, match: filter.MatchAll()}
	stored, err := r.FieldNames(ctx, s, name)
	if err != nil {
		return nil, err
	}
	fields, err := filter.ObjectFields(ctx, r, s, name)
	if err != nil {
		return nil, err
	}
	if o.Where != nil {
		if oi.match, err = o.Where.Bind(fields); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	oi.fields = stored
	if fs, ok := o.ObjectFields[name]; ok {
		oi.fields = nil
		for _, f := range fs {
			if f == "Id" {
				continue
			}
			if !slices.Contains(stored, f) {
				return nil, fmt.Errorf("%w: %s has no field %s%s", ErrUsage, name, f, didYouMean(f, stored))
			}
			oi.fields = append(oi.fields, f)
		}
	} else if len(o.Fields) > 0 {
		oi.fields = nil
		for _, f := range o.Fields {
			if strings.EqualFold(f, "Id") {
				continue
			}
			i := slices.IndexFunc(stored, func(a string) bool { return strings.EqualFold(a, f) })
			if i < 0 {
				return nil, fmt.Errorf("%w: %s has no field %s%s", ErrUsage, name, f, didYouMean(f, stored))
			}
			oi.fields = append(oi.fields, stored[i])
		}
	}
	obj, err := r.Object(ctx, s, name)
	if err != nil {
		return nil, err
	}
	oi.hasFiles = obj.Files > 0
	if !obj.Schema.IsZero() {
		raw, err := r.LoadBlob(ctx, obj.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: schema: %w", name, err)
		}
		d := &sfapi.SObjectDescribe{}
		if err := json.Unmarshal(raw, d); err != nil {
			return nil, fmt.Errorf("%s: schema: %w", name, err)
		}
		oi.describe = d
		for _, f := range d.Fields {
			if strings.EqualFold(f.Type, "base64") {
				oi.body = f.Name
				break
			}
		}
	}
	if oi.body == "" {
		oi.body = "Body"
	}
	return oi, nil
}

// Run exports the objects of snapshot s.
func Run(ctx context.Context, r *repo.Repository, s *repo.Snapshot, o Options) ([]Result, error) {
	names, err := ResolveObjects(ctx, r, s, o.Objects)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: snapshot %s holds no objects", ErrUsage, s.ID.Short())
	}
	if o.Dir == "" && len(names) > 1 {
		return nil, fmt.Errorf("%w: %d objects cannot share standard output; name one with --object or write to a directory with --to DIR", ErrUsage, len(names))
	}
	infos := make([]*objectInfo, len(names))
	for i, n := range names {
		if infos[i], err = load(ctx, r, s, n, o); err != nil {
			return nil, err
		}
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	if o.Format == FormatTree {
		return runTree(ctx, r, s, infos, o)
	}
	var out []Result
	for _, oi := range infos {
		res, err := exportCSV(ctx, r, s, oi, o)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func exportCSV(ctx context.Context, r *repo.Repository, s *repo.Snapshot, oi *objectInfo, o Options) (Result, error) {
	res := Result{Object: oi.name}
	w := o.Stdout
	var f *os.File
	var bw *backgroundWriter
	if o.Dir != "" {
		res.Path = filepath.Join(o.Dir, oi.name+".csv")
		var err error
		if f, err = os.Create(res.Path); err != nil {
			return res, err
		}
		defer f.Close()
		bw = newBackgroundWriter(f)
		defer func() {
			if bw != nil {
				bw.Close()
			}
		}()
		w = bw
	}
	// A file body goes to files/<Object>/<Id>/<name>; its path (relative to
	// the CSV, with forward slashes) fills the body column, which is how
	// Data Loader takes a body to upload.
	withFiles := oi.hasFiles && o.Dir != "" && !o.NoFiles
	var extra []string
	if withFiles {
		extra = []string{oi.body}
	}
	cw, err := NewCSV(w, oi.fields, extra...)
	if err != nil {
		return res, err
	}
	var bodyPath [1]string
	err = r.ScanRecords(ctx, s, oi.name, "", func(id string, full record.Record) error {
		rec, ok := o.pick(oi, id, full)
		if !ok {
			return nil
		}
		res.Records++
		if !withFiles {
			return cw.Write(id, rec)
		}
		p, err := writeFile(ctx, r, s, o.Dir, oi.name, id, full)
		if err != nil {
			return err
		}
		if p != "" {
			res.Files++
		}
		bodyPath[0] = p
		return cw.Write(id, rec, bodyPath[:]...)
	})
	if err != nil {
		return res, fmt.Errorf("export %s: %w", oi.name, err)
	}
	if err := cw.Flush(); err != nil {
		return res, err
	}
	if bw != nil {
		err, bw = bw.Close(), nil
		if err != nil {
			return res, err
		}
	}
	if f != nil {
		return res, f.Close()
	}
	return res, nil
}

// pick applies Where and Select to a record: what to write, and whether.
func (o *Options) pick(oi *objectInfo, id string, rec record.Record) (record.Record, bool) {
	if !oi.match.Match(id, rec) {
		return nil, false
	}
	if o.Select == nil {
		return rec, true
	}
	return o.Select(oi.name, id, rec)
}

// writeFile writes the body stored for a record, if any, and returns its
// path relative to dir ("" when the record has no body).
func writeFile(ctx context.Context, r *repo.Repository, s *repo.Snapshot, dir, object, id string, rec record.Record) (string, error) {
	fid, ok, err := r.File(ctx, s, object, id)
	if err != nil || !ok {
		return "", err
	}
	rel := path.Join("files", object, id, FileName(object, id, rec))
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return "", err
	}
	rd, _, err := r.OpenFile(ctx, fid)
	if err != nil {
		return "", fmt.Errorf("file of %s %s: %w", object, id, err)
	}
	f, err := os.Create(full)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, rd); err != nil {
		f.Close()
		return "", fmt.Errorf("file of %s %s: %w", object, id, err)
	}
	return rel, f.Close()
}

// FileName is the name a file body is written under: the name its record
// gives it (ContentVersion: PathOnClient's last element, else Title and
// FileExtension; Attachment: Name; Document: Name and its Type as an
// extension), made safe as one path element; the record Id when it has
// none.
func FileName(object, id string, rec record.Record) string {
	get := func(n string) string {
		f, _ := rec.Get(n)
		return f.Value
	}
	var name string
	switch {
	case get("PathOnClient") != "":
		p := strings.ReplaceAll(get("PathOnClient"), `\`, "/")
		name = p[strings.LastIndexByte(p, '/')+1:]
	case get("Title") != "":
		name = get("Title")
		if ext := get("FileExtension"); ext != "" && !strings.HasSuffix(strings.ToLower(name), "."+strings.ToLower(ext)) {
			name += "." + ext
		}
	case get("Name") != "":
		name = get("Name")
		if ext := get("Type"); object == "Document" && ext != "" && !strings.Contains(name, ".") {
			name += "." + ext
		}
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r < 0x20 {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." {
		return id
	}
	return name
}
