package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/orgsnap/orgsnap/sfapi"
)

// ErrBadPattern and ErrUnknownObject are bad input to the planner.
var (
	ErrBadPattern    = errors.New("invalid object pattern")
	ErrUnknownObject = errors.New("unknown object")
)

// objectPlan is how one object is read.
type objectPlan struct {
	name      string
	canon     *Canon
	fields    []string    // query order, Id first
	fieldsKey string      // identifies the field list (names and types)
	schema    []byte      // the describe, canonical JSON: the schema blob
	bulk      atomic.Bool // read through Bulk API 2.0 (else REST); cleared when Bulk refuses the object
	// modstamp is the field synthetic runs select changes by
	// (SystemModstamp, else LastModifiedDate); "" means every run reads the
	// object in full.
	modstamp      string
	isDeleted     bool   // the object has IsDeleted: queryAll reports soft deletes
	replicateable bool   // getDeleted reports hard deletes
	filter        string // partial snapshots: a SOQL condition
	file          *fileSpec
	count         int64 // records expected (full reads; progress and ETA)
}

// fileSpec names the fields of an object that holds file bodies.
type fileSpec struct {
	body     string // the base64 field, downloaded through the blob endpoint
	checksum string // a content checksum field (ContentVersion.Checksum) or ""
	size     string // the body length field, for the size cap, or ""
}

// defaultExcluded reports objects left out unless named exactly by
// --include: change logs, sharing rows and feeds (derived data the org
// rebuilds), events, big and external objects (not queryable in bulk, or
// not the org's data), and objects Salesforce only answers with a filter.
func defaultExcluded(name string) bool {
	for _, suffix := range []string{"History", "Share", "Feed", "__e", "__b", "__x", "ChangeEvent", "__ChangeEvent", "__hd", "__mdt", "EventRelation"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	switch name {
	case "ContentDocumentLink", "ContentFolderItem", "ContentFolderMember", "Vote", "IdeaComment",
		"FieldDefinition", "EntityParticle", "PicklistValueInfo", "UserFieldAccess", "UserRecordAccess",
		"RecentlyViewed", "AggregateResult", "CombinedAttachment", "NoteAndAttachment", "OpenActivity",
		"ActivityHistory", "LookedUpFromActivity", "Name", "OwnedContentDocument", "AttachedContentDocument",
		"AttachedContentNote", "FolderedContentDocument", "ProcessInstanceHistory":
		return true
	}
	return false
}

// matchAny reports whether name matches one of the glob patterns
// (path.Match syntax, case-insensitive).
func matchAny(patterns []string, name string) (bool, error) {
	lname := strings.ToLower(name)
	for _, p := range patterns {
		ok, err := path.Match(strings.ToLower(p), lname)
		if err != nil {
			return false, fmt.Errorf("%w %q: %v (use * and ? globs, e.g. 'Invoice*')", ErrBadPattern, p, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// selectObjects chooses the objects to read from describeGlobal.
func selectObjects(g *sfapi.GlobalDescribe, o *Options) ([]string, error) {
	byLower := map[string]string{}
	for _, so := range g.SObjects {
		byLower[strings.ToLower(so.Name)] = so.Name
	}
	for _, p := range append(append([]string(nil), o.Include...), o.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("%w %q: %v (use * and ? globs, e.g. 'Invoice*')", ErrBadPattern, p, err)
		}
	}
	var names []string
	if len(o.Objects) > 0 { // a partial snapshot: exactly these
		for _, n := range o.Objects {
			name, ok := byLower[strings.ToLower(n)]
			if !ok {
				return nil, fmt.Errorf("%w %q: describeGlobal does not list it (check the name and the user's permissions)", ErrUnknownObject, n)
			}
			names = append(names, name)
		}
		sort.Strings(names)
		return names, nil
	}
	for n := range o.Filters {
		if _, ok := byLower[strings.ToLower(n)]; !ok {
			return nil, fmt.Errorf("%w %q in --filter: describeGlobal does not list it", ErrUnknownObject, n)
		}
	}
	for _, so := range g.SObjects {
		if !so.Queryable || !so.Retrieveable || so.DeprecatedAndHidden {
			continue
		}
		exact := false
		for _, p := range o.Include {
			if strings.EqualFold(p, so.Name) {
				exact = true
			}
		}
		if len(o.Include) > 0 {
			ok, err := matchAny(o.Include, so.Name)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		if defaultExcluded(so.Name) && !exact {
			continue
		}
		if ex, err := matchAny(o.Exclude, so.Name); err != nil {
			return nil, err
		} else if ex {
			continue
		}
		names = append(names, so.Name)
	}
	sort.Strings(names)
	return names, nil
}

// planObjects describes each selected object and decides how to read it.
func (e *engine) planObjects(ctx context.Context, names []string) ([]*objectPlan, error) {
	plans := make([]*objectPlan, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, e.opts.Parallel.REST))
	for i, name := range names {
		g.Go(func() error {
			d, err := e.src.Describe(gctx, name)
			if err != nil {
				return fmt.Errorf("describe %s: %w", name, err)
			}
			p, err := e.planObject(d)
			if err != nil {
				return err
			}
			plans[i] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return plans, nil
}

func (e *engine) planObject(d *sfapi.SObjectDescribe) (*objectPlan, error) {
	p := &objectPlan{name: d.Name, replicateable: d.Replicateable}
	p.bulk.Store(!e.opts.NoBulk)
	var fields []sfapi.Field
	for _, f := range d.Fields {
		if f.Type == "base64" && p.file == nil {
			p.file = &fileSpec{body: f.Name}
		}
		if !Selectable(f) {
			continue
		}
		// Formula fields are computed from other fields on every read:
		// storing them costs space and shows churn nobody made.
		if f.Calculated && f.CalculatedFormula != "" && !e.opts.Formulas {
			continue
		}
		fields = append(fields, f)
		switch f.Name {
		case "SystemModstamp":
			p.modstamp = f.Name
		case "LastModifiedDate":
			if p.modstamp == "" {
				p.modstamp = f.Name
			}
		case "IsDeleted":
			p.isDeleted = true
		}
	}
	if p.file != nil {
		if d.Name == "ContentVersion" && d.Field("Checksum") != nil {
			p.file.checksum = "Checksum"
		}
		for _, n := range []string{"ContentSize", "BodyLength"} {
			if d.Field(n) != nil {
				p.file.size = n
				break
			}
		}
		if e.opts.Files.Skip {
			p.file = nil
		}
	}
	c, err := NewCanon(d.Name, fields)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", d.Name, err)
	}
	p.canon = c
	p.fields = c.Fields()
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%s:%s\n", f.Name, f.Type)
	}
	p.fieldsKey = hex.EncodeToString(h.Sum(nil)[:12])
	if p.schema, err = canonicalJSON(d.Raw); err != nil {
		return nil, fmt.Errorf("object %s: describe: %w", d.Name, err)
	}
	for n, f := range e.opts.Filters {
		if strings.EqualFold(n, d.Name) {
			p.filter = f
		}
	}
	return p, nil
}
