package sftest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ---- JSON output of records ----

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONValue appends a field value as REST JSON prints it.
func (o *Org) appendJSONValue(b []byte, r *row, f *Field, ver string) []byte {
	if f.Parts != nil {
		return o.appendCompound(b, r, f)
	}
	v := r.val(f)
	switch v.K {
	case KNull:
		return append(b, "null"...)
	case KString:
		if f.Type == "base64" {
			return appendJSONString(b, "/services/data/v"+ver+"/sobjects/"+r.st.obj.Name+"/"+r.id()+"/"+f.Name)
		}
		return appendJSONString(b, v.S)
	case KBool, KInt, KFloat:
		return v.appendCSV(b)
	case KDateTime:
		b = append(b, '"')
		b = appendDateTime(b, v.I, false)
		return append(b, '"')
	}
	b = append(b, '"')
	b = v.appendCSV(b)
	return append(b, '"')
}

// appendCompound prints an address or location as a JSON object.
func (o *Org) appendCompound(b []byte, r *row, f *Field) []byte {
	obj := r.st.obj
	vals := make([]Value, len(f.Parts))
	any := false
	for k, p := range f.Parts {
		vals[k] = r.val(obj.Field(p))
		any = any || !vals[k].IsNull()
	}
	if !any {
		return append(b, "null"...)
	}
	var keys []string
	if f.Type == "location" {
		keys = []string{"latitude", "longitude"}
	} else {
		keys = []string{"street", "city", "state", "postalCode", "country", "latitude", "longitude", "geocodeAccuracy"}
	}
	order := []int{1, 4, 7, 5, 6, 3, 2, 0} // alphabetical: city country geocodeAccuracy latitude longitude postalCode state street
	if f.Type == "location" {
		order = []int{0, 1}
	}
	b = append(b, '{')
	for n, k := range order {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, keys[k])
		b = append(b, ':')
		v := vals[k]
		switch v.K {
		case KNull:
			b = append(b, "null"...)
		case KString:
			b = appendJSONString(b, v.S)
		default:
			b = v.appendCSV(b)
		}
	}
	return append(b, '}')
}

// jnode is the JSON shape of a select list: leaves and nested parents.
type jnode struct {
	name  string // JSON key
	field *Field // leaf field, when known statically
	fname string // leaf field name (polymorphic parents resolve per row)
	rel   *Field // reference field of a parent node
	kids  []*jnode
}

func jsonPlan(fields []selField) []*jnode {
	var roots []*jnode
	for _, f := range fields {
		level := &roots
		for _, rel := range f.rels {
			var n *jnode
			for _, x := range *level {
				if x.rel == rel {
					n = x
				}
			}
			if n == nil {
				n = &jnode{name: rel.RelationshipName, rel: rel}
				*level = append(*level, n)
			}
			level = &n.kids
		}
		dup := false
		for _, x := range *level {
			if x.rel == nil && x.fname == f.name {
				dup = true
			}
		}
		if !dup {
			*level = append(*level, &jnode{name: f.name, field: f.final, fname: f.name})
		}
	}
	return roots
}

func (o *Org) appendRecordJSON(b []byte, r *row, nodes []*jnode, ver string, e *evalCtx) []byte {
	id := r.id()
	b = append(b, `{"attributes":{"type":`...)
	b = appendJSONString(b, r.st.obj.Name)
	b = append(b, `,"url":"/services/data/v`...)
	b = append(b, ver...)
	b = append(b, "/sobjects/"...)
	b = append(b, r.st.obj.Name...)
	b = append(b, '/')
	b = append(b, id...)
	b = append(b, `"}`...)
	for _, n := range nodes {
		b = append(b, ',')
		b = appendJSONString(b, n.name)
		b = append(b, ':')
		if n.rel == nil {
			f := n.field
			if f == nil || f.pos >= len(r.st.obj.Fields) || r.st.obj.Fields[f.pos] != f {
				f = r.st.obj.Field(n.fname)
			}
			if f == nil {
				b = append(b, "null"...)
				continue
			}
			b = o.appendJSONValue(b, r, f, ver)
			continue
		}
		pid := r.val(n.rel)
		var p row
		if pid.IsNull() || !o.parentRow(&p, pid.S, e.snap) {
			b = append(b, "null"...)
			continue
		}
		b = o.appendRecordJSON(b, &p, n.kids, ver, e)
	}
	return append(b, '}')
}

// parentRow loads the live record id as of snap into p.
func (o *Org) parentRow(p *row, id string, snap uint64) bool {
	st, idx, ok := o.locate(id)
	if !ok {
		return false
	}
	v, ok := st.at(idx, snap)
	if !ok || v != nil && v.deleted {
		return false
	}
	p.reset(o, st, idx, v)
	return true
}

// allFields selects every field of an object (GET of a record).
func allFields(obj *Object) []selField {
	var fs []selField
	for _, f := range obj.Fields {
		fs = append(fs, selField{final: f, name: f.Name, path: f.Name})
	}
	return fs
}

// ---- sobjects ----

func (o *Org) routeSObjects(c *reqCtx) {
	s := c.segs[1:]
	if len(s) == 0 {
		if c.r.Method != http.MethodGet {
			writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET")
			return
		}
		o.describeGlobal(c)
		return
	}
	o.mu.RLock()
	st := o.state(s[0])
	o.mu.RUnlock()
	if st == nil {
		notFound(c.w)
		return
	}
	switch {
	case len(s) == 1:
		switch c.r.Method {
		case http.MethodGet:
			o.mu.RLock()
			m := map[string]any{"objectDescribe": globalEntry(st.obj, c.ver), "recentItems": []any{}}
			o.mu.RUnlock()
			writeJSON(c.w, 200, m)
		case http.MethodPost:
			o.createOne(c, st)
		default:
			writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET,POST")
		}
	case len(s) == 2 && strings.EqualFold(s[1], "describe"):
		o.mu.RLock()
		mod := st.obj.Modified
		o.mu.RUnlock()
		if notModified(c, mod) {
			return
		}
		o.mu.RLock()
		m := o.describeObject(st, c.ver)
		o.mu.RUnlock()
		writeJSON(c.w, 200, m)
	case len(s) == 2 && strings.EqualFold(s[1], "updated"):
		o.getUpdated(c, st)
	case len(s) == 2 && strings.EqualFold(s[1], "deleted"):
		o.getDeleted(c, st)
	case len(s) == 2:
		o.recordOp(c, st, s[1])
	case len(s) == 3:
		if f := st.obj.Field(s[1]); f != nil && (f.ExternalID || f.IDLookup) && f.Type != "base64" {
			o.upsertOne(c, st, f, s[2])
			return
		}
		o.blobGet(c, st, s[1], s[2])
	default:
		notFound(c.w)
	}
}

// readBody decodes a JSON object body (numbers kept exact).
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
	dec.UseNumber()
	return dec.Decode(v)
}

// readFields reads a record body (field → value); on bad JSON it answers
// the error and returns false.
func readFields(c *reqCtx) (map[string]any, bool) {
	fields := map[string]any{}
	if err := readJSON(c.r, &fields); err != nil {
		jsonParseErr(c, err)
		return nil, false
	}
	return fields, true
}

func jsonParseErr(c *reqCtx, err error) {
	writeErr(c.w, 400, "JSON_PARSER_ERROR", "The request body is either invalid or incomplete: "+err.Error())
}

// createOne serves POST sobjects/X (JSON, or multipart with a blob part).
func (o *Org) createOne(c *reqCtx, st *objState) {
	fields := map[string]any{}
	mt, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(c.r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeErr(c.w, 400, "MALFORMED_REQUEST", "bad multipart body: "+err.Error())
				return
			}
			data, _ := io.ReadAll(part)
			if part.FormName() == "entity_content" || part.FormName() == "entity_document" || part.FormName() == "entity_attachment" {
				d := json.NewDecoder(strings.NewReader(string(data)))
				d.UseNumber()
				if err := d.Decode(&fields); err != nil {
					jsonParseErr(c, err)
					return
				}
				continue
			}
			fields[part.FormName()] = base64.StdEncoding.EncodeToString(data)
		}
	} else if err := readJSON(c.r, &fields); err != nil {
		jsonParseErr(c, err)
		return
	}
	id, err := o.insert(st.obj.Name, input{vals: fields, allowSave: allowSave(c.r)})
	if err != nil {
		writeError(c.w, err.(*Error))
		return
	}
	writeJSON(c.w, 201, map[string]any{"id": id, "success": true, "errors": []any{}})
}

func (o *Org) recordOp(c *reqCtx, st *objState, id string) {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		o.mu.RLock()
		defer o.mu.RUnlock()
		_, idx, err := o.liveRecord(id, st)
		if err != nil {
			writeError(c.w, err)
			return
		}
		fields := allFields(st.obj)
		if fl := c.r.URL.Query().Get("fields"); fl != "" {
			fields = nil
			p := &parser{o: o, q: fl, st: st}
			for _, name := range strings.Split(fl, ",") {
				f, err := p.resolve(strings.TrimSpace(name), 0)
				if err != nil {
					writeErr(c.w, 400, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", name, st.obj.Name))
					return
				}
				fields = append(fields, f)
			}
		}
		v, _ := st.at(idx, o.seq)
		var r row
		r.reset(o, st, idx, v)
		b := o.appendRecordJSON(nil, &r, jsonPlan(fields), c.ver, &evalCtx{o: o, snap: o.seq})
		c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		c.w.WriteHeader(200)
		c.w.Write(b)
	case http.MethodPatch:
		fields, ok := readFields(c)
		if !ok {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		rst, idx, err := o.liveRecord(id, st)
		if err != nil {
			writeError(c.w, err)
			return
		}
		t := o.beginWrite()
		p, err := o.prepUpdate(rst, idx, input{vals: fields, allowSave: allowSave(c.r)}, t)
		if err != nil {
			writeErr2(c.w, err)
			return
		}
		o.applyUpdate(p, t)
		o.endWrite(t)
		c.w.WriteHeader(204)
	case http.MethodDelete:
		o.mu.Lock()
		defer o.mu.Unlock()
		rst, idx, err := o.liveRecord(id, st)
		if err != nil {
			writeError(c.w, err)
			return
		}
		t := o.beginWrite()
		if err := o.deleteRec(rst, idx, t, ""); err != nil {
			writeErr2(c.w, err)
			return
		}
		o.endWrite(t)
		c.w.WriteHeader(204)
	default:
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are HEAD,GET,PATCH,DELETE")
	}
}

// writeErr2 writes a save error as a request error (single-record calls
// answer 400 with errorCode = the save result's statusCode).
func writeErr2(w http.ResponseWriter, e *Error) { writeError(w, e) }

// findByField returns the live indexes whose field f equals value.
func (o *Org) findByField(st *objState, f *Field, value string) []int64 {
	var out []int64
	var r row
	for idx := int64(0); idx < st.n; idx++ {
		v, ok := st.at(idx, o.seq)
		if !ok || v != nil && v.deleted {
			continue
		}
		r.reset(o, st, idx, v)
		x := r.val(f)
		if f.Type == "id" {
			if strings.EqualFold(x.S, To18(value)) || x.S == value {
				out = append(out, idx)
			}
			continue
		}
		if !x.IsNull() && strings.EqualFold(string(x.appendCSV(nil)), value) {
			out = append(out, idx)
		}
	}
	return out
}

// upsertOne serves sobjects/X/ExtField/value: GET, PATCH (upsert), DELETE.
func (o *Org) upsertOne(c *reqCtx, st *objState, f *Field, value string) {
	switch c.r.Method {
	case http.MethodGet:
		o.mu.RLock()
		idxs := o.findByField(st, f, value)
		o.mu.RUnlock()
		if len(idxs) == 0 {
			notFound(c.w)
			return
		}
		c.segs = []string{"sobjects", st.obj.Name, makeID(st.obj.KeyPrefix, idCounter+idxs[0])}
		o.recordOp(c, st, c.segs[2])
	case http.MethodPatch:
		fields, ok := readFields(c)
		if !ok {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		idxs := o.findByField(st, f, value)
		t := o.beginWrite()
		switch len(idxs) {
		case 0:
			if c.r.URL.Query().Get("updateOnly") == "true" {
				notFound(c.w)
				return
			}
			if f.Name != "Id" {
				fields[f.Name] = value
			}
			p, err := o.prepInsert(st, input{vals: fields, allowSave: allowSave(c.r)}, t)
			if err != nil {
				writeErr2(c.w, err)
				return
			}
			o.applyInsert(p, t)
			o.endWrite(t)
			writeJSON(c.w, 201, map[string]any{"id": makeID(st.obj.KeyPrefix, idCounter+p.idx), "success": true, "errors": []any{}, "created": true})
		case 1:
			delete(fields, f.Name)
			p, err := o.prepUpdate(st, idxs[0], input{vals: fields, allowSave: allowSave(c.r)}, t)
			if err != nil {
				writeErr2(c.w, err)
				return
			}
			o.applyUpdate(p, t)
			o.endWrite(t)
			writeJSON(c.w, 200, map[string]any{"id": makeID(st.obj.KeyPrefix, idCounter+idxs[0]), "success": true, "errors": []any{}, "created": false})
		default:
			var urls []string
			for _, idx := range idxs {
				urls = append(urls, "/services/data/v"+c.ver+"/sobjects/"+st.obj.Name+"/"+makeID(st.obj.KeyPrefix, idCounter+idx))
			}
			writeJSON(c.w, 300, urls)
		}
	case http.MethodDelete:
		o.mu.RLock()
		idxs := o.findByField(st, f, value)
		o.mu.RUnlock()
		if len(idxs) == 0 {
			notFound(c.w)
			return
		}
		o.recordOp(c, st, makeID(st.obj.KeyPrefix, idCounter+idxs[0]))
	default:
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET,PATCH,DELETE")
	}
}

// blobGet streams a base64 field's content (sobjects/X/Id/Field).
func (o *Org) blobGet(c *reqCtx, st *objState, id, field string) {
	if c.r.Method != http.MethodGet {
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET")
		return
	}
	o.mu.RLock()
	_, idx, err := o.liveRecord(id, st)
	if err != nil {
		o.mu.RUnlock()
		writeError(c.w, err)
		return
	}
	f := st.obj.Field(field)
	if f == nil || f.Type != "base64" {
		o.mu.RUnlock()
		notFound(c.w)
		return
	}
	v, _ := st.at(idx, o.seq)
	var r row
	r.reset(o, st, idx, v)
	val := r.val(f)
	ctype := "application/octet-stream"
	for _, n := range []string{"ContentType", "FileExtension"} {
		if x := r.get(n); !x.IsNull() && strings.Contains(x.S, "/") {
			ctype = x.S
		}
	}
	var mem []byte
	pool := -1
	if k, ok := strings.CutPrefix(val.S, "\x00pool:"); ok {
		pool, _ = strconv.Atoi(k)
	} else {
		mem = o.blobs[val.S]
	}
	o.mu.RUnlock()
	if val.IsNull() {
		notFound(c.w)
		return
	}
	c.w.Header().Set("Content-Type", ctype)
	if pool >= 0 {
		c.w.Header().Set("Content-Length", strconv.FormatInt(o.pool.size(pool), 10))
		c.w.WriteHeader(200)
		o.pool.write(c.w, pool)
		return
	}
	c.w.Header().Set("Content-Length", strconv.Itoa(len(mem)))
	c.w.WriteHeader(200)
	c.w.Write(mem)
}

// ---- query ----

func (o *Org) restQuery(c *reqCtx, all bool) {
	if c.r.Method != http.MethodGet {
		writeErr(c.w, 405, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET")
		return
	}
	batch := int64(o.opts.QueryBatchSize)
	if h := c.r.Header.Get("Sforce-Query-Options"); h != "" {
		for _, kv := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if strings.EqualFold(k, "batchSize") {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					batch = int64(min(2000, max(200, n)))
				}
			}
		}
	}
	var cur *cursor
	var curID string
	var p pos
	if len(c.segs) == 2 { // queryMore: query/<locator>-<offset>
		loc, offStr, _ := strings.Cut(c.segs[1], "-")
		off, err := strconv.ParseInt(offStr, 10, 64)
		o.api.mu.Lock()
		cur = o.api.cursors[loc]
		o.api.mu.Unlock()
		if cur == nil || err != nil || o.Now().Sub(cur.created) > 48*time.Hour {
			writeErr(c.w, 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
			return
		}
		curID = loc
		var ok bool
		if p, ok = cur.pages[off]; !ok {
			p = o.seek(cur, off)
		}
	} else if len(c.segs) == 1 {
		q := c.r.URL.Query().Get("q")
		if q == "" {
			writeErr(c.w, 400, "MALFORMED_QUERY", "A query string has to be specified")
			return
		}
		o.mu.RLock()
		qq, err := o.parseSOQL(q)
		if err != nil {
			o.mu.RUnlock()
			writeError(c.w, err)
			return
		}
		if c.r.URL.Query().Get("columns") == "true" {
			o.mu.RUnlock()
			o.columnMetadata(c, qq)
			return
		}
		cur = o.open(qq, all)
		o.mu.RUnlock()
		if qq.countOnly {
			writeJSON(c.w, 200, map[string]any{"totalSize": cur.total, "done": true, "records": []any{}})
			return
		}
		if qq.countField {
			writeJSON(c.w, 200, map[string]any{"totalSize": 1, "done": true, "records": []any{
				map[string]any{"attributes": map[string]string{"type": "AggregateResult"}, "expr0": cur.total}}})
			return
		}
	} else {
		notFound(c.w)
		return
	}
	nodes := jsonPlan(cur.q.fields)
	b := make([]byte, 0, 64<<10)
	b = append(b, `{"totalSize":`...)
	b = strconv.AppendInt(b, cur.total, 10)
	var recs []byte
	first := true
	o.mu.RLock()
	np := o.scan(cur, p, batch, func(r *row, e *evalCtx) {
		if !first {
			recs = append(recs, ',')
		}
		first = false
		recs = o.appendRecordJSON(recs, r, nodes, c.ver, e)
	})
	o.mu.RUnlock()
	done := np.emitted >= cur.total
	if done {
		b = append(b, `,"done":true`...)
	} else {
		if curID == "" {
			o.api.mu.Lock()
			o.api.curSeq++
			curID = makeID("01g", idCounter+o.api.curSeq)
			o.api.cursors[curID] = cur
			o.api.mu.Unlock()
		}
		o.api.mu.Lock()
		if cur.pages == nil {
			cur.pages = map[int64]pos{}
		}
		cur.pages[np.emitted] = np
		o.api.mu.Unlock()
		b = append(b, `,"done":false,"nextRecordsUrl":"/services/data/v`...)
		b = append(b, c.ver...)
		b = append(b, "/query/"...)
		b = append(b, curID...)
		b = append(b, '-')
		b = strconv.AppendInt(b, np.emitted, 10)
		b = append(b, '"')
	}
	b = append(b, `,"records":[`...)
	b = append(b, recs...)
	b = append(b, "]}"...)
	c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	c.w.WriteHeader(200)
	c.w.Write(b)
}

// seek finds the position after off rows of a cursor (a locator offset the
// server did not hand out, or one from another page size).
func (o *Org) seek(cur *cursor, off int64) pos {
	if cur.sorted != nil {
		return pos{next: min(off, int64(len(cur.sorted))), emitted: off}
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.scan(cur, pos{}, off, func(*row, *evalCtx) {})
}

// columnMetadata answers query?columns=true (used by the sf CLI to lay out
// its table).
func (o *Org) columnMetadata(c *reqCtx, q *query) {
	type col struct {
		Aggregate   bool   `json:"aggregate"`
		ApexType    any    `json:"apexType"`
		BooleanType bool   `json:"booleanType"`
		ColumnName  string `json:"columnName"`
		Custom      bool   `json:"custom"`
		DisplayName string `json:"displayName"`
		ForeignKey  any    `json:"foreignKeyName"`
		Insertable  bool   `json:"insertable"`
		JoinColumns []*col `json:"joinColumns"`
		NumberType  bool   `json:"numberType"`
		TextType    bool   `json:"textType"`
		Updatable   bool   `json:"updatable"`
	}
	leaf := func(f *Field, name string) *col {
		cl := &col{ColumnName: name, DisplayName: name, JoinColumns: []*col{}, ApexType: "String", TextType: true}
		if f != nil {
			k := kindOf(f.Type)
			cl.Custom, cl.Insertable, cl.Updatable = f.Custom, f.Createable, f.Updateable
			cl.BooleanType, cl.NumberType, cl.TextType = k == KBool, k == KInt || k == KFloat, k == KString
			cl.ApexType = map[Kind]string{KBool: "Boolean", KInt: "Integer", KFloat: "Double", KDate: "Date", KDateTime: "Datetime", KTime: "Time", KString: "String"}[k]
			if f.Type == "id" || f.Type == "reference" {
				cl.ApexType = "Id"
			}
		}
		return cl
	}
	var cols []*col
	if q.countOnly || q.countField {
		cols = append(cols, &col{Aggregate: true, ApexType: "Integer", ColumnName: "expr0", DisplayName: "COUNT()", JoinColumns: []*col{}, NumberType: true})
	}
	for _, f := range q.fields {
		level := &cols
		for _, rel := range f.rels {
			var n *col
			for _, x := range *level {
				if x.ColumnName == rel.RelationshipName {
					n = x
				}
			}
			if n == nil {
				n = &col{ColumnName: rel.RelationshipName, DisplayName: rel.RelationshipName, JoinColumns: []*col{}, ForeignKey: rel.Name}
				*level = append(*level, n)
			}
			level = &n.JoinColumns
		}
		*level = append(*level, leaf(f.final, f.name))
	}
	idSel := false
	for _, f := range q.fields {
		idSel = idSel || len(f.rels) == 0 && f.name == "Id"
	}
	writeJSON(c.w, 200, map[string]any{"columnMetadata": cols, "entityName": q.st.obj.Name, "groupBy": false, "idSelected": idSel, "keyPrefix": q.st.obj.KeyPrefix})
}

// ---- replication ----

func (o *Org) replicationWindow(c *reqCtx, st *objState, days int) (start, end time.Time, ok bool) {
	if !st.obj.Replicateable {
		writeErr(c.w, 400, "INVALID_TYPE_FOR_OPERATION", "entity type "+st.obj.Name+" does not support replication")
		return
	}
	q := c.r.URL.Query()
	parse := func(k string) (time.Time, bool) {
		s := strings.ReplaceAll(q.Get(k), " ", "+") // an unencoded + arrives as a space
		t, ok := parseDateTime(s)
		return t.Truncate(time.Minute), ok
	}
	start, ok1 := parse("start")
	end, ok2 := parse("end")
	if !ok1 || !ok2 {
		writeErr(c.w, 400, "INVALID_REPLICATION_DATE", "start and end must be valid dateTimes")
		return
	}
	now := o.Now()
	if end.After(now) {
		end = now.Truncate(time.Minute)
	}
	if end.Sub(start) < time.Minute {
		writeErr(c.w, 400, "INVALID_REPLICATION_DATE", "startDate must be at least one minute greater than endDate")
		return
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if start.Before(today.AddDate(0, 0, -days)) {
		writeErr(c.w, 400, "INVALID_REPLICATION_DATE", fmt.Sprintf("startDate cannot be more than %d days ago", days))
		return
	}
	return start, end, true
}

func fmtRESTTime(t time.Time) string { return string(appendDateTime(nil, t.UnixMilli(), false)) }

// maxReplicationIDs is the getUpdated/getDeleted cap (EXCEEDED_ID_LIMIT).
var maxReplicationIDs = 600000

func (o *Org) getUpdated(c *reqCtx, st *objState) {
	start, end, ok := o.replicationWindow(c, st, 30)
	if !ok {
		return
	}
	o.mu.RLock()
	f := st.obj.Field("SystemModstamp")
	if f == nil {
		f = st.obj.Field("LastModifiedDate")
	}
	lo, hi := start.UnixMilli(), end.UnixMilli()
	ids := []string{}
	var r row
	tooMany := false
	for idx := int64(0); idx < st.n && !tooMany; idx++ {
		v, ok := st.at(idx, o.seq)
		if !ok || v != nil && v.deleted {
			continue
		}
		r.reset(o, st, idx, v)
		if m := r.val(f); m.I >= lo && m.I < hi {
			ids = append(ids, r.id())
			tooMany = len(ids) > maxReplicationIDs
		}
	}
	latest := min(end.UnixMilli(), o.oldestTxMs())
	o.mu.RUnlock()
	if tooMany {
		writeErr(c.w, 400, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records in one call", maxReplicationIDs))
		return
	}
	lt := time.UnixMilli(latest).UTC().Truncate(time.Minute)
	writeJSON(c.w, 200, map[string]any{"ids": ids, "latestDateCovered": fmtRESTTime(lt)})
}

func (o *Org) getDeleted(c *reqCtx, st *objState) {
	start, end, ok := o.replicationWindow(c, st, 15)
	if !ok {
		return
	}
	type del struct {
		ID          string `json:"id"`
		DeletedDate string `json:"deletedDate"`
	}
	o.mu.RLock()
	recs := []del{}
	earliest := o.Now().AddDate(0, 0, -15).Truncate(time.Minute).UnixMilli()
	for _, e := range st.dlog {
		if e.ms >= start.UnixMilli() && e.ms < end.UnixMilli() {
			recs = append(recs, del{makeID(st.obj.KeyPrefix, idCounter+e.idx), fmtRESTTime(time.UnixMilli(e.ms))})
		}
	}
	if st.purge > earliest {
		earliest = st.purge
	}
	o.mu.RUnlock()
	if len(recs) > maxReplicationIDs {
		writeErr(c.w, 400, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records in one call", maxReplicationIDs))
		return
	}
	writeJSON(c.w, 200, map[string]any{"deletedRecords": recs, "earliestDateAvailable": fmtRESTTime(time.UnixMilli(earliest)), "latestDateCovered": fmtRESTTime(end)})
}
