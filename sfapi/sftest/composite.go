package sftest

import (
	"fmt"
	"net/http"
	"strings"
)

type saveResult struct {
	ID      *string    `json:"id,omitempty"`
	Success bool       `json:"success"`
	Errors  []saveJSON `json:"errors"`
	Created *bool      `json:"created,omitempty"`
}

type saveJSON struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func toSave(e *Error) []saveJSON {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return []saveJSON{{StatusCode: e.Code, Message: e.Message, Fields: f}}
}

var rolledBack = &Error{Code: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}

func (o *Org) routeComposite(c *reqCtx) {
	s := c.segs[1:]
	switch {
	case len(s) >= 1 && strings.EqualFold(s[0], "sobjects"):
		o.collections(c, s[1:])
	case len(s) == 2 && strings.EqualFold(s[0], "tree"):
		o.tree(c, s[1])
	default:
		notFound(c.w)
	}
}

func recordType(rec map[string]any) string {
	if a, ok := rec["attributes"].(map[string]any); ok {
		t, _ := a["type"].(string)
		return t
	}
	return ""
}

func recordID(rec map[string]any) string {
	for k, v := range rec {
		if strings.EqualFold(k, "id") {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// collections serves /composite/sobjects: create (POST), update (PATCH),
// delete (DELETE ?ids=), retrieve (GET/POST /composite/sobjects/X), and
// upsert by external id (PATCH /composite/sobjects/X/ExtField).
func (o *Org) collections(c *reqCtx, s []string) {
	if len(s) == 1 && (c.r.Method == http.MethodGet || c.r.Method == http.MethodPost) {
		o.collRetrieve(c, s[0])
		return
	}
	if len(s) == 2 && c.r.Method == http.MethodPatch {
		o.collUpsert(c, s[0], s[1])
		return
	}
	if len(s) != 0 {
		notFound(c.w)
		return
	}
	if c.r.Method == http.MethodDelete {
		q := c.r.URL.Query()
		var ids []string
		for _, id := range strings.Split(q.Get("ids"), ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 || len(ids) > 200 {
			writeErr(c.w, 400, "INVALID_FIELD", "ids: between 1 and 200 ids required")
			return
		}
		o.collDelete(c, ids, q.Get("allOrNone") == "true")
		return
	}
	body, ok := readCollection(c)
	if !ok {
		return
	}
	insert := c.r.Method == http.MethodPost
	if !insert && c.r.Method != http.MethodPatch {
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are POST,PATCH,DELETE")
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.beginWrite()
	errs := make([]*Error, len(body.Records))
	ins := make([]*pendingInsert, len(body.Records))
	ups := make([]*pendingUpdate, len(body.Records))
	failed := false
	for i, rec := range body.Records {
		typ := recordType(rec)
		st := o.state(typ)
		switch {
		case typ == "":
			errs[i] = saveErr("INVALID_FIELD", "No SObject Type defined in the record")
		case st == nil:
			errs[i] = saveErr("INVALID_TYPE", "sObject type '"+typ+"' is not supported.")
		case insert && recordID(rec) != "":
			errs[i] = saveErr("INVALID_FIELD", "cannot specify Id in an insert call", "Id")
		case insert:
			ins[i], errs[i] = o.prepInsert(st, input{vals: rec, allowSave: allowSave(c.r)}, t)
		default:
			id := recordID(rec)
			if id == "" {
				errs[i] = saveErr("MISSING_ARGUMENT", "Id not specified in an update call", "Id")
				break
			}
			rst, idx, err := o.liveRecord(id, st)
			if err != nil {
				errs[i] = saveErr(err.Code, err.Message, err.Fields...)
				break
			}
			ups[i], errs[i] = o.prepUpdate(rst, idx, input{vals: rec, allowSave: allowSave(c.r)}, t)
		}
		failed = failed || errs[i] != nil
	}
	o.finishSaves(c, t, errs, ins, ups, failed && body.AllOrNone, false)
}

// collectionBody is the request body of a Collections write.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// readCollection parses a Collections write body and enforces the
// 200-record limit; on failure it has already answered the request.
func readCollection(c *reqCtx) (collectionBody, bool) {
	var body collectionBody
	if err := readJSON(c.r, &body); err != nil {
		jsonParseErr(c, err)
		return body, false
	}
	if len(body.Records) > 200 {
		writeErr(c.w, 400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return body, false
	}
	return body, true
}

// finishSaves ends a Collections write: with rollback set (allOrNone and
// some record failed) nothing is applied and every record reports its error
// or ALL_OR_NONE_OPERATION_ROLLED_BACK; otherwise the prepared inserts and
// updates are applied. withCreated adds upsert's "created" flag. The
// caller holds o.mu.
func (o *Org) finishSaves(c *reqCtx, t wtx, errs []*Error, ins []*pendingInsert, ups []*pendingUpdate, rollback, withCreated bool) {
	out := make([]saveResult, len(errs))
	if rollback {
		undoInserts(ins)
		for i := range out {
			e := errs[i]
			if e == nil {
				e = rolledBack
			}
			out[i] = saveResult{Errors: toSave(e)}
			if ups[i] != nil && !withCreated {
				id := makeID(ups[i].st.obj.KeyPrefix, idCounter+ups[i].idx)
				out[i].ID = &id
			}
		}
		writeJSON(c.w, 200, out)
		return
	}
	for i := range out {
		var id string
		switch {
		case errs[i] != nil:
			out[i] = saveResult{Errors: toSave(errs[i])}
			continue
		case ins[i] != nil:
			o.applyInsert(ins[i], t)
			id = makeID(ins[i].st.obj.KeyPrefix, idCounter+ins[i].idx)
		default:
			o.applyUpdate(ups[i], t)
			id = makeID(ups[i].st.obj.KeyPrefix, idCounter+ups[i].idx)
		}
		out[i] = saveResult{ID: &id, Success: true, Errors: []saveJSON{}}
		if withCreated {
			created := ins[i] != nil
			out[i].Created = &created
		}
	}
	o.endWrite(t)
	writeJSON(c.w, 200, out)
}

func (o *Org) collDelete(c *reqCtx, ids []string, allOrNone bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.beginWrite()
	out := make([]saveResult, len(ids))
	type target struct {
		st  *objState
		idx int64
	}
	targets := make([]*target, len(ids))
	failed := false
	for i, id := range ids {
		st, idx, err := o.liveRecord(id, nil)
		if err == nil && !st.obj.Deletable {
			err = saveErr("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
		}
		if err != nil {
			out[i] = saveResult{Errors: toSave(err)}
			if err.Code != "MALFORMED_ID" {
				idc := id
				out[i].ID = &idc
			}
			failed = true
			continue
		}
		targets[i] = &target{st, idx}
	}
	if failed && allOrNone {
		for i := range out {
			if targets[i] != nil {
				id := ids[i]
				out[i] = saveResult{ID: &id, Errors: toSave(rolledBack)}
			}
		}
		writeJSON(c.w, 200, out)
		return
	}
	for i, tg := range targets {
		if tg == nil {
			continue
		}
		if v, _ := tg.st.at(tg.idx, o.seq); v != nil && v.deleted { // cascaded by an earlier id
			id := ids[i]
			out[i] = saveResult{ID: &id, Errors: toSave(&Error{Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}})}
			continue
		}
		o.deleteRec(tg.st, tg.idx, t, "")
		id := makeID(tg.st.obj.KeyPrefix, idCounter+tg.idx)
		out[i] = saveResult{ID: &id, Success: true, Errors: []saveJSON{}}
	}
	o.endWrite(t)
	writeJSON(c.w, 200, out)
}

func (o *Org) collRetrieve(c *reqCtx, object string) {
	var ids, fields []string
	if c.r.Method == http.MethodPost {
		var body struct {
			IDs    []string `json:"ids"`
			Fields []string `json:"fields"`
		}
		if err := readJSON(c.r, &body); err != nil {
			jsonParseErr(c, err)
			return
		}
		ids, fields = body.IDs, body.Fields
	} else {
		q := c.r.URL.Query()
		ids = strings.Split(q.Get("ids"), ",")
		fields = strings.Split(q.Get("fields"), ",")
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	st := o.state(object)
	if st == nil {
		notFound(c.w)
		return
	}
	if len(fields) == 0 || len(fields) == 1 && fields[0] == "" {
		writeErr(c.w, 400, "MISSING_ARGUMENT", "fields: parameter is required")
		return
	}
	p := &parser{o: o, q: strings.Join(fields, ","), st: st}
	var sel []selField
	for _, name := range fields {
		f, err := p.resolve(strings.TrimSpace(name), 0)
		if err != nil {
			writeErr(c.w, 400, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", name, st.obj.Name))
			return
		}
		sel = append(sel, f)
	}
	nodes := jsonPlan(sel)
	e := &evalCtx{o: o, snap: o.seq}
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		var r row
		if _, idx, err := o.liveRecord(strings.TrimSpace(id), st); err == nil {
			v, _ := st.at(idx, o.seq)
			r.reset(o, st, idx, v)
			b = o.appendRecordJSON(b, &r, nodes, c.ver, e)
		} else {
			b = append(b, "null"...)
		}
	}
	b = append(b, ']')
	c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	c.w.WriteHeader(200)
	c.w.Write(b)
}

// tree serves POST /composite/tree/X: nested inserts, all or nothing.
func (o *Org) tree(c *reqCtx, object string) {
	if c.r.Method != http.MethodPost {
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are POST")
		return
	}
	var body struct {
		Records []map[string]any `json:"records"`
	}
	if err := readJSON(c.r, &body); err != nil {
		jsonParseErr(c, err)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	root := o.state(object)
	if root == nil {
		notFound(c.w)
		return
	}
	type result struct {
		ReferenceID string     `json:"referenceId"`
		ID          string     `json:"id,omitempty"`
		Errors      []saveJSON `json:"errors,omitempty"`
	}
	t := o.beginWrite()
	var pend []*pendingInsert
	var results []result
	var failures []result
	total := 0
	var walk func(st *objState, recs []map[string]any, parentField string, parentID string, depth int)
	walk = func(st *objState, recs []map[string]any, parentField, parentID string, depth int) {
		for _, rec := range recs {
			total++
			ref := ""
			if a, ok := rec["attributes"].(map[string]any); ok {
				ref, _ = a["referenceId"].(string)
			}
			fields := map[string]any{}
			var kids []struct {
				rel  ChildRelationship
				recs []map[string]any
			}
			var bad *Error
			for k, v := range rec {
				if k == "attributes" {
					continue
				}
				if m, ok := v.(map[string]any); ok {
					var cr *ChildRelationship
					for i := range st.obj.Children {
						if strings.EqualFold(st.obj.Children[i].RelationshipName, k) {
							cr = &st.obj.Children[i]
						}
					}
					if cr == nil {
						bad = saveErr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, st.obj.Name), k)
						continue
					}
					var rs []map[string]any
					if list, ok := m["records"].([]any); ok {
						for _, x := range list {
							if xm, ok := x.(map[string]any); ok {
								rs = append(rs, xm)
							}
						}
					}
					kids = append(kids, struct {
						rel  ChildRelationship
						recs []map[string]any
					}{*cr, rs})
					continue
				}
				fields[k] = v
			}
			if typ := recordType(rec); bad == nil && !strings.EqualFold(typ, st.obj.Name) {
				bad = saveErr("INVALID_TYPE", fmt.Sprintf("The record type '%s' does not match the type '%s' of the request", typ, st.obj.Name))
			}
			if parentField != "" {
				fields[parentField] = parentID
			}
			var p *pendingInsert
			if bad == nil {
				p, bad = o.prepInsert(st, input{vals: fields, allowSave: allowSave(c.r)}, t)
			}
			if bad != nil {
				failures = append(failures, result{ReferenceID: ref, Errors: toSave(bad)})
				continue
			}
			pend = append(pend, p)
			id := makeID(st.obj.KeyPrefix, idCounter+p.idx)
			results = append(results, result{ReferenceID: ref, ID: id})
			// Children see the parent as a pending record: apply it now and
			// roll back everything on failure.
			o.applyInsert(p, t)
			for _, k := range kids {
				if cst := o.state(k.rel.ChildSObject); cst != nil {
					walk(cst, k.recs, k.rel.Field, id, depth+1)
				}
			}
		}
	}
	walk(root, body.Records, "", "", 1)
	if total > 200 {
		failures = append(failures, result{Errors: toSave(saveErr("LIMIT_EXCEEDED", "Exceeded max limit of 200 records"))})
	}
	if len(failures) > 0 {
		// Roll back: drop the versions of this transaction.
		for i := len(pend) - 1; i >= 0; i-- {
			p := pend[i]
			delete(p.st.recs, p.idx)
			if p.st.n == p.idx+1 {
				p.st.n--
			}
		}
		o.rollbackSeq(t)
		writeJSON(c.w, 400, map[string]any{"hasErrors": true, "results": failures})
		return
	}
	o.endWrite(t)
	writeJSON(c.w, 201, map[string]any{"hasErrors": false, "results": results})
}

// rollbackSeq removes every version written by transaction t (side effects
// such as ContentDocuments created for versions).
func (o *Org) rollbackSeq(t wtx) {
	for _, st := range o.objs {
		for idx, v := range st.recs {
			if v.seq != t.seq {
				continue
			}
			if v.prev == nil {
				delete(st.recs, idx)
				if idx == st.n-1 && idx >= st.genN {
					st.n--
				}
			} else {
				st.recs[idx] = v.prev
			}
		}
	}
}

// collUpsert serves PATCH /composite/sobjects/X/ExtField: each record is
// matched on the external id field; no match inserts, one match updates,
// several matches fail that record with DUPLICATE_EXTERNAL_ID. Results carry
// "created". With allOrNone, any failure rolls every record back.
func (o *Org) collUpsert(c *reqCtx, object, extField string) {
	st := o.state(object)
	if st == nil {
		writeErr(c.w, 404, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	f := st.obj.Field(extField)
	if f == nil || !(f.ExternalID || f.IDLookup) {
		writeErr(c.w, 400, "INVALID_FIELD", "Field name provided, "+extField+" is not an External ID or indexed field for "+object)
		return
	}
	body, ok := readCollection(c)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.beginWrite()
	errs := make([]*Error, len(body.Records))
	ins := make([]*pendingInsert, len(body.Records))
	ups := make([]*pendingUpdate, len(body.Records))
	failed := false
	for i, rec := range body.Records {
		if typ := recordType(rec); typ != "" && !strings.EqualFold(typ, object) {
			errs[i] = saveErr("INVALID_FIELD", "sObject type '"+typ+"' does not match the upsert object "+object)
			failed = true
			continue
		}
		val, _ := rec[f.Name].(string)
		if val == "" {
			errs[i] = saveErr("MISSING_ARGUMENT", f.Name+" not specified", f.Name)
			failed = true
			continue
		}
		switch idxs := o.findByField(st, f, val); len(idxs) {
		case 0:
			ins[i], errs[i] = o.prepInsert(st, input{vals: rec, allowSave: allowSave(c.r)}, t)
		case 1:
			upd := map[string]any{}
			for k, v := range rec {
				if k != f.Name && k != "attributes" {
					upd[k] = v
				}
			}
			ups[i], errs[i] = o.prepUpdate(st, idxs[0], input{vals: upd, allowSave: allowSave(c.r)}, t)
		default:
			errs[i] = saveErr("DUPLICATE_EXTERNAL_ID", "The external ID provided ("+val+") matches more than one record", f.Name)
		}
		failed = failed || errs[i] != nil
	}
	o.finishSaves(c, t, errs, ins, ups, failed && body.AllOrNone, true)
}
