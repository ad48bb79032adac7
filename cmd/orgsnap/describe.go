package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Helpers shared by diff, show and history: the stored describe documents
// (schema blobs) and field-level comparison of records.

// parseDescribe reads a stored schema blob: an sObject describe as the
// org returned it (canonical JSON).
func parseDescribe(b []byte) (*sfapi.SObjectDescribe, error) {
	d := &sfapi.SObjectDescribe{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("stored describe: %w", err)
	}
	return d, nil
}

// fieldType is a field's type as diff and show print it: the describe type
// with what bounds its values (length, precision and scale, the objects a
// reference points to), so that widening a text field counts as a retype.
func fieldType(f sfapi.Field) string {
	t := f.Type
	switch {
	case len(f.ReferenceTo) > 0:
		return t + "(" + strings.Join(f.ReferenceTo, ",") + ")"
	case f.Precision > 0:
		return t + "(" + strconv.Itoa(f.Precision) + "," + strconv.Itoa(f.Scale) + ")"
	case f.Length > 0:
		return t + "(" + strconv.Itoa(f.Length) + ")"
	}
	return t
}

// schemaChange is one field added, removed or retyped between two
// describes of an object.
type schemaChange struct {
	Field    string
	Kind     string // "added", "deleted" or "changed" (retyped)
	Old, New string // fieldType of each side ("" on the absent side)
}

// schemaChanges compares two schema blobs (nil: none) field by field, in
// field name order. other reports a difference outside the fields' names
// and types (labels, picklist values, flags).
func schemaChanges(oldDoc, newDoc []byte) (changes []schemaChange, other bool, err error) {
	types := func(doc []byte) (map[string]sfapi.Field, error) {
		m := map[string]sfapi.Field{}
		if doc == nil {
			return m, nil
		}
		d, err := parseDescribe(doc)
		if err != nil {
			return nil, err
		}
		for _, f := range d.Fields {
			m[f.Name] = f
		}
		return m, nil
	}
	a, err := types(oldDoc)
	if err != nil {
		return nil, false, err
	}
	b, err := types(newDoc)
	if err != nil {
		return nil, false, err
	}
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fa, inA := a[n]
		fb, inB := b[n]
		switch {
		case !inA:
			changes = append(changes, schemaChange{n, "added", "", fieldType(fb)})
		case !inB:
			changes = append(changes, schemaChange{n, "deleted", fieldType(fa), ""})
		case fieldType(fa) != fieldType(fb):
			changes = append(changes, schemaChange{n, "changed", fieldType(fa), fieldType(fb)})
		}
	}
	other = len(changes) == 0 && !bytes.Equal(oldDoc, newDoc)
	return changes, other, nil
}

// fieldChange is one field whose value differs between two versions of a
// record; Old or New is nil where the field is absent (a field added to or
// removed from the backup).
type fieldChange struct {
	Name     string
	Old, New *record.Field
}

// fieldChanges lists the fields that differ between two records, in name
// order (records are sorted by name, so this is one merge pass). A field
// one record lacks is null in it (record.Equivalent): a field added to the
// schema, null, is no change of the record.
func fieldChanges(a, b record.Record) []fieldChange {
	var out []fieldChange
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Name < b[j].Name):
			if a[i].Kind != record.Null {
				out = append(out, fieldChange{a[i].Name, &a[i], nil})
			}
			i++
		case i == len(a) || b[j].Name < a[i].Name:
			if b[j].Kind != record.Null {
				out = append(out, fieldChange{b[j].Name, nil, &b[j]})
			}
			j++
		default:
			if a[i] != b[j] {
				out = append(out, fieldChange{a[i].Name, &a[i], &b[j]})
			}
			i++
			j++
		}
	}
	return out
}

// showValue renders a field value for people: strings quoted, null,
// numbers and booleans bare, an absent field as (absent).
func showValue(f *record.Field) string {
	switch {
	case f == nil:
		return "(absent)"
	case f.Kind == record.Null:
		return "null"
	case f.Kind == record.String:
		return strconv.Quote(f.Value)
	}
	return f.Value
}

// jsonValue renders a field value as JSON (null for an absent field).
func jsonValue(f *record.Field) json.RawMessage {
	switch {
	case f == nil || f.Kind == record.Null:
		return json.RawMessage("null")
	case f.Kind == record.String:
		b, _ := json.Marshal(f.Value)
		return b
	}
	return json.RawMessage(f.Value)
}

// csvValue renders a field value for a CSV cell: the text, empty for null
// (Data Loader's convention).
func csvValue(f *record.Field) string {
	if f == nil || f.Kind == record.Null {
		return ""
	}
	return f.Value
}

// recordLabel is a record's Name (or Subject, LastName, Title), quoted, to
// say which record a line is about; "" when it has none.
func recordLabel(r record.Record) string {
	for _, n := range []string{"Name", "Subject", "LastName", "Title"} {
		if f, ok := r.Get(n); ok && f.Kind == record.String && f.Value != "" {
			return strconv.Quote(f.Value)
		}
	}
	return ""
}
