// Package backup takes a Salesforce org into a snapshot repository.
//
// # Canonical records
//
// A record is stored in one encoding whichever API fetched it: the same
// record read through Bulk API 2.0 (CSV), through REST (JSON) or built from
// Go values gives the same record.Record, field for field and byte for byte.
// Otherwise a full snapshot that happened to use the other API would store
// every record again, and diffs would show changes that never happened.
//
// Canon converts rows of one object. It is built from the describe fields
// selected for backup; the conversion of each field is decided by the
// field's describe Type (SoapType when the Type is unknown), never by looking
// at the text, so "00012" in a text field stays "00012" and in a number
// field becomes 12. The record holds every selected field except Id (the
// record tree's key), sorted bytewise by name, a null value as record.Null.
// The rules:
//
//   - Empty is null. Salesforce never stores an empty string and Bulk CSV
//     writes null and "" alike as an empty field, so "" becomes Null for
//     every type; REST's JSON null is Null too.
//   - boolean: Bool "true" or "false" (JSON true/false; CSV true/false, any
//     letter case).
//   - int, long, double, currency, percent: Number, as the shortest exact
//     decimal: no leading "+" or zeros, no trailing zeros after the point,
//     no point for integers, "-0" is "0". "1.50", 1.5 and "1.5E0" all give
//     "1.5"; "3.0" gives "3"; "1E+2" gives "100". The digits are rewritten
//     as text, never through float64, so a currency value with 18 digits
//     keeps all of them. Exponent form (1.5e+21, 1e-7) is used only where
//     ECMAScript's Number.prototype.toString would use it: from 1e21 up
//     (22 digits before the point) and below 1e-6 (6 zeros after it),
//     in magnitude. A value is never
//     rounded to the field's scale: the org's value is kept as given.
//   - date: "YYYY-MM-DD".
//   - datetime: UTC with milliseconds, "YYYY-MM-DDTHH:MM:SS.sssZ". REST writes
//     "…000+0000", Bulk "…000Z"; any offset (+0530, -08:00) is converted to
//     UTC. Sub-millisecond digits must be zero: Salesforce keeps
//     milliseconds, and a value it cannot hold is an error, not rounded.
//   - time: "HH:MM:SS.sssZ" (Salesforce times have no zone; an offset other
//     than zero is an error).
//   - id and reference (SoapType tns:ID): the 18-character Id (sfapi.To18), so
//     a 15-character or case-folded 18-character Id gives the same value.
//   - anyType: String; a JSON number or boolean is taken as its text, as Bulk
//     writes it. (anyType values are not otherwise canonicalised: a datetime
//     inside one keeps the text the API gave.)
//   - everything else (string, textarea, picklist, multipicklist as
//     Salesforce gives it, ';'-separated, email, phone, url, combobox,
//     encryptedstring, …): String, the text as given.
//
// Fields that are not selectable (Selectable reports false) never reach a
// record: base64 bodies are files fetched from the blob endpoints, and the
// compound address and location fields are views of their component fields
// (BillingStreet, Loc__Latitude__s …), which are backed up instead; Bulk
// refuses to select either. json and complexvalue fields are not scalars and
// Bulk cannot write them as CSV. The person Name compound of Contact, Lead
// and User (FirstName's compoundFieldName is "Name") is an ordinary string
// and stays selectable.
//
// Relationship columns: a selected field may be a dotted path such as
// "Owner.Name" (its Field describes the parent's field). Bulk writes it as a
// column of that name, REST as a nested object {"Owner":{"Name":…}}, null
// when the lookup is empty: both give the field "Owner.Name". A relationship
// column or nested object that was not selected is an error, as is a missing
// selected field: a record that lacks a field cannot be told from one whose
// field became null.
//
// Names are matched case-insensitively (Bulk headers may echo the query's
// casing), and records use the casing of the selected describe fields.
package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// conv is how a field's text becomes canonical: by the kind of its
// values (sfapi.Field.ValueKind, which filter uses too).
type conv = sfapi.ValueKind

const (
	convString   = sfapi.KindString
	convAnyType  = sfapi.KindAny
	convBool     = sfapi.KindBool
	convNumber   = sfapi.KindNumber
	convDate     = sfapi.KindDate
	convDateTime = sfapi.KindDateTime
	convTime     = sfapi.KindTime
	convID       = sfapi.KindID
)

// Selectable reports whether a describe field can be part of a canonical
// record: false for base64 (bodies are files), address and location
// (compound views of their component fields) and json/complexvalue (not
// scalars; Bulk cannot write them).
func Selectable(f sfapi.Field) bool {
	return notSelectable(f) == ""
}

// notSelectable says why f cannot be selected, or "".
func notSelectable(f sfapi.Field) string {
	switch strings.ToLower(f.Type) {
	case "base64":
		return "a base64 field (its content is a file, fetched through the blob endpoint)"
	case "address", "location":
		return "a compound " + strings.ToLower(f.Type) + " field (back up its component fields instead)"
	case "json", "complexvalue":
		return "a " + strings.ToLower(f.Type) + " field (not a scalar; Bulk cannot write it as CSV)"
	}
	switch f.SoapType {
	case "xsd:base64Binary":
		return "a base64 field (its content is a file, fetched through the blob endpoint)"
	case "urn:address", "tns:address", "urn:location", "tns:location":
		return "a compound field (back up its component fields instead)"
	case "tns:json":
		return "a json field (not a scalar; Bulk cannot write it as CSV)"
	}
	return ""
}

// column is one selected field.
type column struct {
	name string // describe casing; dotted for a relationship column
	conv conv
	slot int // position in the record (sorted by name); -1 for Id
}

// Canon converts rows of one object into canonical records. It is
// immutable once built and safe for concurrent use; a CSVBinding is not.
type Canon struct {
	object string
	cols   []column       // query order; cols[0] is Id
	exact  map[string]int // name → column
	folded map[string]int // lower-cased name → column
	// rels holds the lower-cased relationship paths of dotted columns
	// ("owner", "account.owner"), for walking REST's nested objects.
	rels map[string]bool
}

// NewCanon builds a converter for the fields selected for backup (from
// describe), in any order. Id is always selected (added when absent) and
// comes first in Fields; the others keep the order given.
func NewCanon(object string, fields []sfapi.Field) (*Canon, error) {
	if object == "" {
		return nil, errors.New("backup: NewCanon: empty object name")
	}
	c := &Canon{
		object: object,
		cols:   []column{{name: "Id", conv: convID, slot: -1}},
		exact:  map[string]int{"Id": 0},
		folded: map[string]int{"id": 0},
		rels:   map[string]bool{},
	}
	for _, f := range fields {
		if f.Name == "" {
			return nil, fmt.Errorf("backup: %s: a selected field has no name", object)
		}
		if why := notSelectable(f); why != "" {
			return nil, fmt.Errorf("backup: %s.%s is %s; leave it out of the selection (see Selectable)", object, f.Name, why)
		}
		low := strings.ToLower(f.Name)
		if low == "id" {
			if f.ValueKind() != convID {
				return nil, fmt.Errorf("backup: %s.Id has type %q; expected id", object, f.Type)
			}
			continue
		}
		if prev, dup := c.folded[low]; dup {
			return nil, fmt.Errorf("backup: %s: field %s selected twice (as %s and %s)", object, f.Name, c.cols[prev].name, f.Name)
		}
		if strings.HasPrefix(f.Name, ".") || strings.HasSuffix(f.Name, ".") || strings.Contains(f.Name, "..") {
			return nil, fmt.Errorf("backup: %s: malformed field path %q", object, f.Name)
		}
		c.folded[low] = len(c.cols)
		c.exact[f.Name] = len(c.cols)
		c.cols = append(c.cols, column{name: f.Name, conv: f.ValueKind()})
		for i := strings.IndexByte(low, '.'); i >= 0; {
			c.rels[low[:i]] = true
			j := strings.IndexByte(low[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	for name := range c.folded {
		if c.rels[name] {
			return nil, fmt.Errorf("backup: %s: %s is selected both as a field and as a relationship", object, c.cols[c.folded[name]].name)
		}
	}
	// Record slots: the non-Id columns sorted bytewise by name.
	order := make([]int, 0, len(c.cols)-1)
	for i := 1; i < len(c.cols); i++ {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(c.cols[a].name, c.cols[b].name) })
	for slot, ci := range order {
		c.cols[ci].slot = slot
	}
	return c, nil
}

// Object returns the object's name.
func (c *Canon) Object() string { return c.object }

// Fields returns the selected field names in query order (Id first), for
// building SOQL.
func (c *Canon) Fields() []string {
	out := make([]string, len(c.cols))
	for i, col := range c.cols {
		out[i] = col.name
	}
	return out
}

// lookup finds a column by name, exact casing first.
func (c *Canon) lookup(name string) (int, bool) {
	if ci, ok := c.exact[name]; ok {
		return ci, true
	}
	ci, ok := c.folded[strings.ToLower(name)]
	return ci, ok
}

// builder collects one record's canonical values in one buffer, so that a
// record costs one string allocation however many fields it has.
type builder struct {
	buf   []byte
	spans []span // by column
}

type span struct {
	start, end int32
	kind       record.Kind
	set        bool
}

func (c *Canon) newBuilder() *builder {
	return &builder{spans: make([]span, len(c.cols))}
}

// add converts text for column ci into the buffer.
func (c *Canon) add(b *builder, ci int, text string) error {
	start := len(b.buf)
	kind := record.Null
	if text != "" {
		var err error
		b.buf, kind, err = appendCanonical(b.buf, c.cols[ci].conv, text)
		if err != nil {
			b.buf = b.buf[:start]
			return c.fieldErr(ci, text, err)
		}
	}
	b.spans[ci] = span{start: int32(start), end: int32(len(b.buf)), kind: kind, set: true}
	return nil
}

// addNull records column ci as null.
func (b *builder) addNull(ci int) {
	n := int32(len(b.buf))
	b.spans[ci] = span{start: n, end: n, set: true}
}

func (c *Canon) fieldErr(ci int, text string, err error) error {
	if len(text) > 60 {
		text = text[:57] + "..."
	}
	return fmt.Errorf("backup: %s.%s: value %q: %w", c.object, c.cols[ci].name, text, err)
}

// finish turns the collected values into the Id and a record, reusing
// dst's storage. Columns never set must have been reported by the caller.
func (c *Canon) finish(b *builder, dst record.Record) (string, record.Record) {
	s := string(b.buf)
	n := len(c.cols) - 1
	rec := dst[:0]
	if cap(rec) < n {
		rec = make(record.Record, n)
	}
	rec = rec[:n]
	for ci := 1; ci < len(c.cols); ci++ {
		sp := b.spans[ci]
		f := &rec[c.cols[ci].slot]
		if f.Name != c.cols[ci].name {
			// A reused dst already holds the name: skipping the store
			// spares a GC write barrier per field.
			f.Name = c.cols[ci].name
		}
		f.Kind, f.Value = sp.kind, s[sp.start:sp.end]
	}
	sp := b.spans[0]
	return s[sp.start:sp.end], rec
}

// checkID requires a non-null Id.
func (c *Canon) checkID(b *builder) error {
	if sp := b.spans[0]; !sp.set || sp.kind == record.Null {
		return fmt.Errorf("backup: %s: record without an Id", c.object)
	}
	return nil
}

// ---- Bulk CSV ----

// CSVBinding converts the rows of one Bulk result stream; it maps the
// stream's columns to the selected fields once. It reuses its buffers and
// is not safe for concurrent use: bind once per stream (or per goroutine).
type CSVBinding struct {
	c     *Canon
	colOf []int // header position → column
	idPos int   // header position of Id
	b     *builder
}

// BindHeader matches a Bulk result header (CSVStream.Header) to the
// selected fields, case-insensitively. Every column must be a selected
// field, and every selected field must have a column. A nil header (an
// empty result, which Salesforce may send without one) binds a stream that
// has no rows: FromRow refuses any.
func (c *Canon) BindHeader(header []string) (*CSVBinding, error) {
	cb := &CSVBinding{c: c, colOf: make([]int, len(header)), idPos: -1, b: c.newBuilder()}
	if len(header) == 0 {
		return cb, nil
	}
	seen := make([]int, len(c.cols)) // column → header position + 1
	for j, h := range header {
		ci, ok := c.lookup(h)
		if !ok {
			return nil, fmt.Errorf("backup: %s: Bulk result column %q is not a selected field (selected: %s)", c.object, h, strings.Join(c.Fields(), ", "))
		}
		if seen[ci] != 0 {
			return nil, fmt.Errorf("backup: %s: Bulk result has field %s twice (columns %d and %d)", c.object, c.cols[ci].name, seen[ci], j+1)
		}
		seen[ci] = j + 1
		cb.colOf[j] = ci
		if ci == 0 {
			cb.idPos = j
		}
	}
	var missing []string
	for ci, pos := range seen {
		if pos == 0 {
			missing = append(missing, c.cols[ci].name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("backup: %s: Bulk result lacks selected field(s) %s", c.object, strings.Join(missing, ", "))
	}
	return cb, nil
}

// FromRow converts one CSV row (CSVStream.Record) into the record's Id and
// its canonical record, reusing dst's storage. The row's strings are not
// retained: the result owns its own copy, so the stream may reuse them.
func (b *CSVBinding) FromRow(row []string, dst record.Record) (id string, rec record.Record, err error) {
	c := b.c
	if len(row) != len(b.colOf) || b.idPos < 0 {
		return "", dst, fmt.Errorf("backup: %s: Bulk row has %d columns, the header %d", c.object, len(row), len(b.colOf))
	}
	bld := b.b
	bld.buf = bld.buf[:0]
	// Id first, so that an error in another field can name the record.
	if err := c.add(bld, 0, row[b.idPos]); err != nil {
		return "", dst, err
	}
	if bld.spans[0].kind == record.Null {
		return "", dst, fmt.Errorf("backup: %s: Bulk row without an Id", c.object)
	}
	for j, text := range row {
		if j == b.idPos {
			continue
		}
		if err := c.add(bld, b.colOf[j], text); err != nil {
			return "", dst, fmt.Errorf("record %s: %w", bld.buf[bld.spans[0].start:bld.spans[0].end], err)
		}
	}
	id, rec = c.finish(bld, dst)
	return id, rec, nil
}

// ---- REST JSON ----

// FromJSON converts one REST record (attributes ignored). Every selected
// field must be present (null allowed); a key that is not selected, a
// nested relationship object that is not selected and child subquery
// results are errors.
func (c *Canon) FromJSON(raw json.RawMessage, dst record.Record) (id string, rec record.Record, err error) {
	b := c.newBuilder()
	var nullRels []string
	if err := c.walkJSON(b, raw, "", &nullRels); err != nil {
		return "", dst, err
	}
	for ci := range c.cols {
		if b.spans[ci].set {
			continue
		}
		if underNull(strings.ToLower(c.cols[ci].name), nullRels) {
			b.addNull(ci)
			continue
		}
		return "", dst, fmt.Errorf("backup: %s: REST record lacks selected field %s", c.object, c.cols[ci].name)
	}
	if err := c.checkID(b); err != nil {
		return "", dst, err
	}
	id, rec = c.finish(b, dst)
	return id, rec, nil
}

// underNull reports whether the dotted column name lies under one of the
// relationship paths that REST gave as null.
func underNull(name string, nullRels []string) bool {
	for _, r := range nullRels {
		if len(name) > len(r) && name[len(r)] == '.' && name[:len(r)] == r {
			return true
		}
	}
	return false
}

// walkJSON converts the fields of one JSON object; prefix is the
// relationship path of a nested object ("Owner." …).
func (c *Canon) walkJSON(b *builder, raw []byte, prefix string, nullRels *[]string) error {
	if t := bytes.TrimSpace(raw); string(t) == "null" {
		return fmt.Errorf("backup: %s: REST record is null", c.object)
	}
	err := eachMember(raw, func(k string, v []byte) error {
		if k == "attributes" {
			return nil
		}
		path := prefix + k
		if ci, ok := c.lookup(path); ok {
			if b.spans[ci].set {
				return fmt.Errorf("backup: %s: REST record has field %s twice", c.object, c.cols[ci].name)
			}
			return c.addJSON(b, ci, v)
		}
		low := strings.ToLower(path)
		isObj := len(v) > 0 && v[0] == '{'
		if !c.rels[low] {
			if isObj {
				return fmt.Errorf("backup: %s: REST record has a nested object %q that is not selected (a relationship or subquery; select its fields as %s.Field or leave it out of the query)", c.object, path, path)
			}
			return fmt.Errorf("backup: %s: REST record has field %q, which is not selected", c.object, path)
		}
		switch {
		case string(v) == "null":
			*nullRels = append(*nullRels, low)
		case isObj:
			return c.walkJSON(b, v, path+".", nullRels)
		default:
			return fmt.Errorf("backup: %s: REST relationship %s is %.40s, not an object or null", c.object, path, v)
		}
		return nil
	})
	if errors.Is(err, errBadJSON) {
		return fmt.Errorf("backup: %s: REST record: %w", c.object, err)
	}
	return err
}

// addJSON converts one JSON value for column ci. Strings go through the
// same text rules as Bulk CSV; JSON numbers and booleans are accepted only
// where the field's type holds them.
func (c *Canon) addJSON(b *builder, ci int, v json.RawMessage) error {
	if len(v) == 0 {
		return c.fieldErr(ci, "", errors.New("empty JSON value"))
	}
	cv := c.cols[ci].conv
	switch v[0] {
	case 'n':
		b.addNull(ci)
		return nil
	case '"':
		var s string
		if bytes.IndexByte(v, '\\') < 0 {
			// No escapes: the bytes between the quotes are the text, kept
			// byte for byte as Bulk would give them.
			s = string(v[1 : len(v)-1])
		} else if err := json.Unmarshal(v, &s); err != nil {
			return c.fieldErr(ci, string(v), err)
		}
		return c.add(b, ci, s)
	case 't', 'f':
		if cv == convBool || cv == convAnyType {
			return c.add(b, ci, string(v))
		}
	case '{', '[':
	default: // a number
		if cv == convNumber || cv == convAnyType {
			return c.add(b, ci, string(v))
		}
	}
	return c.fieldErr(ci, string(v), fmt.Errorf("JSON value of the wrong type for a %s field", cv))
}

// ---- Go values ----

// FromValues converts Go values keyed by field name (nil, string, bool,
// int, int64, float64, json.Number, time.Time), as sftest.Org.Records gives
// them, for tests and the emulator-truth comparison. A selected field
// missing from vals is null; keys that are not selected (base64 fields, Id)
// are ignored. Strings go through the same text rules as Bulk CSV. A
// time.Time for a datetime field is its instant, in UTC; for a date or time
// field (which have no zone) it is the date or clock reading in its own
// location.
func (c *Canon) FromValues(id string, vals map[string]any, dst record.Record) (record.Record, error) {
	b := c.newBuilder()
	if err := c.add(b, 0, id); err != nil {
		return dst, err
	}
	if err := c.checkID(b); err != nil {
		return dst, err
	}
	for k, v := range vals {
		ci, ok := c.lookup(k)
		if !ok || ci == 0 {
			continue
		}
		if b.spans[ci].set {
			return dst, fmt.Errorf("backup: %s: values hold field %s twice", c.object, c.cols[ci].name)
		}
		if err := c.addValue(b, ci, v); err != nil {
			return dst, err
		}
	}
	for ci := range c.cols {
		if !b.spans[ci].set {
			b.addNull(ci)
		}
	}
	_, rec := c.finish(b, dst)
	return rec, nil
}

func (c *Canon) addValue(b *builder, ci int, v any) error {
	cv := c.cols[ci].conv
	wrong := func() error {
		return c.fieldErr(ci, fmt.Sprint(v), fmt.Errorf("a %T cannot be a %s value", v, cv))
	}
	switch x := v.(type) {
	case nil:
		b.addNull(ci)
		return nil
	case string:
		return c.add(b, ci, x)
	case json.Number:
		if cv != convNumber && cv != convAnyType {
			return wrong()
		}
		return c.add(b, ci, string(x))
	case bool:
		if cv != convBool && cv != convAnyType {
			return wrong()
		}
		return c.add(b, ci, strconv.FormatBool(x))
	case int:
		return c.addValue(b, ci, int64(x))
	case int64:
		if cv != convNumber && cv != convAnyType {
			return wrong()
		}
		return c.add(b, ci, strconv.FormatInt(x, 10))
	case float64:
		if cv != convNumber && cv != convAnyType {
			return wrong()
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return c.fieldErr(ci, fmt.Sprint(x), errors.New("not a finite number"))
		}
		// Shortest text that reads back as x; appendNumber then applies the
		// one canonical layout.
		return c.add(b, ci, strconv.FormatFloat(x, 'e', -1, 64))
	case time.Time:
		switch cv {
		case convDate:
			return c.add(b, ci, x.Format("2006-01-02"))
		case convDateTime:
			return c.add(b, ci, x.UTC().Format("2006-01-02T15:04:05.000000000Z"))
		case convTime:
			return c.add(b, ci, x.Format("15:04:05.000000000Z"))
		}
	}
	return wrong()
}

// ---- text rules ----

// textRules are the conversions whose canonical text is a String.
var textRules = [...]func(dst []byte, s string) ([]byte, error){
	convDate: appendDate, convDateTime: appendDateTime, convTime: appendTime, convID: appendID,
}

// appendCanonical appends the canonical text of a non-empty value of the
// given conversion.
func appendCanonical(dst []byte, cv conv, s string) ([]byte, record.Kind, error) {
	switch cv {
	case convString, convAnyType:
		return append(dst, s...), record.String, nil
	case convBool:
		switch {
		case strings.EqualFold(s, "true"):
			return append(dst, "true"...), record.Bool, nil
		case strings.EqualFold(s, "false"):
			return append(dst, "false"...), record.Bool, nil
		}
		return dst, record.Null, errors.New("not a boolean (true or false)")
	case convNumber:
		out, err := appendNumber(dst, s)
		return out, record.Number, err
	case convDate, convDateTime, convTime, convID:
		out, err := textRules[cv](dst, s)
		return out, record.String, err
	}
	return dst, record.Null, fmt.Errorf("unknown conversion %d", cv)
}

// appendID appends the 18-character form of a 15- or 18-character Id.
func appendID(dst []byte, s string) ([]byte, error) {
	// Fast path, no allocation: an 18-char Id whose letters already have
	// their case (To15 returns a prefix of s) and whose suffix is upper
	// case is already canonical.
	if len(s) == 18 {
		if id15, err := sfapi.To15(s); err == nil && id15 == s[:15] && !hasLower(s[15:]) {
			return append(dst, s...), nil
		}
	}
	id18, err := sfapi.To18(s)
	if err != nil {
		return dst, err
	}
	return append(dst, id18...), nil
}

func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			return true
		}
	}
	return false
}

var errNumber = errors.New("not a decimal number")

// appendNumber appends the canonical form of the decimal number s:
// [+-]digits[.digits][(e|E)[+-]digits], with digits on at least one side
// of the point. It works on the digit string (record.ParseDecimal), so no
// precision is lost.
func appendNumber(dst []byte, s string) ([]byte, error) {
	d, ok := record.ParseDecimal(s)
	if !ok {
		return dst, errNumber
	}
	if d.Digits == "" {
		return append(dst, '0'), nil // any zero, "-0" included
	}
	k, point := len(d.Digits), d.Exp // significant digits; digits before the point
	if d.Neg {
		dst = append(dst, '-')
	}
	switch {
	case k <= point && point <= 21: // an integer: digits then zeros
		dst = append(dst, d.Digits...)
		for j := k; j < point; j++ {
			dst = append(dst, '0')
		}
	case 0 < point && point <= 21: // digits.digits
		dst = append(dst, d.Digits[:point]...)
		dst = append(dst, '.')
		dst = append(dst, d.Digits[point:]...)
	case -6 < point && point <= 0: // 0.000digits
		dst = append(dst, '0', '.')
		for j := point; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d.Digits...)
	default: // d.ddde±x
		dst = append(dst, d.Digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d.Digits[1:]...)
		}
		dst = append(dst, 'e')
		if point-1 < 0 {
			dst = append(dst, '-')
		} else {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(abs(point-1)), 10)
	}
	return dst, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// num reads s[i:i+n] as an unsigned decimal, or -1.
func num(s string, i, n int) int {
	if i+n > len(s) {
		return -1
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if !isDigit(c) {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDate reads "YYYY-MM-DD" at the start of s.
func parseDate(s string) (y, m, d int, err error) {
	y, m, d = num(s, 0, 4), num(s, 5, 2), num(s, 8, 2)
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || y < 0 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, errors.New("not a date (YYYY-MM-DD)")
	}
	return y, m, d, nil
}

func appendDate(dst []byte, s string) ([]byte, error) {
	if _, _, _, err := parseDate(s); err != nil || len(s) != 10 {
		return dst, errors.New("not a date (YYYY-MM-DD)")
	}
	return append(dst, s...), nil
}

var errClock = errors.New("not a time of day (HH:MM:SS.sss with a zone)")

// clock is a parsed time of day with its zone offset.
type clock struct {
	h, m, s, ms int
	offset      int // seconds east of UTC
	canonical   bool
	// canonical: written exactly as HH:MM:SS.sssZ, the form to output.
}

// parseClock reads HH:MM:SS[.fraction][Z|±HH[:]MM|±HH] (the zone optional
// when zoneOptional) making up all of s.
func parseClock(s string, zoneOptional bool) (clock, error) {
	bad := errClock
	var c clock
	c.h, c.m, c.s = num(s, 0, 2), num(s, 3, 2), num(s, 6, 2)
	if len(s) < 8 || s[2] != ':' || s[5] != ':' || c.h < 0 || c.h > 23 || c.m < 0 || c.m > 59 || c.s < 0 || c.s > 59 {
		return c, bad
	}
	i := 8
	nfrac := 0
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			d := int(s[i] - '0')
			switch {
			case nfrac < 3:
				c.ms = c.ms*10 + d
			case d != 0:
				return c, errors.New("finer than a millisecond, which Salesforce does not keep")
			}
			nfrac++
		}
		if nfrac == 0 {
			return c, bad
		}
		for j := nfrac; j < 3; j++ {
			c.ms *= 10
		}
	}
	zone := s[i:]
	switch {
	case zone == "Z":
		c.canonical = nfrac == 3
	case zone == "" && zoneOptional:
	case len(zone) >= 3 && (zone[0] == '+' || zone[0] == '-'):
		oh, om := num(zone, 1, 2), 0
		switch len(zone) {
		case 3:
		case 5:
			om = num(zone, 3, 2)
		case 6:
			if zone[3] != ':' {
				return c, bad
			}
			om = num(zone, 4, 2)
		default:
			return c, bad
		}
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return c, bad
		}
		c.offset = oh*3600 + om*60
		if zone[0] == '-' {
			c.offset = -c.offset
		}
	default:
		return c, bad
	}
	return c, nil
}

func appendTime(dst []byte, s string) ([]byte, error) {
	c, err := parseClock(s, true)
	if err != nil {
		return dst, err
	}
	if c.canonical {
		return append(dst, s...), nil
	}
	if c.offset != 0 {
		return dst, errors.New("a time field has no zone; only Z or +0000 can be given")
	}
	return appendClock(dst, c.h, c.m, c.s, c.ms), nil
}

func appendDateTime(dst []byte, s string) ([]byte, error) {
	y, mo, d, err := parseDate(s)
	if err != nil || len(s) < 11 || s[10] != 'T' {
		return dst, errors.New("not a datetime (YYYY-MM-DDTHH:MM:SS.sss with a zone)")
	}
	c, err := parseClock(s[11:], false)
	if err != nil {
		return dst, fmt.Errorf("not a datetime: %w", err)
	}
	if c.canonical {
		return append(dst, s...), nil // the common Bulk case: nothing to do
	}
	if c.offset != 0 {
		t := time.Date(y, time.Month(mo), d, c.h, c.m, c.s, c.ms*1e6, time.UTC).Add(-time.Duration(c.offset) * time.Second)
		if t.Year() < 0 || t.Year() > 9999 {
			return dst, errors.New("datetime out of range")
		}
		y, mo, d = t.Year(), int(t.Month()), t.Day()
		c.h, c.m, c.s = t.Hour(), t.Minute(), t.Second()
	}
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, mo, 2)
	dst = append(dst, '-')
	dst = appendPad(dst, d, 2)
	dst = append(dst, 'T')
	return appendClock(dst, c.h, c.m, c.s, c.ms), nil
}

// appendClock writes HH:MM:SS.sssZ.
func appendClock(dst []byte, h, m, s, ms int) []byte {
	dst = appendPad(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, m, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, s, 2)
	dst = append(dst, '.')
	dst = appendPad(dst, ms, 3)
	return append(dst, 'Z')
}

func appendPad(dst []byte, n, width int) []byte {
	var b [8]byte
	d := strconv.AppendInt(b[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}
