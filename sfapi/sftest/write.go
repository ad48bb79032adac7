package sftest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Error is a Salesforce error: a request-level error (errorCode) or a
// per-record save error (statusCode in save results).
type Error struct {
	Code    string
	Message string
	Fields  []string
	Status  int // HTTP status when the error ends a request
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func saveErr(code, msg string, fields ...string) *Error {
	if fields == nil {
		fields = []string{}
	}
	return &Error{Code: code, Message: msg, Fields: fields, Status: 400}
}

// setVal is one prepared field assignment.
type setVal struct {
	f *Field
	v Value
}

// input is a field map from JSON (any) or CSV (string, with Bulk rules:
// empty ⇒ unchanged, #N/A ⇒ null).
type input struct {
	vals map[string]any
	csv  bool
	// allowSave: the request lets duplicate rules that only alert pass
	// (Sforce-Duplicate-Rule-Header: allowSave=true).
	allowSave bool
}

// prepare converts and checks the assignments of one insert (idx < 0) or
// update. Callers hold o.mu.
func (o *Org) prepare(st *objState, in input, insert bool) ([]setVal, *Error) {
	obj := st.obj
	names := make([]string, 0, len(in.vals))
	for k := range in.vals {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []setVal
	for _, name := range names {
		raw := in.vals[name]
		if strings.EqualFold(name, "attributes") || (strings.EqualFold(name, "Id") && !insert) {
			continue
		}
		f := obj.Field(name)
		if f == nil {
			return nil, saveErr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", name, obj.Name), name)
		}
		if insert && !f.Createable || !insert && !f.Updateable {
			verb := "create"
			if !insert {
				verb = "update"
			}
			return nil, saveErr("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to %s fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", verb, f.Name), f.Name)
		}
		var v Value
		if in.csv {
			s, _ := raw.(string)
			if s == "" {
				continue
			}
			if s == "#N/A" {
				v = null
			} else {
				var err *Error
				if v, err = o.parseValue(f, s); err != nil {
					return nil, err
				}
			}
		} else {
			var err *Error
			if v, err = o.convert(f, raw); err != nil {
				return nil, err
			}
		}
		if !v.IsNull() && f.Type == "reference" {
			id, err := o.checkRef(f, v.S)
			if err != nil {
				return nil, err
			}
			v.S = id
		}
		if !v.IsNull() && f.RestrictedPicklist && !contains(f.Picklist, v.S) {
			return nil, saveErr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, v.S), f.Name)
		}
		if v.K == KString && f.Length > 0 && f.Type != "base64" && len([]rune(v.S)) > f.Length {
			return nil, saveErr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, v.S, f.Length), f.Name)
		}
		out = append(out, setVal{f, v})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkRef verifies that a reference points to a live record of an allowed
// type and returns its 18-char Id.
func (o *Org) checkRef(f *Field, id string) (string, *Error) {
	pst, pidx, ok := o.locate(id)
	if !ok {
		if _, _, ok := parseID(id); !ok && len(id) != 15 && len(id) != 18 {
			return "", saveErr("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, id), f.Name)
		}
		return "", saveErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", f.Name)
	}
	if !contains(f.ReferenceTo, pst.obj.Name) {
		return "", saveErr("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, id), f.Name)
	}
	v, ok := pst.at(pidx, latest)
	if !ok || v != nil && v.deleted {
		return "", saveErr("ENTITY_IS_DELETED", "entity is deleted", f.Name)
	}
	return makeID(pst.obj.KeyPrefix, idCounter+pidx), nil
}

// convert turns a JSON value into a field value.
func (o *Org) convert(f *Field, raw any) (Value, *Error) {
	switch x := raw.(type) {
	case nil:
		return null, nil
	case string:
		if f.Type == "base64" {
			b, err := base64.StdEncoding.DecodeString(x)
			if err != nil {
				return null, saveErr("INVALID_TYPE_ON_FIELD_IN_RECORD", f.Label+": value not of required type: base64", f.Name)
			}
			return vStr(o.storeBlob(b)), nil
		}
		return o.parseValue(f, x)
	case bool:
		if f.Type != "boolean" {
			return null, badType(f, fmt.Sprint(x))
		}
		return vBool(x), nil
	case float64:
		return numberValue(f, x)
	case json.Number:
		v, err := x.Float64()
		if err != nil {
			return null, badType(f, x.String())
		}
		return numberValue(f, v)
	case int:
		return numberValue(f, float64(x))
	case int64:
		return numberValue(f, float64(x))
	case time.Time:
		if f.Type == "date" {
			return vDate(x), nil
		}
		return vDateTime(x), nil
	}
	return null, badType(f, fmt.Sprint(raw))
}

func numberValue(f *Field, x float64) (Value, *Error) {
	switch kindOf(f.Type) {
	case KInt:
		return vInt(int64(x)), nil
	case KFloat:
		return vFloat(x), nil
	case KString:
		return vStr(strconv.FormatFloat(x, 'f', -1, 64)), nil
	}
	return null, badType(f, strconv.FormatFloat(x, 'f', -1, 64))
}

func badType(f *Field, s string) *Error {
	return saveErr("INVALID_TYPE_ON_FIELD_IN_RECORD", fmt.Sprintf("%s: value not of required type: %s", f.Label, s), f.Name)
}

// parseValue parses the text form of a value (CSV, JSON strings, SOAP).
func (o *Org) parseValue(f *Field, s string) (Value, *Error) {
	switch kindOf(f.Type) {
	case KBool:
		switch strings.ToLower(s) {
		case "true", "1":
			return vBool(true), nil
		case "false", "0", "":
			return vBool(false), nil
		}
	case KInt:
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return vInt(int64(n)), nil
		}
	case KFloat:
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return vFloat(n), nil
		}
	case KDate:
		if t, ok := parseDateTime(s); ok {
			return vDate(t), nil
		}
	case KDateTime:
		if t, ok := parseDateTime(s); ok {
			return vDateTime(t), nil
		}
	case KTime:
		if t, err := time.Parse("15:04:05.000Z", s); err == nil {
			return Value{K: KTime, I: int64(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6)}, nil
		}
		if t, err := time.Parse("15:04:05", s); err == nil {
			return Value{K: KTime, I: int64(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000)}, nil
		}
	case KString:
		if f.Type == "base64" {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				break
			}
			return vStr(o.storeBlob(b)), nil
		}
		return vStr(s), nil
	}
	return null, badType(f, s)
}

// parseDateTime accepts the formats Salesforce accepts on input.
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{
		"2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// storeBlob keeps an uploaded body and returns the stored field value.
func (o *Org) storeBlob(b []byte) string {
	sum := md5.Sum(b)
	key := "\x00mem:" + hex.EncodeToString(sum[:])
	o.blobs[key] = b
	return key
}

// blobSize and blobSum describe a stored base64 value.
func (o *Org) blobSize(s string) int64 {
	if k, ok := strings.CutPrefix(s, "\x00pool:"); ok {
		n, _ := strconv.Atoi(k)
		return o.pool.size(n)
	}
	return int64(len(o.blobs[s]))
}

func (o *Org) blobSum(s string) string {
	if k, ok := strings.CutPrefix(s, "\x00pool:"); ok {
		n, _ := strconv.Atoi(k)
		return o.pool.checksum(n)
	}
	return strings.TrimPrefix(s, "\x00mem:")
}

// ---- applying writes ----

// materialize returns a mutable copy of record idx's current values.
func (o *Org) materialize(st *objState, idx int64) []Value {
	vals := make([]Value, len(st.obj.Fields))
	v, _ := st.at(idx, latest)
	var r row
	r.reset(o, st, idx, v)
	for _, f := range st.obj.Fields {
		if f.calc == nil {
			vals[f.pos] = r.val(f)
		}
	}
	return vals
}

// commit installs a new version of record idx at the next sequence number.
// Callers hold o.mu and bump o.seq once per transaction (beginWrite).
func (st *objState) commit(idx int64, v *version, seq uint64) {
	v.seq = seq
	v.prev = st.recs[idx]
	if v.prev != nil && v.prev.seq == seq {
		v.prev = v.prev.prev // a second write in one transaction replaces the first
	}
	st.recs[idx] = v
}

// wtx is one write transaction: all its versions share seq and stamp.
type wtx struct {
	seq   uint64
	stamp int64
	user  string
}

func (o *Org) beginWrite() wtx {
	return wtx{seq: o.seq + 1, stamp: o.nowMs() - o.nowMs()%1000, user: o.AdminUserID()}
}

func (o *Org) endWrite(t wtx) {
	if o.seq < t.seq {
		o.seq = t.seq
	}
	o.tick()
}

func (o *Org) setAudit(obj *Object, vals []Value, t wtx, insert bool) {
	set := func(name string, v Value) {
		if f := obj.Field(name); f != nil {
			vals[f.pos] = v
		}
	}
	if insert {
		set("CreatedDate", Value{K: KDateTime, I: t.stamp})
		set("CreatedById", vStr(t.user))
	}
	set("LastModifiedDate", Value{K: KDateTime, I: t.stamp})
	set("LastModifiedById", vStr(t.user))
	set("SystemModstamp", Value{K: KDateTime, I: t.stamp})
}

// checkRecord runs required-field checks and validation rules on the values
// a write would produce.
func (o *Org) checkRecord(st *objState, idx int64, vals []Value, insert bool) *Error {
	var missing []string
	for _, f := range st.obj.Fields {
		if f.Nillable || f.calc != nil || f.Type == "boolean" || f.Parts != nil {
			continue
		}
		if !(f.Createable || f.Updateable) || insert && f.DefaultedOnCreate {
			continue
		}
		if f.pos >= len(vals) || vals[f.pos].IsNull() {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return saveErr("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)
	}
	if len(o.opts.ValidationRules) == 0 {
		return nil
	}
	var r row
	r.reset(o, st, idx, &version{vals: vals})
	var rec *Record
	for _, vr := range o.opts.ValidationRules {
		if !strings.EqualFold(vr.Object, st.obj.Name) || vr.Fails == nil {
			continue
		}
		if rec == nil {
			x := r.record()
			rec = &x
		}
		if vr.Fails(*rec) {
			var fields []string
			if vr.ErrorField != "" {
				fields = []string{vr.ErrorField}
			}
			return saveErr("FIELD_CUSTOM_VALIDATION_EXCEPTION", vr.Message, fields...)
		}
	}
	return nil
}

// pendingInsert is a checked insert not yet committed.
type pendingInsert struct {
	st   *objState
	idx  int64
	vals []Value
}

// prepInsert allocates an index and checks an insert. On error nothing is
// kept except the index (callers roll st.n back via undoInserts).
func (o *Org) prepInsert(st *objState, in input, t wtx) (*pendingInsert, *Error) {
	if !st.obj.Createable {
		return nil, saveErr("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "entity type "+st.obj.Name+" does not support insert")
	}
	sets, err := o.prepare(st, in, true)
	if err != nil {
		return nil, err
	}
	idx := st.n
	st.n++
	vals := make([]Value, len(st.obj.Fields))
	for _, f := range st.obj.Fields {
		switch {
		case f.DefaultValue != nil:
			vals[f.pos], _ = o.convert(f, f.DefaultValue)
		case f.Type == "boolean" && !f.Nillable && f.calc == nil:
			vals[f.pos] = vBool(false)
		}
	}
	if f := st.obj.Field("OwnerId"); f != nil {
		vals[f.pos] = vStr(t.user)
	}
	for _, s := range sets {
		vals[s.f.pos] = s.v
	}
	o.autoFields(st, idx, vals)
	o.setAudit(st.obj, vals, t, true)
	if err := o.checkRecord(st, idx, vals, true); err != nil {
		return nil, err
	}
	if err := o.checkWriteRules(st, idx, vals, sets, in); err != nil {
		return nil, err
	}
	return &pendingInsert{st, idx, vals}, nil
}

// autoFields fills server-computed fields of a new record.
func (o *Org) autoFields(st *objState, idx int64, vals []Value) {
	set := func(name string, v Value) {
		if f := st.obj.Field(name); f != nil {
			vals[f.pos] = v
		}
	}
	get := func(name string) Value {
		if f := st.obj.Field(name); f != nil {
			return vals[f.pos]
		}
		return null
	}
	switch st.obj.Name {
	case "Invoice__c":
		set("Name", vStr("INV-"+padNum(idx+1, 6)))
	case "Invoice_Line__c":
		set("Name", vStr("IL-"+padNum(idx+1, 7)))
	case "Case":
		set("CaseNumber", vStr(padNum(1000+idx, 8)))
	case "Attachment", "Document":
		if b := get("Body"); !b.IsNull() {
			set("BodyLength", vInt(o.blobSize(b.S)))
		}
	case "ContentVersion":
		if b := get("VersionData"); !b.IsNull() {
			set("ContentSize", vInt(o.blobSize(b.S)))
			set("Checksum", vStr(o.blobSum(b.S)))
		}
		path := get("PathOnClient").S
		ext := ""
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			ext = strings.ToLower(path[i+1:])
		}
		set("FileExtension", vStr(ext))
		ft := "UNKNOWN"
		for _, e := range fileExts {
			if e.ext == ext {
				ft = e.ftype
			}
		}
		set("FileType", vStr(ft))
		if get("Title").IsNull() {
			set("Title", vStr(strings.TrimSuffix(path, "."+ext)))
		}
		set("VersionNumber", vStr("1"))
		set("IsLatest", vBool(true))
	}
}

// applyInsert commits a checked insert and its side effects.
func (o *Org) applyInsert(p *pendingInsert, t wtx) {
	p.st.commit(p.idx, &version{vals: p.vals}, t.seq)
	if p.st.obj.Name == "ContentVersion" {
		o.contentVersionInserted(p, t)
	}
}

// contentVersionInserted creates the ContentDocument of a first version and
// the link to FirstPublishLocationId, as Salesforce does.
func (o *Org) contentVersionInserted(p *pendingInsert, t wtx) {
	obj := p.st.obj
	get := func(name string) Value { return p.vals[obj.Field(name).pos] }
	vid := makeID(obj.KeyPrefix, idCounter+p.idx)
	docID := get("ContentDocumentId")
	dst := o.state("ContentDocument")
	if docID.IsNull() {
		didx := dst.n
		dst.n++
		vals := make([]Value, len(dst.obj.Fields))
		for _, n := range []string{"Title", "FileType", "FileExtension", "ContentSize", "Description"} {
			vals[dst.obj.Field(n).pos] = get(n)
		}
		vals[dst.obj.Field("LatestPublishedVersionId").pos] = vStr(vid)
		vals[dst.obj.Field("PublishStatus").pos] = vStr("P")
		vals[dst.obj.Field("IsArchived").pos] = vBool(false)
		vals[dst.obj.Field("SharingOption").pos] = vStr("A")
		vals[dst.obj.Field("ContentModifiedDate").pos] = Value{K: KDateTime, I: t.stamp}
		vals[dst.obj.Field("OwnerId").pos] = vStr(t.user)
		o.setAudit(dst.obj, vals, t, true)
		dst.commit(didx, &version{vals: vals}, t.seq)
		docID = vStr(makeID(dst.obj.KeyPrefix, idCounter+didx))
		p.vals[obj.Field("ContentDocumentId").pos] = docID
		if loc := get("FirstPublishLocationId"); !loc.IsNull() {
			lst := o.state("ContentDocumentLink")
			lidx := lst.n
			lst.n++
			lv := make([]Value, len(lst.obj.Fields))
			lv[lst.obj.Field("LinkedEntityId").pos] = loc
			lv[lst.obj.Field("ContentDocumentId").pos] = docID
			lv[lst.obj.Field("ShareType").pos] = vStr("I")
			lv[lst.obj.Field("Visibility").pos] = vStr("AllUsers")
			lv[lst.obj.Field("SystemModstamp").pos] = Value{K: KDateTime, I: t.stamp}
			lst.commit(lidx, &version{vals: lv}, t.seq)
		}
		return
	}
	// A new version of an existing document: number it, demote the previous
	// latest version and point the document at this one.
	_, didx, ok := o.locate(docID.S)
	if !ok {
		return
	}
	maxVer := 0
	var r row
	for idx := int64(0); idx < p.st.n; idx++ {
		if idx == p.idx {
			continue
		}
		v, ok := p.st.at(idx, latest)
		if !ok {
			continue
		}
		r.reset(o, p.st, idx, v)
		if r.get("ContentDocumentId").S != docID.S {
			continue
		}
		n, _ := strconv.Atoi(r.get("VersionNumber").S)
		maxVer = max(maxVer, n)
		if r.get("IsLatest").I != 0 {
			vals := o.materialize(p.st, idx)
			vals[p.st.obj.Field("IsLatest").pos] = vBool(false)
			o.setAudit(p.st.obj, vals, t, false)
			p.st.commit(idx, &version{vals: vals}, t.seq)
		}
	}
	p.vals[obj.Field("VersionNumber").pos] = vStr(strconv.Itoa(maxVer + 1))
	dv := o.materialize(dst, didx)
	dv[dst.obj.Field("LatestPublishedVersionId").pos] = vStr(vid)
	dv[dst.obj.Field("ContentSize").pos] = get("ContentSize")
	o.setAudit(dst.obj, dv, t, false)
	dst.commit(didx, &version{vals: dv}, t.seq)
}

// undoInserts releases indexes allocated by failed inserts (all-or-none).
func undoInserts(ps []*pendingInsert) {
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; p != nil && p.st.n == p.idx+1 {
			p.st.n--
		}
	}
}

// pendingUpdate is a checked update not yet committed.
type pendingUpdate struct {
	st   *objState
	idx  int64
	vals []Value
}

// liveRecord resolves an Id to a live (not deleted) record.
func (o *Org) liveRecord(id string, want *objState) (*objState, int64, *Error) {
	st, idx, ok := o.locate(id)
	if !ok || want != nil && st != want {
		if _, _, ok := parseID(id); !ok {
			label := "Record"
			if want != nil {
				label = want.obj.Label
			}
			return nil, 0, &Error{Code: "MALFORMED_ID", Message: label + " ID: id value of incorrect type: " + id, Fields: []string{"Id"}, Status: 400}
		}
		return nil, 0, &Error{Code: "NOT_FOUND", Message: "The requested resource does not exist", Status: 404}
	}
	v, ok := st.at(idx, latest)
	if !ok {
		return nil, 0, &Error{Code: "NOT_FOUND", Message: "The requested resource does not exist", Status: 404}
	}
	if v != nil && v.deleted {
		return nil, 0, &Error{Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}, Status: 404}
	}
	return st, idx, nil
}

func (o *Org) prepUpdate(st *objState, idx int64, in input, t wtx) (*pendingUpdate, *Error) {
	if !st.obj.Updateable {
		return nil, saveErr("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "entity type "+st.obj.Name+" does not support update")
	}
	sets, err := o.prepare(st, in, false)
	if err != nil {
		return nil, err
	}
	vals := o.materialize(st, idx)
	for _, s := range sets {
		vals[s.f.pos] = s.v
	}
	o.setAudit(st.obj, vals, t, false)
	if err := o.checkRecord(st, idx, vals, false); err != nil {
		return nil, err
	}
	if err := o.checkWriteRules(st, idx, vals, sets, in); err != nil {
		return nil, err
	}
	return &pendingUpdate{st, idx, vals}, nil
}

func (o *Org) applyUpdate(p *pendingUpdate, t wtx) {
	p.st.commit(p.idx, &version{vals: p.vals}, t.seq)
}

// ---- delete, undelete, purge ----

// deleteRec soft-deletes a live record and cascades to master-detail
// children. It bumps SystemModstamp (so incremental queryAll sees deletions).
func (o *Org) deleteRec(st *objState, idx int64, t wtx, cascade string) *Error {
	if !st.obj.Deletable {
		return saveErr("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
	}
	vals := o.materialize(st, idx)
	if f := st.obj.Field("SystemModstamp"); f != nil {
		vals[f.pos] = Value{K: KDateTime, I: t.stamp}
	}
	st.commit(idx, &version{vals: vals, deleted: true, deletedMs: t.stamp, cascade: cascade}, t.seq)
	st.dlog = append(st.dlog, deleteEntry{idx, t.stamp})
	id := makeID(st.obj.KeyPrefix, idCounter+idx)
	if cascade == "" {
		cascade = id
	}
	o.forChildren(st, id, func(cst *objState, cidx int64, v *version) {
		if v == nil || !v.deleted {
			o.deleteRec(cst, cidx, t, cascade)
		}
	})
	return nil
}

// forChildren calls fn for every existing record whose cascade-delete
// (master-detail) reference points at parent id.
func (o *Org) forChildren(pst *objState, id string, fn func(*objState, int64, *version)) {
	_, pidx, _ := o.locate(id)
	for _, cst := range o.objs {
		for _, f := range cst.obj.Fields {
			if !f.CascadeDelete || !contains(f.ReferenceTo, pst.obj.Name) {
				continue
			}
			visit := func(idx int64) {
				v, ok := cst.at(idx, latest)
				if !ok {
					return
				}
				var r row
				r.reset(o, cst, idx, v)
				if r.val(f).S == id {
					fn(cst, idx, v)
				}
			}
			// Generated children of parent p occupy a known index range
			// (blockRef); changed and inserted ones are in the overlay.
			m, n := cst.genN, pst.genN
			if pidx < n && n > 0 {
				lo, hi := (pidx*m+n-1)/n, ((pidx+1)*m+n-1)/n
				for idx := lo; idx < hi && idx < m; idx++ {
					if cst.recs[idx] == nil {
						visit(idx)
					}
				}
			}
			var keys []int64
			for idx := range cst.recs {
				keys = append(keys, idx)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for _, idx := range keys {
				visit(idx)
			}
		}
	}
}

// undeleteRec restores a record from the Recycle Bin with the children its
// delete cascaded to.
func (o *Org) undeleteRec(st *objState, idx int64, t wtx) *Error {
	v, ok := st.at(idx, latest)
	if !ok {
		return saveErr("ENTITY_IS_DELETED", "entity is deleted")
	}
	if v == nil || !v.deleted {
		return saveErr("UNDELETE_FAILED", "Entity is not in the recycle bin")
	}
	if !st.obj.Undeletable {
		return saveErr("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "Entity type is not undeletable")
	}
	id := makeID(st.obj.KeyPrefix, idCounter+idx)
	o.restore(st, idx, t)
	for _, cst := range o.objs {
		for cidx, cv := range cst.recs {
			if cv.deleted && !cv.purged && cv.cascade == id {
				o.restore(cst, cidx, t)
			}
		}
	}
	return nil
}

func (o *Org) restore(st *objState, idx int64, t wtx) {
	vals := o.materialize(st, idx)
	if f := st.obj.Field("SystemModstamp"); f != nil {
		vals[f.pos] = Value{K: KDateTime, I: t.stamp}
	}
	st.commit(idx, &version{vals: vals}, t.seq)
	for i, e := range st.dlog {
		if e.idx == idx {
			st.dlog = append(st.dlog[:i], st.dlog[i+1:]...)
			break
		}
	}
}

// purgeRec hard-deletes a record (emptying it from the Recycle Bin, or a
// Bulk hardDelete): it vanishes from every query; getDeleted still lists it.
func (o *Org) purgeRec(st *objState, idx int64, t wtx) {
	v, ok := st.at(idx, latest)
	if !ok {
		return
	}
	if v == nil || !v.deleted {
		st.dlog = append(st.dlog, deleteEntry{idx, t.stamp})
	}
	st.commit(idx, &version{purged: true, deleted: true, deletedMs: t.stamp}, t.seq)
	id := makeID(st.obj.KeyPrefix, idCounter+idx)
	o.forChildren(st, id, func(cst *objState, cidx int64, _ *version) { o.purgeRec(cst, cidx, t) })
}

// ---- exported write API (for tests and the activity simulator) ----

// Insert creates a record as the API user and returns its Id.
func (o *Org) Insert(object string, fields map[string]any) (string, error) {
	return o.insert(object, input{vals: fields})
}

func (o *Org) insert(object string, in input) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.state(object)
	if st == nil {
		return "", saveErr("INVALID_TYPE", "sObject type '"+object+"' is not supported.")
	}
	t := o.beginWrite()
	p, err := o.prepInsert(st, in, t)
	if err != nil {
		return "", err
	}
	o.applyInsert(p, t)
	o.endWrite(t)
	return makeID(st.obj.KeyPrefix, idCounter+p.idx), nil
}

// Update changes fields of a live record.
func (o *Org) Update(id string, fields map[string]any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.updateAt(id, fields, o.beginWrite())
}

func (o *Org) updateAt(id string, fields map[string]any, t wtx) error {
	st, idx, err := o.liveRecord(id, nil)
	if err != nil {
		return err
	}
	p, err := o.prepUpdate(st, idx, input{vals: fields}, t)
	if err != nil {
		return err
	}
	o.applyUpdate(p, t)
	o.endWrite(t)
	return nil
}

// Delete moves a record (and its master-detail children) to the Recycle Bin.
func (o *Org) Delete(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, idx, err := o.liveRecord(id, nil)
	if err != nil {
		return err
	}
	t := o.beginWrite()
	if err := o.deleteRec(st, idx, t, ""); err != nil {
		return err
	}
	o.endWrite(t)
	return nil
}

// Undelete restores a record from the Recycle Bin.
func (o *Org) Undelete(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, idx, ok := o.locate(id)
	if !ok {
		return saveErr("INVALID_ID_FIELD", "invalid record id")
	}
	t := o.beginWrite()
	if err := o.undeleteRec(st, idx, t); err != nil {
		return err
	}
	o.endWrite(t)
	return nil
}

// Purge hard-deletes a record, live or in the Recycle Bin.
func (o *Org) Purge(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, idx, ok := o.locate(id)
	if !ok {
		return saveErr("INVALID_ID_FIELD", "invalid record id")
	}
	if _, ok := st.at(idx, latest); !ok {
		return saveErr("ENTITY_IS_DELETED", "entity is deleted")
	}
	t := o.beginWrite()
	o.purgeRec(st, idx, t)
	o.endWrite(t)
	return nil
}

// EmptyRecycleBin hard-deletes every soft-deleted record deleted before
// cutoff (Salesforce empties the bin after 15 days).
func (o *Org) EmptyRecycleBin(cutoff time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.beginWrite()
	n := 0
	for _, st := range o.objs {
		var idxs []int64
		for idx, v := range st.recs {
			if v.deleted && !v.purged && v.deletedMs < cutoff.UnixMilli() {
				idxs = append(idxs, idx)
			}
		}
		sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
		for _, idx := range idxs {
			o.purgeRec(st, idx, t)
			n++
		}
	}
	if n > 0 {
		o.endWrite(t)
	}
	return n
}

// LateCommit applies an update whose SystemModstamp and LastModifiedDate are
// at, earlier than the org clock: the effect of a long transaction that
// started at `at` and commits now, after queries already answered may have
// moved a client's high-water mark past `at`.
func (o *Org) LateCommit(id string, fields map[string]any, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.beginWrite()
	t.stamp = at.UnixMilli()
	return o.updateAt(id, fields, t)
}

// Tx is a long-running transaction: it started at its creation time, its
// writes are invisible until Commit, and they then carry the start time as
// SystemModstamp. While a Tx is open, getUpdated's latestDateCovered does
// not pass its start (as Salesforce documents).
type Tx struct {
	o       *Org
	startMs int64
	ups     []txUpdate
	done    bool
}

type txUpdate struct {
	id     string
	fields map[string]any
}

// BeginTx opens a long transaction at the current org time.
func (o *Org) BeginTx() *Tx {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := &Tx{o: o, startMs: o.nowMs() - o.nowMs()%1000}
	o.txs[t] = true
	return t
}

// Update buffers an update of record id.
func (t *Tx) Update(id string, fields map[string]any) { t.ups = append(t.ups, txUpdate{id, fields}) }

// Commit applies the buffered updates, all or none, stamped with the
// transaction's start time.
func (t *Tx) Commit() error {
	o := t.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if t.done {
		return fmt.Errorf("sftest: transaction already finished")
	}
	t.done = true
	delete(o.txs, t)
	w := o.beginWrite()
	w.stamp = t.startMs
	var ps []*pendingUpdate
	for _, u := range t.ups {
		st, idx, err := o.liveRecord(u.id, nil)
		if err != nil {
			return err
		}
		p, err := o.prepUpdate(st, idx, input{vals: u.fields}, w)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		o.applyUpdate(p, w)
	}
	o.endWrite(w)
	return nil
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	t.done = true
	delete(t.o.txs, t)
}

// oldestTxMs is the start of the oldest open transaction, or MaxInt64.
func (o *Org) oldestTxMs() int64 {
	m := int64(math.MaxInt64)
	for t := range o.txs {
		m = min(m, t.startMs)
	}
	return m
}

// latest reads the newest versions, including those of the write
// transaction in progress (callers hold o.mu for writing, so no reader can
// observe uncommitted versions).
const latest = ^uint64(0)
