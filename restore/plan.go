package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Plan is what a restore does (or did), per object in the order written.
type Plan struct {
	Snapshot  string       `json:"snapshot"`
	Time      time.Time    `json:"snapshot_time"`
	TargetOrg string       `json:"target_org,omitempty"`
	CrossOrg  bool         `json:"cross_org,omitempty"`
	Window    string       `json:"window,omitempty"` // --changed-since A..B
	Order     []string     `json:"order"`
	Objects   []ObjectPlan `json:"objects"`
	// LeftCreated counts records created in the --changed-since window:
	// a restore never deletes them.
	LeftCreated int `json:"left_created,omitempty"`
	// SecondPass counts references set after every insert (self-lookups,
	// cycles).
	SecondPass int `json:"second_pass,omitempty"`
}

// ObjectPlan is one object's part of the plan.
type ObjectPlan struct {
	Object  string `json:"object"`
	Records int    `json:"records"`
	// Undelete: records in the Recycle Bin, brought back with their Ids.
	Undelete int `json:"undelete"`
	// WithParent: Recycle Bin records of an object that cannot be
	// undeleted alone, expected back with their master's undelete.
	WithParent int `json:"with_parent,omitempty"`
	// Insert: records gone from the org, inserted with new Ids.
	Insert int `json:"insert"`
	// Update: live records with fields that differ from the snapshot.
	Update       int            `json:"update"`
	UpdateFields map[string]int `json:"update_fields,omitempty"` // field → records updated
	// Unchanged: live records already equal to the snapshot (skipped).
	Unchanged int `json:"unchanged"`
	// Repoint counts references re-pointed to inserted records, by field.
	Repoint map[string]int `json:"repoint,omitempty"`
	// Deferred counts references set in the second pass, by field.
	Deferred map[string]int `json:"second_pass,omitempty"`
	// FallbackOwner counts records the org refused for their inactive
	// owner and saved with the fallback owner instead.
	FallbackOwner int `json:"fallback_owner,omitempty"`
	// Skipped counts fields or records left alone, by reason.
	Skipped       map[string]int `json:"skipped,omitempty"`
	NotCreateable []string       `json:"not_createable,omitempty"`
	NotUpdateable []string       `json:"not_updateable,omitempty"`
	NotInTarget   []string       `json:"not_in_target,omitempty"`
	Via           string         `json:"via,omitempty"` // collections or bulk
	Files         int            `json:"files,omitempty"`
}

func (op *ObjectPlan) count(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

// engine runs one restore.
type engine struct {
	ctx      context.Context
	org      Org
	schema   describer // the org, or (ToDir) the snapshot's describes
	r        *repo.Repository
	opts     Options
	ff       fieldFilter
	mask     fieldFilter
	prefixes map[string]string
	sets     map[string]*objSet
	snapObjs map[string]string
	order    []string
	// idmap maps an old Id to the record's Id in the target, for every
	// record of the set known to exist there (undeleted, live, inserted,
	// matched), and for users and record types mapped across orgs.
	idmap map[string]string
	// failed holds old Ids that could not be restored, with the error code.
	failed map[string]string
	// planned (dry runs) holds what the plan expects for each old Id.
	planned  map[string]string
	deferred map[string][]*deferral // object → second-pass updates
	plan     Plan
	oplans   map[string]*ObjectPlan
	results  []Result
	j        *journal
	owner    string          // fallback owner Id
	matched  map[string]bool // cross-org: objects already matched
}

// describer is where a restore reads describes of objects.
type describer interface {
	Describe(ctx context.Context, object string) (*sfapi.SObjectDescribe, error)
}

// deferral is a reference left empty at insert and set in the second pass.
type deferral struct {
	it     *item
	fields []string
}

// Result is the outcome for one record.
type Result struct {
	Object  string   `json:"object"`
	OldID   string   `json:"old_id"`
	NewID   string   `json:"new_id,omitempty"`
	Action  string   `json:"action"` // undelete, insert, update, relink, unchanged, skip
	Status  string   `json:"status"` // ok, failed, skipped
	Fields  []string `json:"fields,omitempty"`
	Error   string   `json:"error,omitempty"`
	Message string   `json:"message,omitempty"`
}

func (e *engine) oplan(name string) *ObjectPlan {
	op := e.oplans[name]
	if op == nil {
		op = &ObjectPlan{Object: name}
		e.oplans[name] = op
	}
	return op
}

// computeOrder sorts the set's objects so that every object comes after
// the objects its writable reference fields point to (Kahn's algorithm,
// ties broken by name). A cycle is broken at the object with the fewest
// required references into the cycle; references that point forward in
// the order (and self-lookups) are set in the second pass.
func (e *engine) computeOrder() {
	deps := map[string]map[string]bool{} // object → objects it refers to
	required := map[string]map[string]bool{}
	for name, os := range e.sets {
		deps[name], required[name] = map[string]bool{}, map[string]bool{}
		for _, f := range os.fields {
			if f.Type != "reference" || !(f.Createable || f.Updateable) {
				continue
			}
			for _, to := range f.ReferenceTo {
				if _, in := e.sets[to]; in && to != name {
					deps[name][to] = true
					if !f.Nillable {
						required[name][to] = true
					}
				}
			}
		}
	}
	placed := map[string]bool{}
	for len(placed) < len(e.sets) {
		var ready []string
		for name := range e.sets {
			if placed[name] {
				continue
			}
			ok := true
			for d := range deps[name] {
				if !placed[d] {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, name)
			}
		}
		if len(ready) == 0 {
			best, bestN := "", 1<<30
			for _, name := range e.setNames() {
				if placed[name] {
					continue
				}
				n := 0
				for d := range required[name] {
					if !placed[d] {
						n++
					}
				}
				if n < bestN {
					best, bestN = name, n
				}
			}
			ready = []string{best}
		}
		sort.Strings(ready)
		e.order = append(e.order, ready[0])
		placed[ready[0]] = true
	}
	e.plan.Order = e.order
}

// refState is how a reference value resolves.
type refState int

const (
	refSame    refState = iota // the record exists in the target under this Id
	refMapped                  // re-pointed to the record's new Id
	refPending                 // its target is in the set and not written yet
	refFailed                  // its target could not be restored
	refDropped                 // nothing in the target matches (another org)
)

// resolve maps a reference value of field f to the target org.
func (e *engine) resolve(f *sfapi.Field, v string) (string, refState) {
	if m, ok := e.idmap[v]; ok {
		if m == v {
			return m, refSame
		}
		return m, refMapped
	}
	if it := e.item(v); it != nil {
		if _, bad := e.failed[v]; bad {
			return "", refFailed
		}
		if e.opts.DryRun {
			switch e.planned[v] {
			case "insert":
				return "(new Id of " + v + ")", refMapped
			case "undelete", "live", "with-parent":
				return v, refSame
			}
		}
		return "", refPending
	}
	if e.opts.CrossOrg {
		if e.objectOf(v) == "User" && e.owner != "" {
			return e.owner, refMapped
		}
		return "", refDropped
	}
	return v, refSame
}

// apiValue is a canonical value as the REST API takes it.
func apiValue(f record.Field) any {
	switch f.Kind {
	case record.Null:
		return nil
	case record.Bool:
		return f.Value == "true"
	case record.Number:
		return json.Number(f.Value)
	}
	return f.Value
}

// kindFor is the canonical kind of a non-null value of describe field f.
func kindFor(f *sfapi.Field) record.Kind {
	switch strings.ToLower(f.Type) {
	case "boolean":
		return record.Bool
	case "int", "long", "double", "currency", "percent":
		return record.Number
	}
	return record.String
}

// change is one record's write: the values to send and what they are.
type change struct {
	it       *item
	target   string        // org Id (updates)
	sent     record.Record // the values, canonical, sorted by name
	fields   []string      // names written (updates: only those that differ)
	deferred []string
	failCode string // set when the record cannot be written
	failMsg  string
}

// values builds the write for one record: an insert (cur == nil) sends
// every createable field; an update sends the updateable fields that
// differ from the org's values (cur), limited by --fields, the
// changed-since window and its guard.
func (e *engine) values(os *objSet, it *item, cur *orgRow) *change {
	op := e.oplan(os.name)
	ch := &change{it: it}
	insert := cur == nil
	for i := range os.fields {
		df := &os.fields[i]
		v, ok := it.rec.Get(df.Name)
		if !ok {
			continue
		}
		if insert && !df.Createable || !insert && !df.Updateable {
			continue
		}
		if !insert && (it.only != nil && !it.only[df.Name] || !e.ff.allows(os.name, df.Name)) {
			continue
		}
		if e.mask.allows(os.name, df.Name) && !e.mask.empty() {
			v = maskValue(df, it.old, v)
		}
		if df.Type == "reference" && v.Kind == record.String {
			nv, st := e.resolve(df, v.Value)
			switch st {
			case refPending:
				ch.deferred = append(ch.deferred, df.Name)
				if !insert {
					continue
				}
				if !df.Nillable {
					// A required reference to a record written later: only a
					// cycle of required references does this.
					ch.failCode, ch.failMsg = "PARENT_NOT_RESTORED", df.Name+" refers to "+v.Value+", which is written later (a cycle of required references)"
					return ch
				}
				v = record.Field{Name: df.Name}
			case refFailed:
				if !df.Nillable {
					ch.failCode, ch.failMsg = "PARENT_NOT_RESTORED", df.Name+" refers to "+v.Value+", which could not be restored"
					return ch
				}
				op.count(&op.Skipped, "lookup to a record that failed, left empty: "+df.Name)
				v = record.Field{Name: df.Name}
			case refDropped:
				if !df.Nillable {
					ch.failCode, ch.failMsg = "PARENT_NOT_RESTORED", df.Name+": "+v.Value+" has no match in the target org"
					return ch
				}
				op.count(&op.Skipped, "lookup with no match in the target, left empty: "+df.Name)
				v = record.Field{Name: df.Name}
			case refMapped:
				op.count(&op.Repoint, df.Name)
				v.Value = nv
			default:
				v.Value = nv
			}
		}
		if !insert {
			c, _ := cur.rec.Get(df.Name)
			if sameValue(c, v) {
				continue
			}
			if it.guard != nil {
				if g, _ := it.guard.Get(df.Name); !sameValue(c, g) {
					op.count(&op.Skipped, "changed in the org after "+e.opts.Until.ID.Short()+": "+df.Name)
					continue
				}
			}
		}
		ch.sent = append(ch.sent, record.Field{Name: df.Name, Kind: v.Kind, Value: v.Value})
		ch.fields = append(ch.fields, df.Name)
	}
	return ch
}

// sameValue compares a canonical org value with a wanted one (names aside).
func sameValue(a, b record.Field) bool { return a.Kind == b.Kind && a.Value == b.Value }

// rowKey identifies the values of one insert, to find the record again
// in the org after a crash (journal.go).
func rowKey(rec record.Record) string {
	b, _ := rec.MarshalJSON()
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// maskValue replaces a value with a placeholder derived from the record
// and field (deterministic, so a second seeding gives the same data).
func maskValue(df *sfapi.Field, id string, v record.Field) record.Field {
	if v.Kind == record.Null {
		return v
	}
	sum := sha256.Sum256([]byte(id + "\x00" + df.Name))
	tag := hex.EncodeToString(sum[:5])
	switch strings.ToLower(df.Type) {
	case "email":
		return record.Field{Name: v.Name, Kind: record.String, Value: "masked." + tag + "@example.invalid"}
	case "phone":
		n := 0
		for _, c := range sum[:4] {
			n = n*256 + int(c)
		}
		return record.Field{Name: v.Name, Kind: record.String, Value: fmt.Sprintf("(555) 01%d-%04d", n%10, n/10%10000)}
	case "string", "textarea", "url", "encryptedstring":
		s := "masked-" + tag
		if df.Length > 0 && len(s) > df.Length {
			s = s[:df.Length]
		}
		return record.Field{Name: v.Name, Kind: record.String, Value: s}
	}
	if df.Nillable {
		return record.Field{Name: v.Name}
	}
	return v
}

// noteFields records, once per object, the snapshot fields a write
// cannot carry.
func (e *engine) noteFields(os *objSet) {
	op := e.oplan(os.name)
	op.NotInTarget = os.notInTarget
	for _, f := range os.fields {
		if !f.Createable {
			op.NotCreateable = append(op.NotCreateable, f.Name)
		}
		if !f.Updateable {
			op.NotUpdateable = append(op.NotUpdateable, f.Name)
		}
	}
}

// classify decides each record's action from the org's state.
func (e *engine) classify(os *objSet, state map[string]orgRow) (undel, ins []*item, live map[*item]orgRow) {
	live = map[*item]orgRow{}
	for _, it := range os.items {
		if _, done := e.failed[it.old]; done {
			continue
		}
		t := e.targetID(it)
		row, ok := state[t]
		switch {
		case !ok || t == "":
			ins = append(ins, it)
		case row.deleted && os.desc.Undeletable && !e.opts.CrossOrg:
			undel = append(undel, it)
		case row.deleted:
			if e.opts.DryRun && e.masterComesBack(os, it) {
				e.planned[it.old] = "with-parent"
				e.oplan(os.name).WithParent++
				continue
			}
			ins = append(ins, it)
		default:
			live[it] = row
		}
	}
	return undel, ins, live
}

// targetID is the org Id a record of the set is looked up by.
func (e *engine) targetID(it *item) string {
	if m, ok := e.idmap[it.old]; ok {
		return m
	}
	if e.opts.CrossOrg {
		return ""
	}
	return it.old
}

// masterComesBack predicts (dry runs) whether a Recycle Bin record of an
// object that cannot be undeleted alone returns with its master's
// undelete (master-detail children deleted with their master).
func (e *engine) masterComesBack(os *objSet, it *item) bool {
	for _, f := range os.fields {
		if !f.CascadeDelete {
			continue
		}
		if v, ok := it.rec.Get(f.Name); ok && v.Kind == record.String && e.planned[v.Value] == "undelete" {
			return true
		}
	}
	return false
}

// planAll computes the whole plan without writing (dry runs): the state
// of every object is read up front, and undeletes and inserts of earlier
// objects are assumed to succeed.
func (e *engine) planAll() error {
	for _, name := range e.order {
		os := e.sets[name]
		op := e.oplan(name)
		op.Records = len(os.items)
		ids := make([]string, 0, len(os.items))
		for _, it := range os.items {
			if t := e.targetID(it); t != "" {
				ids = append(ids, t)
			}
		}
		state, err := e.fetchState(os, ids)
		if err != nil {
			return err
		}
		undel, ins, live := e.classify(os, state)
		for _, it := range undel {
			e.planned[it.old] = "undelete"
			op.Undelete++
			// After the undelete the record holds its Recycle Bin values:
			// fields that differ from the snapshot are updated.
			row := state[e.targetID(it)]
			live[it] = row
		}
		for _, it := range ins {
			e.planned[it.old] = "insert"
		}
		for it := range live {
			if e.planned[it.old] == "" {
				e.planned[it.old] = "live"
			}
		}
		for _, it := range ins {
			ch := e.values(os, it, nil)
			op.Insert++
			e.plan.SecondPass += len(ch.deferred)
			for _, f := range ch.deferred {
				op.count(&op.Deferred, f)
			}
		}
		for _, it := range os.items {
			row, ok := live[it]
			if !ok {
				continue
			}
			ch := e.values(os, it, &row)
			for _, f := range ch.deferred {
				op.count(&op.Deferred, f)
				e.plan.SecondPass++
			}
			if len(ch.fields) == 0 {
				if e.planned[it.old] == "live" {
					op.Unchanged++
				}
				continue
			}
			op.Update++
			for _, f := range ch.fields {
				op.count(&op.UpdateFields, f)
			}
		}
		op.Via = e.via(max(op.Insert, op.Update))
	}
	return nil
}

func (e *engine) via(n int) string {
	if n > e.opts.BulkThreshold {
		return "bulk"
	}
	return "collections"
}

func (e *engine) finishPlan() {
	e.plan.Objects = e.plan.Objects[:0]
	for _, name := range e.order {
		op := e.oplan(name)
		if op.Records == 0 {
			op.Records = len(e.sets[name].items)
		}
		e.plan.Objects = append(e.plan.Objects, *op)
	}
}
