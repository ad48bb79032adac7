package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/orgsnap/orgsnap/export"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// DirReport is what ToDir wrote.
type DirReport struct {
	Dir string `json:"dir"`
	// Records counts the restore set's records by object.
	Records map[string]int `json:"records"`
	// CSV and Tree are the export's results for dir/csv and dir/tree.
	CSV  []export.Result `json:"csv"`
	Tree []export.Result `json:"tree"`
}

// ToDir writes the restore set that opts select (Targets, ChangedSince
// and Until, Fields, WithChildren, Mask) to dir, for a restore by hand,
// reading and writing no org:
//
//   - dir/csv/<Object>.csv: Data Loader CSV (export's format), file bodies
//     under dir/csv/files/ with their paths in the body column;
//   - dir/tree/: sObject Tree JSON and plan.json for
//     `sf data import tree --plan dir/tree/plan.json`, which inserts the
//     records and rebuilds the references between them.
//
// Each record carries what a restore would write of it: every field, or
// those Fields allows, and for a ChangedSince selection only the fields
// that changed in the window. With no org to ask, child relationships
// come from the describes stored in the snapshot, and missing parents are
// not added (the org would say which are missing): select them too.
func ToDir(ctx context.Context, r *repo.Repository, opts Options, dir string) (*DirReport, error) {
	opts.setDefaults()
	if opts.Snapshot == nil {
		return nil, fmt.Errorf("%w: no snapshot", ErrBadSelection)
	}
	stored := &storedSchema{r: r, s: opts.Snapshot, descs: map[string]*sfapi.SObjectDescribe{}}
	e := newEngine(ctx, r, nil, stored, opts)
	var err error
	if e.prefixes, err = stored.keyPrefixes(ctx); err != nil {
		return nil, err
	}
	if err := e.selectRecords(); err != nil {
		return nil, err
	}
	rep := &DirReport{Dir: dir, Records: map[string]int{}}
	// What each record of the set writes, and per object the union of
	// those fields: the columns.
	out := map[string]map[string]record.Record{}
	columns := map[string][]string{}
	for _, name := range e.setNames() {
		d, err := stored.Describe(ctx, name)
		if err != nil {
			return nil, err
		}
		byID := map[string]record.Record{}
		cols := map[string]bool{}
		for _, it := range e.sets[name].items {
			rec := e.offlineValues(it, d)
			byID[it.old] = rec
			for _, f := range rec {
				cols[f.Name] = true
			}
		}
		out[name] = byID
		columns[name] = sortedKeys(cols)
		rep.Records[name] = len(byID)
	}
	xo := export.Options{
		Objects:      e.setNames(),
		ObjectFields: columns,
		NoFiles:      opts.NoFiles,
		Select: func(object, id string, _ record.Record) (record.Record, bool) {
			rec, ok := out[object][id]
			return rec, ok
		},
	}
	xo.Format, xo.Dir = export.FormatCSV, filepath.Join(dir, "csv")
	if rep.CSV, err = export.Run(ctx, r, opts.Snapshot, xo); err != nil {
		return rep, err
	}
	xo.Format, xo.Dir = export.FormatTree, filepath.Join(dir, "tree")
	if rep.Tree, err = export.Run(ctx, r, opts.Snapshot, xo); err != nil {
		return rep, err
	}
	return rep, nil
}

// offlineValues is what a restore would write of it, as far as the
// snapshot tells: the fields --fields allows (and the window's changed
// fields), masked where asked. Which of them the org accepts is the
// writer's business (the tree format keeps createable fields only).
func (e *engine) offlineValues(it *item, d *sfapi.SObjectDescribe) record.Record {
	var rec record.Record
	for _, f := range it.rec {
		if it.only != nil && !it.only[f.Name] || !e.ff.allows(it.obj, f.Name) {
			continue
		}
		if !e.mask.empty() && e.mask.allows(it.obj, f.Name) {
			if df := d.Field(f.Name); df != nil {
				f = maskValue(df, it.old, f)
			}
		}
		rec = append(rec, f)
	}
	return rec
}

// storedSchema answers describes from those the snapshot stored.
type storedSchema struct {
	r     *repo.Repository
	s     *repo.Snapshot
	descs map[string]*sfapi.SObjectDescribe
}

func (st *storedSchema) Describe(ctx context.Context, object string) (*sfapi.SObjectDescribe, error) {
	if d, ok := st.descs[object]; ok {
		return d, nil
	}
	o, err := st.r.Object(ctx, st.s, object)
	if err != nil {
		return nil, err
	}
	d := &sfapi.SObjectDescribe{}
	if !o.Schema.IsZero() {
		raw, err := st.r.LoadBlob(ctx, o.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: stored describe: %w", object, err)
		}
		if err := json.Unmarshal(raw, d); err != nil {
			return nil, fmt.Errorf("%s: stored describe: %w", object, err)
		}
	}
	st.descs[object] = d
	return d, nil
}

// keyPrefixes maps the key prefixes of the snapshot's objects to their
// names.
func (st *storedSchema) keyPrefixes(ctx context.Context) (map[string]string, error) {
	objs, err := st.r.Objects(ctx, st.s)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, o := range objs {
		if strings.HasPrefix(o.Name, "$") {
			continue
		}
		d, err := st.Describe(ctx, o.Name)
		if err != nil {
			return nil, err
		}
		if d.KeyPrefix != "" {
			out[d.KeyPrefix] = o.Name
		}
	}
	return out, nil
}
