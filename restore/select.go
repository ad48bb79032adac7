package restore

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// item is one record of the restore set.
type item struct {
	obj string
	old string        // the record's Id in the snapshot
	rec record.Record // its values in the snapshot (REV)
	// only restricts updates to these fields (nil: every writable field).
	// Inserts always write every createable field: half a record is not a
	// restore.
	only map[string]bool
	// guard, for a bad-load rollback, holds the values the window ended
	// with: a field is restored only while the org still holds that value,
	// so an edit made after the window is kept.
	guard record.Record
	why   string
}

// objSet is the restore set of one object.
type objSet struct {
	name   string
	desc   *sfapi.SObjectDescribe // the target org's describe
	items  []*item
	byID   map[string]*item
	fields []sfapi.Field // snapshot fields the target has (Selectable, Id excluded), by name
	canon  *backup.Canon // reads the org's values of fields
	// notInTarget lists snapshot fields the target lacks.
	notInTarget []string
}

func (e *engine) add(it *item) bool {
	os := e.sets[it.obj]
	if os == nil {
		os = &objSet{name: it.obj, byID: map[string]*item{}}
		e.sets[it.obj] = os
	}
	if prev, ok := os.byID[it.old]; ok {
		// Selected twice: the wider selection wins.
		if prev.only != nil && (it.only == nil) {
			prev.only, prev.guard = nil, nil
		} else if prev.only != nil {
			for f := range it.only {
				prev.only[f] = true
			}
		}
		return false
	}
	os.byID[it.old] = it
	os.items = append(os.items, it)
	return true
}

// item returns the restore-set record with old Id id, or nil.
func (e *engine) item(id string) *item {
	obj := e.objectOf(id)
	if os := e.sets[obj]; os != nil {
		return os.byID[id]
	}
	return nil
}

// objectOf names the object of an Id by its key prefix.
func (e *engine) objectOf(id string) string {
	if len(id) < 3 {
		return ""
	}
	return e.prefixes[id[:3]]
}

// fieldFilter holds --fields: names for every object and Object.Field.
type fieldFilter struct {
	any   map[string]bool
	byObj map[string]map[string]bool
}

func newFieldFilter(specs []string) fieldFilter {
	ff := fieldFilter{any: map[string]bool{}, byObj: map[string]map[string]bool{}}
	for _, s := range specs {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if obj, f, ok := strings.Cut(part, "."); ok {
				if ff.byObj[strings.ToLower(obj)] == nil {
					ff.byObj[strings.ToLower(obj)] = map[string]bool{}
				}
				ff.byObj[strings.ToLower(obj)][strings.ToLower(f)] = true
			} else {
				ff.any[strings.ToLower(part)] = true
			}
		}
	}
	return ff
}

func (ff fieldFilter) empty() bool { return len(ff.any) == 0 && len(ff.byObj) == 0 }

// allows reports whether --fields lets field f of obj be written.
func (ff fieldFilter) allows(obj, f string) bool {
	if ff.empty() {
		return true
	}
	return ff.any[strings.ToLower(f)] || ff.byObj[strings.ToLower(obj)][strings.ToLower(f)]
}

// objects lists the objects --fields names explicitly.
func (ff fieldFilter) objects() []string {
	var out []string
	for o := range ff.byObj {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// selectRecords builds the restore set from the options.
func (e *engine) selectRecords() error {
	ctx, r, snap := e.ctx, e.r, e.opts.Snapshot
	for _, t := range e.opts.Targets {
		obj, err := e.snapshotObject(t.Object)
		if err != nil {
			return err
		}
		if len(t.IDs) > 0 {
			for _, id := range t.IDs {
				id18, err := sfapi.To18(strings.TrimSpace(id))
				if err != nil {
					return fmt.Errorf("%w: %q is not a Salesforce Id", ErrBadSelection, id)
				}
				rec, ok, err := r.Record(ctx, snap, obj, id18)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%w: %s %s is not in snapshot %s (look it up with `orgsnap history %s`)", ErrBadSelection, obj, id18, snap.ID.Short(), id18)
				}
				if t.Match != nil && !t.Match(id18, rec) {
					continue
				}
				e.add(&item{obj: obj, old: id18, rec: rec, why: "selected"})
			}
			continue
		}
		err = r.EachRecord(ctx, snap, obj, "", func(id string, rec record.Record) error {
			if t.Match == nil || t.Match(id, rec) {
				e.add(&item{obj: obj, old: id, rec: rec, why: "selected"})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if e.opts.ChangedSince != nil {
		if err := e.selectChanged(); err != nil {
			return err
		}
	}
	if len(e.sets) == 0 {
		return ErrNothingSelected
	}
	if e.opts.WithChildren {
		if err := e.addChildren(); err != nil {
			return err
		}
	}
	return nil
}

// snapshotObject resolves an object name (any letter case) in the snapshot.
func (e *engine) snapshotObject(name string) (string, error) {
	if e.snapObjs == nil {
		objs, err := e.r.Objects(e.ctx, e.opts.Snapshot)
		if err != nil {
			return "", err
		}
		e.snapObjs = map[string]string{}
		for _, o := range objs {
			e.snapObjs[strings.ToLower(o.Name)] = o.Name
		}
	}
	if n, ok := e.snapObjs[strings.ToLower(name)]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%w: object %s is not in snapshot %s (list its objects with `orgsnap stats %s`)", ErrBadSelection, name, e.opts.Snapshot.ID.Short(), e.opts.Snapshot.ID.Short())
}

// selectChanged adds the records that changed between ChangedSince and
// Until (default: the newest snapshot of the same org), with only the
// fields that changed. Records created in the window are counted and left:
// a restore never deletes.
func (e *engine) selectChanged() error {
	a, b := e.opts.ChangedSince, e.opts.Until
	if b == nil {
		latest, err := e.latestAfter(a)
		if err != nil {
			return err
		}
		b = latest
		e.opts.Until = b
	}
	if !b.Time.After(a.Time) {
		return fmt.Errorf("%w: --until snapshot %s is not later than --changed-since %s", ErrBadSelection, b.ID.Short(), a.ID.Short())
	}
	e.plan.Window = fmt.Sprintf("%s..%s", a.ID.Short(), b.ID.Short())
	objs := map[string]bool{}
	for _, t := range e.opts.Targets {
		objs[strings.ToLower(t.Object)] = true
	}
	for _, o := range e.ff.objects() {
		objs[o] = true
	}
	sameRev := e.opts.Snapshot.ID == a.ID
	return e.r.Diff(e.ctx, a, b, func(c repo.Change) error {
		if c.What != "record" || len(objs) > 0 && !objs[strings.ToLower(c.Object)] {
			return nil
		}
		switch c.Kind {
		case repo.Added:
			e.plan.LeftCreated++
			return nil
		case repo.Deleted:
			rec := c.Old
			if !sameRev {
				var ok bool
				var err error
				if rec, ok, err = e.r.Record(e.ctx, e.opts.Snapshot, c.Object, c.ID); err != nil || !ok {
					return err
				}
			}
			e.add(&item{obj: c.Object, old: c.ID, rec: rec, why: "deleted in " + e.plan.Window})
			return nil
		}
		only := map[string]bool{}
		for _, n := range changedFields(c.Old, c.New) {
			if e.ff.allows(c.Object, n) {
				only[n] = true
			}
		}
		if len(only) == 0 {
			return nil
		}
		rec := c.Old
		if !sameRev {
			var ok bool
			var err error
			if rec, ok, err = e.r.Record(e.ctx, e.opts.Snapshot, c.Object, c.ID); err != nil || !ok {
				return err
			}
		}
		e.add(&item{obj: c.Object, old: c.ID, rec: rec, only: only, guard: c.New, why: "changed in " + e.plan.Window})
		return nil
	})
}

// latestAfter is the newest snapshot of a's org taken after a.
func (e *engine) latestAfter(a *repo.Snapshot) (*repo.Snapshot, error) {
	snaps, err := e.r.Snapshots(e.ctx, nil)
	if err != nil {
		return nil, err
	}
	var best *repo.Snapshot
	for _, s := range snaps {
		if s.Kind == repo.KindCheckpoint || s.Org != a.Org || !s.Time.After(a.Time) {
			continue
		}
		if best == nil || s.Time.After(best.Time) {
			best = s
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no snapshot of org %s is later than %s; take one (`orgsnap snapshot`) or give --until", ErrBadSelection, a.Org, a.ID.Short())
	}
	return best, nil
}

// changedFields lists the fields whose values differ between a and b.
func changedFields(a, b record.Record) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || i < len(a) && a[i].Name < b[j].Name:
			out = append(out, a[i].Name)
			i++
		case i >= len(a) || b[j].Name < a[i].Name:
			out = append(out, b[j].Name)
			j++
		default:
			if a[i] != b[j] {
				out = append(out, a[i].Name)
			}
			i++
			j++
		}
	}
	return out
}

// addChildren adds, level by level, the snapshot records that referred to
// records of the set through a child relationship of the target's
// describe (Contacts and Opportunities of an Account, a self-lookup's
// children, a master-detail's details).
func (e *engine) addChildren() error {
	level := map[string]bool{}
	for _, os := range e.sets {
		for _, it := range os.items {
			level[it.old] = true
		}
	}
	for depth := 0; depth < e.opts.Depth && len(level) > 0; depth++ {
		// child object → reference fields pointing at the level's objects
		rels := map[string]map[string]bool{}
		parents := map[string]bool{}
		for id := range level {
			parents[e.objectOf(id)] = true
		}
		for p := range parents {
			d, err := e.schema.Describe(e.ctx, p)
			if err != nil {
				return fmt.Errorf("describe %s: %w", p, err)
			}
			for _, cr := range d.ChildRelationships {
				if cr.Field == "" || excludedObject(cr.ChildSObject) {
					continue
				}
				if _, err := e.snapshotObject(cr.ChildSObject); err != nil {
					continue
				}
				if rels[cr.ChildSObject] == nil {
					rels[cr.ChildSObject] = map[string]bool{}
				}
				rels[cr.ChildSObject][cr.Field] = true
			}
		}
		next := map[string]bool{}
		children := make([]string, 0, len(rels))
		for c := range rels {
			children = append(children, c)
		}
		sort.Strings(children)
		for _, child := range children {
			name, _ := e.snapshotObject(child)
			err := e.r.EachRecord(e.ctx, e.opts.Snapshot, name, "", func(id string, rec record.Record) error {
				for f := range rels[child] {
					if v, ok := rec.Get(f); ok && v.Kind == record.String && level[v.Value] {
						if e.add(&item{obj: name, old: id, rec: rec, why: "child of " + v.Value}) {
							next[id] = true
						}
						return nil
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		level = next
	}
	return nil
}

// excludedObject: objects a restore never writes (setup objects: users,
// record types, groups…); references to them are mapped instead.
func excludedObject(name string) bool {
	switch name {
	case "User", "Group", "RecordType", "Profile", "UserRole", "Organization", "BusinessHours",
		"ContentDocument", "ContentDocumentLink", "TaskStatus", "PermissionSet":
		return true
	}
	for _, suffix := range []string{"History", "Share", "Feed", "ChangeEvent"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// addParents adds the records that selected records refer to and that the
// org lacks (deleted, or another org), so references can be re-pointed to
// them; repeated until no new parent appears.
func (e *engine) addParents() error {
	if e.opts.NoParents {
		return nil
	}
	checked := map[string]bool{}
	for round := 0; round < 20; round++ {
		want := map[string][]string{} // object → ids to check
		for _, name := range e.setNames() {
			os := e.sets[name]
			for _, it := range os.items {
				for _, f := range it.rec {
					if f.Kind != record.String || !looksLikeID(f.Value) || checked[f.Value] {
						continue
					}
					df := os.desc.Field(f.Name)
					if df == nil || df.Type != "reference" || !(df.Createable || df.Updateable) {
						continue
					}
					checked[f.Value] = true
					if _, ok := e.idmap[f.Value]; ok {
						continue
					}
					obj := e.objectOf(f.Value)
					if obj == "" || excludedObject(obj) || e.item(f.Value) != nil {
						continue
					}
					if _, err := e.snapshotObject(obj); err != nil {
						continue
					}
					want[obj] = append(want[obj], f.Value)
				}
			}
		}
		if len(want) == 0 {
			return nil
		}
		added := 0
		for _, obj := range sortedKeys(want) {
			ids := want[obj]
			missing := ids
			if !e.opts.CrossOrg {
				live, err := e.org.RetrieveRecords(e.ctx, obj, ids, []string{"Id"})
				if err != nil {
					return fmt.Errorf("checking parents in %s: %w", obj, err)
				}
				missing = missing[:0:0]
				for i, rec := range live {
					if rec == nil {
						missing = append(missing, ids[i])
					}
				}
			}
			name, _ := e.snapshotObject(obj)
			for _, id := range missing {
				rec, ok, err := e.r.Record(e.ctx, e.opts.Snapshot, name, id)
				if err != nil {
					return err
				}
				if ok && e.add(&item{obj: name, old: id, rec: rec, why: "parent"}) {
					added++
				}
			}
		}
		if err := e.describeSets(); err != nil {
			return err
		}
		if err := e.crossOrgMaps(); err != nil {
			return err
		}
		if added == 0 {
			return nil
		}
	}
	return errors.New("restore: parents still missing after 20 rounds")
}

func looksLikeID(s string) bool { return len(s) == 18 && sfapi.ValidateID(s) == nil }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *engine) setNames() []string { return sortedKeys(e.sets) }

// describeSets describes each object of the set in the target and decides
// which snapshot fields are read and written.
func (e *engine) describeSets() error {
	for _, name := range e.setNames() {
		os := e.sets[name]
		if os.desc != nil {
			continue
		}
		d, err := e.org.Describe(e.ctx, name)
		if err != nil {
			return fmt.Errorf("describe %s in the target org: %w", name, err)
		}
		os.desc = d
		sort.Slice(os.items, func(i, j int) bool { return os.items[i].old < os.items[j].old })
		seen := map[string]bool{}
		for _, it := range os.items {
			for _, f := range it.rec {
				if seen[f.Name] {
					continue
				}
				seen[f.Name] = true
				df := d.Field(f.Name)
				switch {
				case df == nil:
					os.notInTarget = append(os.notInTarget, f.Name)
				case strings.EqualFold(df.Name, "Id") || !backup.Selectable(*df) || strings.Contains(f.Name, "."):
				default:
					os.fields = append(os.fields, *df)
				}
			}
		}
		sort.Slice(os.fields, func(i, j int) bool { return os.fields[i].Name < os.fields[j].Name })
		sort.Strings(os.notInTarget)
		if os.canon, err = backup.NewCanon(name, os.fields); err != nil {
			return err
		}
	}
	return nil
}
