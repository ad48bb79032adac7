package backup

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/index"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// metaFilesOf reads the pseudo-object's files of a snapshot: path → body.
func (e *env) metaFilesOf(s *repo.Snapshot) map[string][]byte {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	out := map[string][]byte{}
	err := r.EachFile(bg, s, MetadataObject, func(k string, f crypto.ID) error {
		rd, _, err := r.OpenFile(bg, f)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rd)
		out[k] = b
		return err
	})
	if err != nil && !errors.Is(err, repo.ErrNotFound) {
		e.t.Fatal(err)
	}
	return out
}

// orgMetadata asks the org directly: every component listMetadata reports
// (type → file names), and the files one retrieve of all of them returns.
func (e *env) orgMetadata(types ...string) (map[string][]string, map[string][]byte) {
	e.t.Helper()
	d, err := e.client.DescribeMetadata(bg)
	if err != nil {
		e.t.Fatal(err)
	}
	var qs []sfapi.ListMetadataQuery
	for _, t := range d.MetadataObjects {
		if len(types) == 0 || slices.Contains(types, t.Name) {
			qs = append(qs, sfapi.ListMetadataQuery{Type: t.Name})
		}
	}
	props, err := e.client.ListMetadata(bg, qs)
	if err != nil {
		e.t.Fatal(err)
	}
	listed := map[string][]string{}
	members := map[string][]string{}
	for _, p := range props {
		listed[p.Type] = append(listed[p.Type], p.FileName)
		members[p.Type] = append(members[p.Type], p.FullName)
	}
	var req sfapi.RetrieveRequest
	for t, m := range members {
		req.Types = append(req.Types, sfapi.PackageTypeMembers{Name: t, Members: m})
	}
	res, err := e.client.RetrieveZip(bg, req, sfapi.PollOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(res.ZipFile), int64(len(res.ZipFile)))
	if err != nil {
		e.t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[strings.TrimPrefix(f.Name, "unpackaged/")] = b
	}
	return listed, files
}

// checkMeta asserts that a snapshot holds exactly the org's components,
// byte for byte as a retrieve returns them, and a package.xml naming them.
func (e *env) checkMeta(s *repo.Snapshot, types ...string) map[string][]byte {
	e.t.Helper()
	got := e.metaFilesOf(s)
	listed, want := e.orgMetadata(types...)
	n := 0
	for typ, names := range listed {
		for _, fn := range names {
			if _, ok := got[fn]; !ok {
				e.t.Errorf("%s %s: not in the snapshot", typ, fn)
			}
			n++
		}
	}
	for k, b := range want {
		if k == "package.xml" {
			continue
		}
		if g, ok := got[k]; !ok || !bytes.Equal(g, b) {
			e.t.Errorf("%s: snapshot holds %d bytes (present %v), the retrieve %d", k, len(g), ok, len(b))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			e.t.Errorf("%s: in the snapshot, not in the org", k)
		}
	}
	pkg := string(got["package.xml"])
	for typ := range listed {
		if !strings.Contains(pkg, "<name>"+typ+"</name>") {
			e.t.Errorf("package.xml lacks type %s:\n%s", typ, pkg)
		}
	}
	if n == 0 || e.t.Failed() {
		e.t.Fatalf("%d components listed; snapshot files %v", n, slices.Sorted(maps.Keys(got)))
	}
	if s.Objects[MetadataObject].Files != uint64(len(got)) || s.Objects[MetadataObject].Records != 0 {
		e.t.Fatalf("$Metadata stats %+v for %d files", s.Objects[MetadataObject], len(got))
	}
	return got
}

// metaChanges lists the $Metadata file changes from a to b: "kind path".
func (e *env) metaChanges(a, b *repo.Snapshot) []string {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	var out []string
	err := r.Diff(bg, a, b, func(c repo.Change) error {
		if c.Object == MetadataObject {
			if c.What != "file" {
				e.t.Errorf("$Metadata change of a %s", c.What)
			}
			out = append(out, c.Kind.String()+" "+c.ID)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// blobs returns the repository's blob ids, and how many packs hold them.
func (e *env) blobs() (map[crypto.ID]pack.BlobType, int) {
	e.t.Helper()
	r := e.open()
	defer r.Close()
	out := map[crypto.ID]pack.BlobType{}
	err := r.Index().EachBlob(func(id crypto.ID, loc index.Location) error {
		out[id] = loc.Type
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out, len(r.Index().Packs())
}

// newBlobs counts the blobs stored since before, by type.
func (e *env) newBlobs(before map[crypto.ID]pack.BlobType) map[string]int {
	now, _ := e.blobs()
	out := map[string]int{}
	for id, t := range now {
		if _, ok := before[id]; !ok {
			out[t.String()]++
		}
	}
	return out
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 7, Records: 1500})
	t0 := time.Now()
	res := e.mustRun(Options{Metadata: true})
	took := time.Since(t0)
	m := res.Metadata
	if m == nil || m.Components == 0 || m.Retrieves != 1 || m.Stored == 0 {
		t.Fatalf("metadata stats %+v", m)
	}
	t.Logf("full run with metadata in %v: %+v", took.Round(time.Millisecond), *m)
	e.verify(res.Snapshot) // records as ever; $Metadata left to checkMeta
	first := e.checkMeta(res.Snapshot)
	if m.Files != len(first) {
		t.Errorf("stats count %d files, the snapshot holds %d", m.Files, len(first))
	}
	var mode string
	for _, o := range res.Objects {
		if o.Name == MetadataObject {
			mode = o.Mode
		}
	}
	if mode != "metadata" {
		t.Errorf("$Metadata mode %q", mode)
	}

	// Nothing changed: no new file content, and no change in a diff. (A
	// synthetic run may write record leaves even so: the records engine's
	// business, not metadata's.) Two full runs: the second writes at most
	// the root's pack, metadata included.
	before, _ := e.blobs()
	res2 := e.mustRun(Options{Metadata: true})
	if res2.Metadata.Stored != 0 || res2.Metadata.Files != m.Files {
		t.Errorf("second run of an unchanged org: %+v", *res2.Metadata)
	}
	if nb := e.newBlobs(before); nb["chunk"]+nb["file"] != 0 {
		t.Errorf("second run of an unchanged org stored file blobs: %v", nb)
	}
	if ch := e.metaChanges(res.Snapshot, res2.Snapshot); len(ch) != 0 {
		t.Errorf("unchanged org, metadata changes %v", ch)
	}
	e.verify(res2.Snapshot)
	full := e.mustRun(Options{Metadata: true, Full: true})
	_, packs := e.blobs()
	full2 := e.mustRun(Options{Metadata: true, Full: true})
	if _, p := e.blobs(); p-packs > 1 || full2.Snapshot.Root != full.Snapshot.Root {
		t.Errorf("a second full run of an unchanged org wrote %d packs", p-packs)
	}
	if ch := e.metaChanges(res.Snapshot, full2.Snapshot); len(ch) != 0 || full2.Metadata.Stored != 0 {
		t.Errorf("full runs of an unchanged org: metadata changes %v, %d stored", ch, full2.Metadata.Stored)
	}
	res2 = full2

	// A schema change (a new custom field) changes that object's
	// definition and its layout: the diff shows those files changed, and
	// only the changed files are stored.
	cs := e.srv.Org.Churn(sftest.ChurnOptions{Seed: 3, Rate: 0.01, NewFields: 1})
	if len(cs.NewFields) != 1 {
		t.Fatalf("churn: %+v", cs)
	}
	obj, _, _ := strings.Cut(cs.NewFields[0], ".")
	res3 := e.mustRun(Options{Metadata: true})
	e.verify(res3.Snapshot)
	third := e.checkMeta(res3.Snapshot)
	ch := e.metaChanges(res2.Snapshot, res3.Snapshot)
	t.Logf("new field %s: metadata changes %v, stored %d", cs.NewFields[0], ch, res3.Metadata.Stored)
	if !slices.Contains(ch, "changed objects/"+obj+".object") {
		t.Errorf("new field %s: metadata changes %v", cs.NewFields[0], ch)
	}
	for _, c := range ch {
		if !strings.HasPrefix(c, "changed ") {
			t.Errorf("unexpected change %s", c)
		}
	}
	if res3.Metadata.Stored != len(ch) {
		t.Errorf("%d files stored for %d changed", res3.Metadata.Stored, len(ch))
	}

	// Fewer types: the others' files leave the snapshot.
	res4 := e.mustRun(Options{MetadataTypes: []string{"ApexClass", "ApexTrigger"}})
	fourth := e.checkMeta(res4.Snapshot, "ApexClass", "ApexTrigger")
	ch = e.metaChanges(res3.Snapshot, res4.Snapshot)
	deleted := 0
	for _, c := range ch {
		switch {
		case strings.HasPrefix(c, "deleted "):
			deleted++
			if _, ok := fourth[strings.TrimPrefix(c, "deleted ")]; ok {
				t.Errorf("%s, but still there", c)
			}
		case c != "changed package.xml":
			t.Errorf("unexpected change %s", c)
		}
	}
	if deleted != len(third)-len(fourth) || deleted == 0 {
		t.Errorf("%d files deleted, from %d to %d files", deleted, len(third), len(fourth))
	}
	if res4.Metadata.Stored != 1 { // package.xml
		t.Errorf("narrower run stored %d files", res4.Metadata.Stored)
	}
	// A wrong type name fails the run before it reads or writes anything.
	before, _ = e.blobs()
	if _, err := e.run(Options{MetadataTypes: []string{"NoSuchType"}}); err == nil || !strings.Contains(err.Error(), "NoSuchType") {
		t.Errorf("unknown type: %v", err)
	}
	if nb := e.newBlobs(before); len(nb) != 0 {
		t.Errorf("a run with an unknown type stored %v", nb)
	}

	// Without Metadata the pseudo-object leaves the snapshot.
	res5 := e.mustRun(Options{})
	if _, ok := res5.Snapshot.Objects[MetadataObject]; ok || res5.Metadata != nil {
		t.Errorf("run without metadata kept it")
	}
	if len(e.metaFilesOf(res5.Snapshot)) != 0 {
		t.Errorf("run without metadata kept files")
	}
	r := e.open()
	defer r.Close()
	rep, err := r.Check(bg, true, nil)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %+v", err, rep)
	}
}

// TestMetadataSplit: retrieves split into small batches store the same
// tree as one retrieve.
func TestMetadataSplit(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 7, Records: 300})
	one := e.mustRun(Options{Metadata: true, Objects: []string{"Account"}})
	split := e.mustRun(Options{Metadata: true, Objects: []string{"Account"}, metaRetrieveMax: 5})
	want := (one.Metadata.Components + 4) / 5
	if split.Metadata.Retrieves != want {
		t.Errorf("%d retrieves for %d components by 5", split.Metadata.Retrieves, one.Metadata.Components)
	}
	if split.Metadata.Stored != 0 {
		t.Errorf("split run stored %d files", split.Metadata.Stored)
	}
	if ch := e.metaChanges(one.Snapshot, split.Snapshot); len(ch) != 0 {
		t.Errorf("split retrieves differ: %v", ch)
	}
	e.checkMeta(split.Snapshot)
}

// interruptingSource stops the run at its first listMetadata (the
// emulator's 4 types take two calls): every object is stored, metadata is
// not.
type interruptingSource struct {
	*sfapi.Client
	stop chan struct{}
	once sync.Once
}

func (s *interruptingSource) ListMetadata(ctx context.Context, q []sfapi.ListMetadataQuery) ([]sfapi.FileProperties, error) {
	s.once.Do(func() { close(s.stop) })
	return s.Client.ListMetadata(ctx, q)
}

// TestMetadataResume: a run stopped during metadata saves a checkpoint
// with every object done; the next run retrieves the metadata and commits
// the snapshot an uninterrupted run commits.
func TestMetadataResume(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 9, Records: 1000})
	want := e.mustRun(Options{Metadata: true, Ref: "a"})

	stop := make(chan struct{})
	src := &interruptingSource{Client: e.client, stop: stop}
	r := e.open()
	e.now = e.now.Add(24 * time.Hour)
	at := e.now
	_, err := Run(bg, r, src, Options{Metadata: true, Ref: "b", Interrupt: stop, Now: func() time.Time { return at }})
	r.Close()
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("interrupted run: %v", err)
	}
	res := e.mustRun(Options{Metadata: true, Ref: "b", Now: func() time.Time { return at.Add(time.Hour) }})
	if !res.Resumed || res.Metadata.Resumed || res.Metadata.Files == 0 || res.Fetched != 0 {
		t.Fatalf("resumed run: resumed %v, fetched %d, metadata %+v", res.Resumed, res.Fetched, *res.Metadata)
	}
	if res.Snapshot.Root != want.Snapshot.Root {
		t.Fatalf("resumed snapshot differs from the uninterrupted one")
	}
	e.checkMeta(res.Snapshot)
}

// TestMetadataFaults: with a fifth of the requests failing transiently
// (and sessions expiring), the metadata is retrieved whole.
func TestMetadataFaults(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 4, Records: 300})
	e.srv.Org.SetFaults(sftest.FaultOptions{Rate: 0.2, Seed: 2, Kinds: []sftest.FaultKind{sftest.Fault503, sftest.FaultReset, sftest.FaultSession}})
	res := e.mustRun(Options{Metadata: true, Objects: []string{"Account"}})
	t.Logf("faults %v, %d requests", e.srv.Org.FaultCounts(), res.Requests)
	e.srv.Org.SetFaults(sftest.FaultOptions{})
	e.checkMeta(res.Snapshot)
}
