package export

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// The tree format is what `sf data import tree --plan plan.json` reads:
//
//   - plan.json: [{"sobject":"Account","saveRefs":true,"resolveRefs":true,
//     "files":["Account-1.json",…]},…], parents before children;
//   - each data file: {"records":[{"attributes":{"type":"Account",
//     "referenceId":"r001…"},"Name":"Acme",…},…]}, at most TreeBatch
//     records (one sObject Tree request each);
//   - a reference to a record exported with it is "@r<Id>"; the CLI
//     replaces it with the new record's Id once the parent is inserted.
//
// Only fields the describe marks createable are written (an insert refuses
// the others), nulls are left out, and a reference to a record that is not
// part of the export is left out too (counted in DroppedRefs): the org
// fills it as for a new record (OwnerId: the importing user). A file body
// (Attachment.Body, Document.Body, ContentVersion.VersionData) is written
// inline as base64, as the REST API takes it; a data file then ends early
// once it holds TreeFileBytes, so that each request stays small.

// TreeBatch is the most records per data file: the sObject Tree limit of
// one request.
const TreeBatch = 200

// TreeFileBytes ends a data file early when file bodies make it this
// large (our bound, well under what one REST request may carry; a single
// larger body still gets a file of its own).
const TreeFileBytes = 10 << 20

// PlanEntry is one object of a tree plan.
type PlanEntry struct {
	SObject     string   `json:"sobject"`
	SaveRefs    bool     `json:"saveRefs"`
	ResolveRefs bool     `json:"resolveRefs"`
	Files       []string `json:"files"`
}

// RefID is the referenceId a record is exported under.
func RefID(id string) string { return "r" + id }

// treeObject is an object's part of a tree export.
type treeObject struct {
	*objectInfo
	keyPrefix string
	cols      []treeCol
	refsTo    []string // exported objects this one references (not itself)
	bodies    bool     // file bodies are written inline (the body field is createable)
}

type treeCol struct {
	name string
	ref  bool // a reference field: the value becomes "@r<Id>" or is left out
}

func runTree(ctx context.Context, r *repo.Repository, s *repo.Snapshot, infos []*objectInfo, o Options) ([]Result, error) {
	objs := map[string]*treeObject{}
	byPrefix := map[string]string{}
	for _, oi := range infos {
		if oi.describe == nil {
			return nil, fmt.Errorf("%w: %s: the snapshot stored no describe for it, so which fields can be inserted is unknown; export it as CSV", ErrUsage, oi.name)
		}
		objs[oi.name] = &treeObject{objectInfo: oi, keyPrefix: oi.describe.KeyPrefix}
		if oi.describe.KeyPrefix != "" {
			byPrefix[oi.describe.KeyPrefix] = oi.name
		}
	}
	for _, t := range objs {
		byName := map[string]sfapi.Field{}
		for _, f := range t.describe.Fields {
			byName[f.Name] = f
		}
		t.bodies = t.hasFiles && !o.NoFiles && byName[t.body].Createable
		for _, name := range t.fields {
			f, ok := byName[name]
			if !ok || !f.Createable {
				continue
			}
			col := treeCol{name: name, ref: strings.EqualFold(f.Type, "reference")}
			if col.ref {
				for _, to := range f.ReferenceTo {
					if _, in := objs[to]; in && to != t.name && !slices.Contains(t.refsTo, to) {
						t.refsTo = append(t.refsTo, to)
					}
				}
			}
			t.cols = append(t.cols, col)
		}
	}
	order, err := treeOrder(objs)
	if err != nil {
		return nil, err
	}
	// exported holds the Ids written so far, for the objects that others
	// reference: a reference is kept only to a record the import creates
	// first.
	exported := map[string]map[string]bool{}
	for _, t := range objs {
		for _, to := range t.refsTo {
			if exported[to] == nil {
				exported[to] = map[string]bool{}
			}
		}
	}
	var plan []PlanEntry
	var results []Result
	for _, name := range order {
		t := objs[name]
		entry := PlanEntry{SObject: name, SaveRefs: true, ResolveRefs: len(t.refsTo) > 0}
		res, files, err := writeTree(ctx, r, s, t, o, byPrefix, exported)
		if err != nil {
			return results, err
		}
		results = append(results, res)
		entry.Files = files
		if len(files) > 0 {
			plan = append(plan, entry)
		}
	}
	if o.Dir != "" {
		b, err := json.MarshalIndent(plan, "", "  ")
		if err != nil {
			return results, err
		}
		if err := os.WriteFile(filepath.Join(o.Dir, "plan.json"), append(b, '\n'), 0o644); err != nil {
			return results, err
		}
	}
	return results, nil
}

// treeOrder puts referenced objects before the objects referencing them
// (ties by name). A cycle (A → B → A) is broken at the first object by
// name: its references into the cycle are left out.
func treeOrder(objs map[string]*treeObject) ([]string, error) {
	names := make([]string, 0, len(objs))
	for n := range objs {
		names = append(names, n)
	}
	slices.Sort(names)
	done := map[string]bool{}
	var order []string
	for len(order) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, to := range objs[n].refsTo {
				if !done[to] {
					ready = false
				}
			}
			if ready {
				done[n] = true
				order = append(order, n)
				progress = true
			}
		}
		if !progress {
			for _, n := range names {
				if !done[n] {
					objs[n].refsTo = slices.DeleteFunc(objs[n].refsTo, func(to string) bool { return !done[to] })
					break
				}
			}
		}
	}
	return order, nil
}

// writeTree writes one object's records in files of TreeBatch (or all to
// stdout) and returns the file names.
func writeTree(ctx context.Context, r *repo.Repository, s *repo.Snapshot, t *treeObject, o Options, byPrefix map[string]string, exported map[string]map[string]bool) (Result, []string, error) {
	res := Result{Object: t.name}
	var files []string
	var f *os.File
	var w *bufio.Writer
	inFile, inBytes := 0, 0
	closeFile := func() error {
		if w == nil {
			return nil
		}
		if _, err := w.WriteString("\n]}\n"); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		w = nil
		if f != nil {
			return f.Close()
		}
		return nil
	}
	open := func() error {
		var dst io.Writer = o.Stdout
		if o.Dir != "" {
			name := fmt.Sprintf("%s-%d.json", t.name, len(files)+1)
			files = append(files, name)
			var err error
			if f, err = os.Create(filepath.Join(o.Dir, name)); err != nil {
				return err
			}
			dst = f
			res.Path = filepath.Join(o.Dir, t.name+"-*.json")
		}
		w = bufio.NewWriterSize(dst, 64<<10)
		inFile, inBytes = 0, 0
		_, err := w.WriteString(`{"records":[`)
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	keep := exported[t.name]
	var buf []byte
	err := r.ScanRecords(ctx, s, t.name, "", func(id string, rec record.Record) error {
		rec, ok := o.pick(t.objectInfo, id, rec)
		if !ok {
			return nil
		}
		var dropped int
		buf, dropped = t.appendRecord(buf[:0], id, rec, byPrefix, exported)
		if t.bodies {
			var with bool
			var err error
			if buf, with, err = appendBody(ctx, r, s, t, id, buf); err != nil {
				return err
			}
			if with {
				res.Files++
			}
		}
		if w == nil || o.Dir != "" && (inFile == TreeBatch || inFile > 0 && inBytes+len(buf) > TreeFileBytes) {
			if err := closeFile(); err != nil {
				return err
			}
			if err := open(); err != nil {
				return err
			}
		}
		res.DroppedRefs += dropped
		if inFile > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n")
		if _, err := w.Write(buf); err != nil {
			return err
		}
		inFile++
		inBytes += len(buf)
		res.Records++
		if keep != nil {
			keep[id] = true
		}
		return nil
	})
	if err == nil && w == nil && o.Dir == "" {
		err = open() // an empty object still prints a document
	}
	if err != nil {
		return res, files, fmt.Errorf("export %s: %w", t.name, err)
	}
	return res, files, closeFile()
}

// appendBody adds the record's file body, if the snapshot holds one, to
// the record JSON b (which ends with its closing brace) as base64.
func appendBody(ctx context.Context, r *repo.Repository, s *repo.Snapshot, t *treeObject, id string, b []byte) ([]byte, bool, error) {
	fid, ok, err := r.File(ctx, s, t.name, id)
	if err != nil || !ok {
		return b, false, err
	}
	rd, _, err := r.OpenFile(ctx, fid)
	if err != nil {
		return b, false, fmt.Errorf("file of %s %s: %w", t.name, id, err)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return b, false, fmt.Errorf("file of %s %s: %w", t.name, id, err)
	}
	b = append(b[:len(b)-1], ',')
	b = record.AppendJSONString(b, t.body)
	b = append(b, `:"`...)
	b = base64.StdEncoding.AppendEncode(b, body)
	return append(b, `"}`...), true, nil
}

// appendRecord appends one record as sObject Tree JSON.
func (t *treeObject) appendRecord(b []byte, id string, rec record.Record, byPrefix map[string]string, exported map[string]map[string]bool) ([]byte, int) {
	b = append(b, `{"attributes":{"type":`...)
	b = record.AppendJSONString(b, t.name)
	b = append(b, `,"referenceId":`...)
	b = record.AppendJSONString(b, RefID(id))
	b = append(b, '}')
	dropped := 0
	for _, c := range t.cols {
		f, ok := rec.Get(c.name)
		if !ok || f.Kind == record.Null {
			continue
		}
		if c.ref {
			target := ""
			if len(f.Value) >= 3 {
				target = byPrefix[f.Value[:3]]
			}
			if target == "" || target == t.name || !exported[target][f.Value] {
				dropped++
				continue
			}
		}
		b = append(b, ',')
		b = record.AppendJSONString(b, c.name)
		b = append(b, ':')
		switch {
		case c.ref:
			b = record.AppendJSONString(b, "@"+RefID(f.Value))
		case f.Kind == record.Number || f.Kind == record.Bool:
			b = append(b, f.Value...)
		default:
			b = record.AppendJSONString(b, f.Value)
		}
	}
	return append(b, '}'), dropped
}
