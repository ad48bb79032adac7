package sfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// getJSON GETs a REST resource and decodes it into v.
func (c *Client) getJSON(ctx context.Context, fam Family, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, &call{family: fam, method: http.MethodGet, path: path, query: q, idempotent: true})
	if err != nil {
		return err
	}
	return decodeJSON(resp, path, v)
}

// sendJSON sends body (marshalled) and decodes the answer into v (if non-nil
// and the answer has a body).
func (c *Client) sendJSON(ctx context.Context, fam Family, method, path string, q url.Values, body, v any, idempotent bool) (*response, error) {
	return c.sendJSONHeader(ctx, fam, method, path, q, nil, body, v, idempotent)
}

// sendJSONHeader is sendJSON with extra request headers.
func (c *Client) sendJSONHeader(ctx context.Context, fam Family, method, path string, q url.Values, h http.Header, body, v any, idempotent bool) (*response, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encoding %s %s request: %w", method, path, err)
		}
	}
	r := &call{family: fam, method: method, path: path, query: q, header: h, body: b, idempotent: idempotent}
	if b != nil {
		r.contentType = "application/json"
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if v != nil && len(resp.body) > 0 {
		return resp, decodeJSON(resp, path, v)
	}
	return resp, nil
}

func decodeJSON(resp *response, path string, v any) error {
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("decoding answer of %s (HTTP %d): %w", pathOnly(path), resp.status, err)
	}
	return nil
}

// Version is one entry of GET /services/data.
type Version struct {
	Label   string `json:"label"`
	URL     string `json:"url"`
	Version string `json:"version"`
}

// Versions lists the API versions the instance serves. It needs no
// authentication but an instance URL (from Config or a token).
func (c *Client) Versions(ctx context.Context) ([]Version, error) {
	var vs []Version
	r := &call{family: FamilyREST, method: http.MethodGet, path: "/services/data", idempotent: true, noAuth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return vs, decodeJSON(resp, r.path, &vs)
}

// Limit is one entry of /limits. Some entries nest per-app or sub-limits.
type Limit struct {
	Max       int64
	Remaining int64
	Sub       map[string]Limit
}

func (l *Limit) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		switch k {
		case "Max":
			if err := json.Unmarshal(v, &l.Max); err != nil {
				return err
			}
		case "Remaining":
			if err := json.Unmarshal(v, &l.Remaining); err != nil {
				return err
			}
		default:
			var sub Limit
			if json.Unmarshal(v, &sub) == nil {
				if l.Sub == nil {
					l.Sub = map[string]Limit{}
				}
				l.Sub[k] = sub
			}
		}
	}
	return nil
}

// OrgLimits fetches /limits (DailyApiRequests, DailyBulkV2QueryJobs, …).
func (c *Client) OrgLimits(ctx context.Context) (map[string]Limit, error) {
	var m map[string]Limit
	return m, c.getJSON(ctx, FamilyREST, c.dataPath("limits"), nil, &m)
}

// SObjectInfo is an object as describeGlobal lists it. KeyPrefix is empty
// for objects without one.
type SObjectInfo struct {
	Name                string            `json:"name"`
	Label               string            `json:"label"`
	LabelPlural         string            `json:"labelPlural"`
	KeyPrefix           string            `json:"keyPrefix"`
	Custom              bool              `json:"custom"`
	CustomSetting       bool              `json:"customSetting"`
	Createable          bool              `json:"createable"`
	Updateable          bool              `json:"updateable"`
	Deletable           bool              `json:"deletable"`
	Undeletable         bool              `json:"undeletable"`
	Queryable           bool              `json:"queryable"`
	Retrieveable        bool              `json:"retrieveable"`
	Replicateable       bool              `json:"replicateable"`
	Searchable          bool              `json:"searchable"`
	Layoutable          bool              `json:"layoutable"`
	Triggerable         bool              `json:"triggerable"`
	Mergeable           bool              `json:"mergeable"`
	DeprecatedAndHidden bool              `json:"deprecatedAndHidden"`
	URLs                map[string]string `json:"urls"`
}

// GlobalDescribe is the answer of describeGlobal. Raw holds the body as
// received (the engine stores schema as blobs).
type GlobalDescribe struct {
	Encoding     string          `json:"encoding"`
	MaxBatchSize int             `json:"maxBatchSize"`
	SObjects     []SObjectInfo   `json:"sobjects"`
	Raw          json.RawMessage `json:"-"`
}

// KeyPrefixes maps key prefix → object name (objects without a prefix are
// left out).
func (g *GlobalDescribe) KeyPrefixes() map[string]string {
	m := make(map[string]string, len(g.SObjects))
	for _, o := range g.SObjects {
		if o.KeyPrefix != "" {
			m[o.KeyPrefix] = o.Name
		}
	}
	return m
}

// ObjectForID returns the object whose key prefix starts id, or "".
func (g *GlobalDescribe) ObjectForID(id string) string {
	if len(id) < 3 {
		return ""
	}
	for _, o := range g.SObjects {
		if o.KeyPrefix == id[:3] {
			return o.Name
		}
	}
	return ""
}

// Field is a field of an sObject describe; the properties a backup and a
// restore need. Nullable strings decode to "".
type Field struct {
	Name                  string          `json:"name"`
	Label                 string          `json:"label"`
	Type                  string          `json:"type"`
	SoapType              string          `json:"soapType"`
	Length                int             `json:"length"`
	ByteLength            int             `json:"byteLength"`
	Precision             int             `json:"precision"`
	Scale                 int             `json:"scale"`
	Digits                int             `json:"digits"`
	Calculated            bool            `json:"calculated"`
	AutoNumber            bool            `json:"autoNumber"`
	Createable            bool            `json:"createable"`
	Updateable            bool            `json:"updateable"`
	Nillable              bool            `json:"nillable"`
	DefaultedOnCreate     bool            `json:"defaultedOnCreate"`
	ExternalID            bool            `json:"externalId"`
	IDLookup              bool            `json:"idLookup"`
	Unique                bool            `json:"unique"`
	CaseSensitive         bool            `json:"caseSensitive"`
	Custom                bool            `json:"custom"`
	NameField             bool            `json:"nameField"`
	DeprecatedAndHidden   bool            `json:"deprecatedAndHidden"`
	CascadeDelete         bool            `json:"cascadeDelete"`
	RestrictedDelete      bool            `json:"restrictedDelete"`
	PolymorphicForeignKey bool            `json:"polymorphicForeignKey"`
	Filterable            bool            `json:"filterable"`
	Sortable              bool            `json:"sortable"`
	ReferenceTo           []string        `json:"referenceTo"`
	RelationshipName      string          `json:"relationshipName"`
	CompoundFieldName     string          `json:"compoundFieldName"`
	CalculatedFormula     string          `json:"calculatedFormula"`
	PicklistValues        []PicklistValue `json:"picklistValues"`
}

// ValueKind is the kind of value a field holds: how backup canonicalises
// its values and how a filter compares them. Both read it from here, so
// they cannot disagree about a type.
type ValueKind uint8

const (
	KindString   ValueKind = iota // text: string, textarea, picklist, email, phone, url…
	KindAny                       // anyType: each value is what its JSON says
	KindBool                      // boolean
	KindNumber                    // int, long, double, currency, percent
	KindDate                      // date
	KindDateTime                  // datetime
	KindTime                      // time
	KindID                        // id, reference
)

func (k ValueKind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

var valueKindNames = [...]string{"string", "anyType", "boolean", "number", "date", "datetime", "time", "id"}

// ValueKind returns the kind of f's values: from its describe type, or
// its soapType for a type this code does not know (text if neither says).
func (f Field) ValueKind() ValueKind {
	switch strings.ToLower(f.Type) {
	case "boolean":
		return KindBool
	case "int", "long", "double", "currency", "percent":
		return KindNumber
	case "date":
		return KindDate
	case "datetime":
		return KindDateTime
	case "time":
		return KindTime
	case "id", "reference":
		return KindID
	case "anytype":
		return KindAny
	case "string", "textarea", "picklist", "multipicklist", "combobox", "email", "phone", "url",
		"encryptedstring", "datacategorygroupreference":
		return KindString
	}
	switch f.SoapType {
	case "xsd:boolean":
		return KindBool
	case "xsd:int", "xsd:long", "xsd:double":
		return KindNumber
	case "xsd:date":
		return KindDate
	case "xsd:dateTime":
		return KindDateTime
	case "xsd:time":
		return KindTime
	case "tns:ID":
		return KindID
	case "xsd:anyType":
		return KindAny
	}
	return KindString
}

// PicklistValue is one value of a picklist field.
type PicklistValue struct {
	Value        string `json:"value"`
	Label        string `json:"label"`
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
}

// ChildRelationship is an entry of a describe's childRelationships.
type ChildRelationship struct {
	ChildSObject     string `json:"childSObject"`
	Field            string `json:"field"`
	RelationshipName string `json:"relationshipName"`
	CascadeDelete    bool   `json:"cascadeDelete"`
	RestrictedDelete bool   `json:"restrictedDelete"`
}

// SObjectDescribe is an sObject describe. Raw holds the body as received.
// Values returned by Describe are shared with the cache: treat them as
// read-only.
type SObjectDescribe struct {
	SObjectInfo
	Fields             []Field             `json:"fields"`
	ChildRelationships []ChildRelationship `json:"childRelationships"`
	Raw                json.RawMessage     `json:"-"`
}

// Field returns the named field (case-insensitive), or nil.
func (d *SObjectDescribe) Field(name string) *Field {
	for i := range d.Fields {
		if strings.EqualFold(d.Fields[i].Name, name) {
			return &d.Fields[i]
		}
	}
	return nil
}

// describeCache keeps describes between calls; revalidated with
// If-Modified-Since so an unchanged schema costs a 304 and no body.
type describeCache struct {
	mu      sync.Mutex
	entries map[string]describeEntry
}

type describeEntry struct {
	value   any    // *GlobalDescribe or *SObjectDescribe
	lastMod string // value for If-Modified-Since
}

func (dc *describeCache) lookup(key string) (describeEntry, bool) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	e, ok := dc.entries[key]
	return e, ok
}

func (dc *describeCache) store(key string, e describeEntry) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.entries == nil {
		dc.entries = map[string]describeEntry{}
	}
	dc.entries[key] = e
}

// ForgetDescribes empties the describe cache.
func (c *Client) ForgetDescribes() {
	c.describes.mu.Lock()
	c.describes.entries = nil
	c.describes.mu.Unlock()
}

// describe fetches path into a fresh value from newV, reusing the cached one
// on 304.
func (c *Client) describe(ctx context.Context, key, path string, newV func() any, setRaw func(any, []byte)) (any, error) {
	cached, have := c.describes.lookup(key)
	r := &call{family: FamilyREST, method: http.MethodGet, path: path, idempotent: true}
	if have && cached.lastMod != "" {
		r.header = http.Header{"If-Modified-Since": {cached.lastMod}}
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotModified {
		if have {
			return cached.value, nil
		}
		return nil, fmt.Errorf("describe %s: server answered 304 Not Modified to a request without If-Modified-Since", path)
	}
	v := newV()
	if err := decodeJSON(resp, path, v); err != nil {
		return nil, err
	}
	setRaw(v, resp.body)
	lastMod := resp.header.Get("Last-Modified")
	if lastMod == "" {
		lastMod = resp.header.Get("Date")
	}
	if lastMod == "" {
		lastMod = c.clock.Now().UTC().Format(http.TimeFormat)
	}
	c.describes.store(key, describeEntry{value: v, lastMod: lastMod})
	return v, nil
}

// DescribeGlobal lists the org's objects (cached, revalidated each call).
func (c *Client) DescribeGlobal(ctx context.Context) (*GlobalDescribe, error) {
	v, err := c.describe(ctx, "\x00global", c.dataPath("sobjects"),
		func() any { return new(GlobalDescribe) },
		func(v any, raw []byte) { v.(*GlobalDescribe).Raw = raw })
	if err != nil {
		return nil, err
	}
	return v.(*GlobalDescribe), nil
}

// Describe describes one object (cached, revalidated each call).
func (c *Client) Describe(ctx context.Context, object string) (*SObjectDescribe, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	v, err := c.describe(ctx, strings.ToLower(object), c.dataPath("sobjects", object, "describe"),
		func() any { return new(SObjectDescribe) },
		func(v any, raw []byte) { v.(*SObjectDescribe).Raw = raw })
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", object, err)
	}
	return v.(*SObjectDescribe), nil
}

// checkName rejects object and field names that could escape a URL path.
func checkName(name string) error {
	if name == "" {
		return errors.New("sfapi: empty object or field name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("sfapi: %q is not a valid API name", name)
		}
	}
	return nil
}

// Fields is a record's field values for writes: API name → value (nil
// clears a field).
type Fields = map[string]any

// SaveResult is the per-record outcome of a write.
type SaveResult struct {
	ID      string      `json:"id"`
	Success bool        `json:"success"`
	Created bool        `json:"created"`
	Errors  []ErrorItem `json:"errors"`
}

// Err returns nil for a success, else an *APIError for the first error.
func (s SaveResult) Err() error {
	if s.Success {
		return nil
	}
	e := &APIError{StatusCode: http.StatusBadRequest, All: s.Errors}
	if len(s.Errors) > 0 {
		e.ErrorCode, e.Message, e.Fields = s.Errors[0].Code(), s.Errors[0].Message, s.Errors[0].Fields
	}
	return e
}

// GetRecord reads one record; fields limits the columns (all if empty).
func (c *Client) GetRecord(ctx context.Context, object, id string, fields ...string) (*Record, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	var q url.Values
	if len(fields) > 0 {
		q = url.Values{"fields": {strings.Join(fields, ",")}}
	}
	resp, err := c.do(ctx, &call{family: FamilyREST, method: http.MethodGet, path: c.dataPath("sobjects", object, id), query: q, idempotent: true})
	if err != nil {
		return nil, err
	}
	return newRecord(resp.body)
}

// CreateRecord inserts one record and returns its Id. Not retried after a
// failure that may have inserted it (see Client docs).
func (c *Client) CreateRecord(ctx context.Context, object string, fields Fields) (string, error) {
	if err := checkName(object); err != nil {
		return "", err
	}
	var sr SaveResult
	if _, err := c.sendJSON(ctx, FamilyREST, http.MethodPost, c.dataPath("sobjects", object), nil, fields, &sr, false); err != nil {
		return "", err
	}
	if err := sr.Err(); err != nil {
		return "", err
	}
	return sr.ID, nil
}

// UpdateRecord updates one record.
func (c *Client) UpdateRecord(ctx context.Context, object, id string, fields Fields) error {
	if err := checkName(object); err != nil {
		return err
	}
	if err := ValidateID(id); err != nil {
		return err
	}
	_, err := c.sendJSON(ctx, FamilyREST, http.MethodPatch, c.dataPath("sobjects", object, id), nil, fields, nil, true)
	return err
}

// UpsertRecord inserts or updates by external id. Salesforce answers 201
// when it inserted and 200 (with a body) or 204 (older versions) when it
// updated.
func (c *Client) UpsertRecord(ctx context.Context, object, extIDField, extID string, fields Fields) (SaveResult, error) {
	if err := checkName(object); err != nil {
		return SaveResult{}, err
	}
	if err := checkName(extIDField); err != nil {
		return SaveResult{}, err
	}
	var sr SaveResult
	resp, err := c.sendJSON(ctx, FamilyREST, http.MethodPatch, c.dataPath("sobjects", object, extIDField, url.PathEscape(extID)), nil, fields, &sr, true)
	if err != nil {
		return SaveResult{}, err
	}
	if len(resp.body) == 0 {
		sr.Success = true
	}
	sr.Created = resp.status == http.StatusCreated || sr.Created
	return sr, sr.Err()
}

// DeleteRecord deletes one record (to the Recycle Bin).
func (c *Client) DeleteRecord(ctx context.Context, object, id string) error {
	if err := checkName(object); err != nil {
		return err
	}
	if err := ValidateID(id); err != nil {
		return err
	}
	_, err := c.do(ctx, &call{family: FamilyREST, method: http.MethodDelete, path: c.dataPath("sobjects", object, id), idempotent: true})
	return err
}

// MaxCollection is the most records one sObject Collections call carries.
const MaxCollection = 200

// CollectionOptions tunes Collections writes.
type CollectionOptions struct {
	// AllOrNone rolls back the whole call when any record fails. Only
	// honoured within one call, so it is refused for more than 200 records.
	AllOrNone bool
	// AllowDuplicates saves records that an active duplicate rule would
	// block (Sforce-Duplicate-Rule-Header: allowSave=true); rules that
	// only alert never block.
	AllowDuplicates bool
}

// DuplicateRuleHeader is the header that lets a write save duplicates.
const DuplicateRuleHeader = "Sforce-Duplicate-Rule-Header"

func withType(object string, recs []Fields) ([]Fields, error) {
	out := make([]Fields, len(recs))
	for i, r := range recs {
		m := make(Fields, len(r)+1)
		for k, v := range r {
			m[k] = v
		}
		if _, ok := m["attributes"]; !ok {
			if object == "" {
				return nil, fmt.Errorf("record %d has no attributes.type", i)
			}
			m["attributes"] = map[string]string{"type": object}
		}
		out[i] = m
	}
	return out, nil
}

// collection runs one Collections write over records in chunks of 200 and
// returns results in input order.
func (c *Client) collection(ctx context.Context, method, path string, records []Fields, opts CollectionOptions, idempotent bool) ([]SaveResult, error) {
	if opts.AllOrNone && len(records) > MaxCollection {
		return nil, fmt.Errorf("sfapi: allOrNone over %d records cannot be atomic (limit %d per call); split the batch", len(records), MaxCollection)
	}
	results := make([]SaveResult, 0, len(records))
	for start := 0; start < len(records); start += MaxCollection {
		chunk := records[start:min(start+MaxCollection, len(records))]
		body := map[string]any{"allOrNone": opts.AllOrNone, "records": chunk}
		var rs []SaveResult
		var h http.Header
		if opts.AllowDuplicates {
			h = http.Header{DuplicateRuleHeader: {"allowSave=true"}}
		}
		if _, err := c.sendJSONHeader(ctx, FamilyREST, method, path, nil, h, body, &rs, idempotent); err != nil {
			return results, fmt.Errorf("records %d–%d: %w", start, start+len(chunk)-1, err)
		}
		if len(rs) != len(chunk) {
			return results, fmt.Errorf("records %d–%d: Salesforce returned %d results for %d records", start, start+len(chunk)-1, len(rs), len(chunk))
		}
		results = append(results, rs...)
	}
	return results, nil
}

// CreateRecords inserts records (sObject Collections, ≤200 per call). Each
// record gets attributes.type = object unless it has attributes already
// (object may then be ""). Per-record failures are in the results, not the
// error.
func (c *Client) CreateRecords(ctx context.Context, object string, records []Fields, opts CollectionOptions) ([]SaveResult, error) {
	recs, err := withType(object, records)
	if err != nil {
		return nil, err
	}
	return c.collection(ctx, http.MethodPost, c.dataPath("composite", "sobjects"), recs, opts, false)
}

// UpdateRecords updates records; each must carry "Id".
func (c *Client) UpdateRecords(ctx context.Context, object string, records []Fields, opts CollectionOptions) ([]SaveResult, error) {
	recs, err := withType(object, records)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if _, ok := r["Id"]; !ok {
			if _, ok := r["id"]; !ok {
				return nil, fmt.Errorf("update record %d has no Id", i)
			}
		}
	}
	return c.collection(ctx, http.MethodPatch, c.dataPath("composite", "sobjects"), recs, opts, true)
}

// UpsertRecords upserts records of one object on extIDField.
func (c *Client) UpsertRecords(ctx context.Context, object, extIDField string, records []Fields, opts CollectionOptions) ([]SaveResult, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	if err := checkName(extIDField); err != nil {
		return nil, err
	}
	recs, err := withType(object, records)
	if err != nil {
		return nil, err
	}
	return c.collection(ctx, http.MethodPatch, c.dataPath("composite", "sobjects", object, extIDField), recs, opts, true)
}

// DeleteRecords deletes records by Id (≤200 per call).
func (c *Client) DeleteRecords(ctx context.Context, ids []string, opts CollectionOptions) ([]SaveResult, error) {
	if opts.AllOrNone && len(ids) > MaxCollection {
		return nil, fmt.Errorf("sfapi: allOrNone over %d records cannot be atomic (limit %d per call); split the batch", len(ids), MaxCollection)
	}
	for _, id := range ids {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
	}
	results := make([]SaveResult, 0, len(ids))
	for start := 0; start < len(ids); start += MaxCollection {
		chunk := ids[start:min(start+MaxCollection, len(ids))]
		q := url.Values{"ids": {strings.Join(chunk, ",")}, "allOrNone": {fmt.Sprint(opts.AllOrNone)}}
		resp, err := c.do(ctx, &call{family: FamilyREST, method: http.MethodDelete, path: c.dataPath("composite", "sobjects"), query: q, idempotent: true})
		if err != nil {
			return results, err
		}
		var rs []SaveResult
		if err := decodeJSON(resp, "composite/sobjects", &rs); err != nil {
			return results, err
		}
		results = append(results, rs...)
	}
	return results, nil
}

// RetrieveRecords reads records of one object by Id (POST form, 2,000 ids
// per call). The result has one entry per id, in order; nil where the
// record was not found.
func (c *Client) RetrieveRecords(ctx context.Context, object string, ids, fields []string) ([]*Record, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, errors.New("sfapi: RetrieveRecords needs at least one field")
	}
	out := make([]*Record, 0, len(ids))
	const per = 2000
	for start := 0; start < len(ids); start += per {
		chunk := ids[start:min(start+per, len(ids))]
		var raws []json.RawMessage
		if _, err := c.sendJSON(ctx, FamilyREST, http.MethodPost, c.dataPath("composite", "sobjects", object), nil,
			map[string]any{"ids": chunk, "fields": fields}, &raws, true); err != nil {
			return out, err
		}
		for _, raw := range raws {
			if string(raw) == "null" {
				out = append(out, nil)
				continue
			}
			rec, err := newRecord(raw)
			if err != nil {
				return out, err
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// TreeResult is the answer of an sObject Tree insert.
type TreeResult struct {
	HasErrors bool `json:"hasErrors"`
	Results   []struct {
		ReferenceID string      `json:"referenceId"`
		ID          string      `json:"id"`
		Errors      []ErrorItem `json:"errors"`
	} `json:"results"`
}

// CreateTree inserts a tree of records rooted at object (≤200 records,
// all-or-nothing). tree is the request body: {"records":[…]} with
// attributes.type and attributes.referenceId on every record. On failure the
// TreeResult is returned with the error so callers can see which reference
// failed.
func (c *Client) CreateTree(ctx context.Context, object string, tree any) (*TreeResult, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	var tr TreeResult
	_, err := c.sendJSON(ctx, FamilyREST, http.MethodPost, c.dataPath("composite", "tree", object), nil, tree, &tr, false)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && len(ae.raw) > 0 && json.Unmarshal(ae.raw, &tr) == nil && tr.HasErrors {
			for _, r := range tr.Results {
				if len(r.Errors) > 0 {
					ae.ErrorCode, ae.Message, ae.Fields = r.Errors[0].Code(), r.ReferenceID+": "+r.Errors[0].Message, r.Errors[0].Fields
					break
				}
			}
			return &tr, ae
		}
		return nil, err
	}
	return &tr, nil
}
