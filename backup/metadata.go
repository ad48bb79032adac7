package backup

// Metadata API components (Apex classes and triggers, object definitions,
// layouts, flows, …) are stored as files of a pseudo-object, MetadataObject,
// keyed by their path in a Metadata API retrieve (classes/Foo.cls,
// classes/Foo.cls-meta.xml, objects/Account.object, …): the snapshot holds
// an mdapi-format source tree, ready to deploy.
//
// One run: describeMetadata gives the types (optionally restricted by
// Options.MetadataTypes), while planning; listMetadata (3 queries per call, Salesforce's
// limit) lists every component; retrieve requests with an unpackaged
// manifest (at most 10,000 components each, Salesforce's limit) fetch them;
// each zip entry is stored with repo.SaveFile under the key
// "meta:sha256:<hex>" of its content, looked up first, so an unchanged
// component writes nothing. The zips' own package.xml files are replaced
// by one written from the full component list (deterministic: unchanged
// while the list is). The pseudo-object's files tree is then made exactly
// this set (the writer loop deletes the paths no longer retrieved).
//
// The whole is one unit: nothing reaches the writer before every component
// is stored, and one message sets the tree, so a run stopped half-way
// leaves the parent's components in place and the next run (resumed or
// not) retrieves them again; runState.Objects[MetadataObject].Done marks
// it finished in a checkpoint.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/tree"
	"github.com/orgsnap/orgsnap/sfapi"
)

// MetadataObject is the pseudo-object holding Metadata API components: no
// records and no schema, one file per retrieved path.
const MetadataObject = "$Metadata"

// MetadataSource is what metadata retrieval needs from the org.
// *sfapi.Client satisfies it; a Source that does not cannot take
// snapshots with Options.Metadata.
type MetadataSource interface {
	DescribeMetadata(ctx context.Context) (*sfapi.DescribeMetadataResult, error)
	ListMetadata(ctx context.Context, queries []sfapi.ListMetadataQuery) ([]sfapi.FileProperties, error)
	RetrieveZip(ctx context.Context, req sfapi.RetrieveRequest, p sfapi.PollOptions) (*sfapi.RetrieveResult, error)
}

var _ MetadataSource = (*sfapi.Client)(nil)

const (
	metaListBatch   = 3     // listMetadata queries per call
	metaRetrieveMax = 10000 // components per retrieve
)

// MetadataStats report the metadata part of a run.
type MetadataStats struct {
	Types      int   `json:"types"`
	Components int   `json:"components"`
	Retrieves  int   `json:"retrieves"`
	Files      int   `json:"files"`  // paths in the snapshot
	Stored     int   `json:"stored"` // of which new content
	Bytes      int64 `json:"bytes"`  // unzipped, all files
	Resumed    bool  `json:"resumed,omitempty"`
}

// metaFiles sets the pseudo-object's files tree to exactly files.
type metaFiles struct {
	files map[string]crypto.ID
}

// planMetadata picks the metadata types while planning, so that a wrong
// type name fails the run before it reads anything.
func (e *engine) planMetadata(ctx context.Context) error {
	if !e.opts.Metadata || e.state.Objects[MetadataObject] != nil && e.state.Objects[MetadataObject].Done {
		return nil
	}
	ms, ok := e.src.(MetadataSource)
	if !ok {
		return errors.New("metadata: this connection cannot use the Metadata API")
	}
	d, err := ms.DescribeMetadata(ctx)
	if err != nil {
		return fmt.Errorf("describeMetadata: %w", err)
	}
	e.metaTypes, err = metaTypes(d, e.opts.MetadataTypes)
	return err
}

// extractMetadata retrieves the org's metadata into the snapshot. The
// dispatcher calls it: no checkpoint can fall inside. A failure that
// waiting cures (the network, the API limit) stops the run resumably.
func (e *engine) extractMetadata(ctx context.Context) error {
	err := e.retrieveMetadata(ctx)
	if err != nil && !errors.Is(err, ErrStopped) && ctx.Err() == nil && resumable(err) {
		err = fmt.Errorf("%w: %v", ErrStopped, err)
	}
	return err
}

func (e *engine) retrieveMetadata(ctx context.Context) error {
	ost := e.objState(MetadataObject)
	if ost.Done {
		e.mode[MetadataObject] = "resumed"
		e.meta.Resumed = true
		return nil
	}
	if err := e.brake(); err != nil {
		return err
	}
	ms := e.src.(MetadataSource) // planMetadata checked
	t0 := time.Now()
	e.prog.add(MetadataObject, 0)
	types := e.metaTypes
	e.meta.Types = len(types)
	comps, err := e.listComponents(ctx, ms, types)
	if err != nil {
		return err
	}
	st := &metaStore{e: e, files: map[string]crypto.ID{}, held: map[string]crypto.ID{}, group: repo.PeriodOf(e.state.Time)}
	batches := metaBatches(comps, e.opts.metaRetrieveMax)
	for _, b := range batches {
		if err := e.brake(); err != nil {
			return err
		}
		res, err := ms.RetrieveZip(ctx, sfapi.RetrieveRequest{Types: b, SinglePackage: true}, sfapi.PollOptions{Initial: time.Second, Max: 10 * time.Second})
		if err != nil {
			return fmt.Errorf("metadata retrieve: %w", err)
		}
		e.meta.Retrieves++
		for _, m := range res.Messages {
			e.opts.Logger.Warn("metadata component not retrieved", "file", m.FileName, "problem", m.Problem)
		}
		if err := st.zip(ctx, res.ZipFile); err != nil {
			return err
		}
	}
	version := ""
	if v, ok := e.src.(interface{ APIVersion() string }); ok {
		version = v.APIVersion()
	}
	if err := st.put(ctx, "package.xml", bytes.NewReader(packageXML(comps, version))); err != nil {
		return err
	}
	if !e.wr.send(ctx, metaFiles{files: st.files}) {
		return e.stopCause(ctx)
	}
	e.stateMu.Lock()
	ost.Done = true
	e.stateMu.Unlock()
	e.mode[MetadataObject] = "metadata"
	e.meta.Files = len(st.files)
	e.opts.Logger.Info("metadata retrieved", "types", len(types), "components", e.meta.Components,
		"files", len(st.files), "new", e.meta.Stored, "bytes", e.meta.Bytes, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// metaTypes picks the types to retrieve: all of describeMetadata's, or
// those named (an unknown name is an error: a typo would silently back up
// nothing).
func metaTypes(d *sfapi.DescribeMetadataResult, only []string) ([]sfapi.MetadataObject, error) {
	byName := map[string]sfapi.MetadataObject{}
	for _, t := range d.MetadataObjects {
		byName[t.Name] = t
	}
	var out []sfapi.MetadataObject
	if len(only) == 0 {
		out = append(out, d.MetadataObjects...)
	} else {
		seen := map[string]bool{}
		for _, n := range only {
			t, ok := byName[n]
			if !ok {
				names := slices.Sorted(maps.Keys(byName))
				return nil, fmt.Errorf("metadata type %q: the org has no such type (it has %s)", n, strings.Join(names, ", "))
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// folderType names the folder type of a type whose components live in
// folders (listMetadata needs the folder).
func folderType(t string) string {
	if t == "EmailTemplate" {
		return "EmailFolder"
	}
	return t + "Folder"
}

// listComponents lists every component of the types: type → sorted full
// names.
func (e *engine) listComponents(ctx context.Context, ms MetadataSource, types []sfapi.MetadataObject) (map[string][]string, error) {
	var queries []sfapi.ListMetadataQuery
	var folders []sfapi.ListMetadataQuery
	for _, t := range types {
		if t.InFolder {
			folders = append(folders, sfapi.ListMetadataQuery{Type: folderType(t.Name)})
		} else {
			queries = append(queries, sfapi.ListMetadataQuery{Type: t.Name})
		}
	}
	comps := map[string][]string{}
	add := func(props []sfapi.FileProperties) {
		for _, p := range props {
			if p.FullName != "" && p.Type != "" {
				comps[p.Type] = append(comps[p.Type], p.FullName)
			}
		}
	}
	if len(folders) > 0 {
		props, err := e.list(ctx, ms, folders)
		if err != nil {
			return nil, err
		}
		for _, p := range props {
			// A folder is a component of its content type (Report
			// "Sales"), listed with its content.
			typ := strings.TrimSuffix(p.Type, "Folder")
			if p.Type == "EmailFolder" {
				typ = "EmailTemplate"
			}
			comps[typ] = append(comps[typ], p.FullName)
			queries = append(queries, sfapi.ListMetadataQuery{Type: typ, Folder: p.FullName})
		}
	}
	props, err := e.list(ctx, ms, queries)
	if err != nil {
		return nil, err
	}
	add(props)
	n := 0
	for t, m := range comps {
		slices.Sort(m)
		comps[t] = slices.Compact(m)
		n += len(comps[t])
	}
	e.meta.Components = n
	return comps, nil
}

// list runs listMetadata queries metaListBatch at a time. A call that
// Salesforce refuses for one of its types (some types cannot be listed in
// some orgs) is repeated type by type, and the refused types are skipped
// with a warning; any other failure fails the run.
func (e *engine) list(ctx context.Context, ms MetadataSource, queries []sfapi.ListMetadataQuery) ([]sfapi.FileProperties, error) {
	refused := func(err error) bool {
		return sfapi.ErrorCode(err) != "" && !resumable(err) && ctx.Err() == nil
	}
	var out []sfapi.FileProperties
	for start := 0; start < len(queries); start += metaListBatch {
		if err := e.brake(); err != nil {
			return nil, err
		}
		batch := queries[start:min(start+metaListBatch, len(queries))]
		props, err := ms.ListMetadata(ctx, batch)
		if err != nil && refused(err) && len(batch) > 1 {
			props, err = nil, nil
			for _, q := range batch {
				p, err := ms.ListMetadata(ctx, []sfapi.ListMetadataQuery{q})
				if err != nil && refused(err) {
					e.opts.Logger.Warn("metadata type not listed", "type", q.Type, "folder", q.Folder, "error", err)
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("listMetadata: %w", err)
				}
				props = append(props, p...)
			}
		}
		if err != nil && refused(err) {
			e.opts.Logger.Warn("metadata type not listed", "type", batch[0].Type, "folder", batch[0].Folder, "error", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listMetadata: %w", err)
		}
		out = append(out, props...)
	}
	return out, nil
}

// metaBatches splits the components into retrieve manifests of at most
// max components, types and members in order.
func metaBatches(comps map[string][]string, max int) [][]sfapi.PackageTypeMembers {
	if max <= 0 {
		max = metaRetrieveMax
	}
	var out [][]sfapi.PackageTypeMembers
	var cur []sfapi.PackageTypeMembers
	n := 0
	for _, t := range slices.Sorted(maps.Keys(comps)) {
		members := comps[t]
		for len(members) > 0 {
			if n == max {
				out, cur, n = append(out, cur), nil, 0
			}
			k := min(len(members), max-n)
			cur = append(cur, sfapi.PackageTypeMembers{Name: t, Members: members[:k]})
			members, n = members[k:], n+k
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// packageXML is the manifest of every component retrieved.
func packageXML(comps map[string][]string, version string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Package xmlns="http://soap.sforce.com/2006/04/metadata">` + "\n")
	for _, t := range slices.Sorted(maps.Keys(comps)) {
		b.WriteString("    <types>\n")
		for _, m := range comps[t] {
			b.WriteString("        <members>" + xmlEscape(m) + "</members>\n")
		}
		b.WriteString("        <name>" + xmlEscape(t) + "</name>\n    </types>\n")
	}
	if version != "" {
		b.WriteString("    <version>" + xmlEscape(version) + "</version>\n")
	}
	b.WriteString("</Package>\n")
	return b.Bytes()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// metaStore stores zip entries as files.
type metaStore struct {
	e     *engine
	group string
	files map[string]crypto.ID // path → file
	held  map[string]crypto.ID // content key → file stored by this run
}

// zip stores every entry of a retrieve zip but its package.xml.
func (s *metaStore) zip(ctx context.Context, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("metadata retrieve: the zip is unreadable: %w", err)
	}
	for _, f := range zr.File {
		name := strings.TrimPrefix(f.Name, "unpackaged/")
		if strings.HasSuffix(name, "/") || name == "" || name == "package.xml" {
			continue
		}
		if err := s.entry(ctx, name, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *metaStore) entry(ctx context.Context, name string, f *zip.File) error {
	if len(name) > tree.MaxKeyLen {
		s.e.opts.Logger.Warn("metadata file not stored: its path is too long", "file", name, "max", tree.MaxKeyLen)
		return nil
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("metadata retrieve, %s: %w", name, err)
	}
	defer rc.Close()
	return s.put(ctx, name, rc)
}

// put stores one file under a path, unless a file with the same content
// is held already (looked up by the content's hash). Metadata files are
// small (a static resource, the largest kind, is at most 5 MB): the body
// is buffered while it is hashed.
func (s *metaStore) put(ctx context.Context, name string, rd io.Reader) error {
	if _, dup := s.files[name]; dup {
		return nil // the same path in two retrieves: keep the first
	}
	var body bytes.Buffer
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, &body), rd)
	if err != nil {
		return fmt.Errorf("metadata retrieve, %s: %w", name, err)
	}
	s.e.meta.Bytes += n
	key := "meta:sha256:" + hex.EncodeToString(h.Sum(nil))
	if fid, ok := s.held[key]; ok {
		s.files[name] = fid
		return nil
	}
	fid, ok, err := s.e.r.FileByChecksum(key)
	if err != nil {
		return err
	}
	if !ok {
		if fid, _, err = s.e.r.SaveFile(ctx, s.group, &body, key); err != nil {
			return fmt.Errorf("storing metadata file %s: %w", name, err)
		}
		s.e.meta.Stored++
	}
	s.held[key] = fid
	s.files[name] = fid
	return nil
}

// setMetaFiles (writer loop) makes the pseudo-object's files exactly m:
// paths the writer's base (the checkpoint resumed, else the parent) holds
// and m lacks are deleted, the others linked when they differ.
func (wl *writerLoop) setMetaFiles(ctx context.Context, m metaFiles) error {
	from := wl.wopts.Resume
	if from == nil {
		from = wl.wopts.Parent
	}
	old := map[string]crypto.ID{}
	if from != nil {
		err := wl.e.r.EachFile(ctx, from, MetadataObject, func(k string, f crypto.ID) error {
			old[k] = f
			return nil
		})
		if err != nil && !errors.Is(err, repo.ErrNotFound) {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := m.files[k]; ok {
			continue
		}
		if err := wl.w.DeleteFile(ctx, MetadataObject, k); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.files)) {
		if o, ok := old[k]; ok && o == m.files[k] {
			continue
		}
		if err := wl.w.LinkFile(ctx, MetadataObject, k, m.files[k]); err != nil {
			return err
		}
	}
	return nil
}
