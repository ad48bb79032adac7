// Package record is the repository's model of one record: a list of named,
// typed scalar fields. It knows nothing of Salesforce; callers (the backup
// engine) canonicalize whatever an API returned into a Record, so that the
// same data always makes the same Record, and the repository stores it
// compactly (field names once per object, not once per record).
package record

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind is a field value's type.
type Kind uint8

const (
	// Null is an absent value; Value is "".
	Null Kind = iota
	// String is text; Value is the text itself (any bytes, UTF-8 expected).
	String
	// Number is a number; Value is its canonical text in JSON number syntax
	// (for example "12", "-0.5", "1.25E+3"), kept exactly as given: the
	// caller decides the canonical form ("1.50" and "1.5" are different
	// values here).
	Number
	// Bool is true or false; Value is "true" or "false".
	Bool
)

// There is no Binary kind: binary content (file bodies, base64 fields) is
// stored as files, not inside records.

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Field is one named value.
type Field struct {
	Name  string
	Kind  Kind
	Value string // canonical text: "" for Null, "true"/"false" for Bool
}

// Record is a record's fields, sorted by Name (bytewise), without
// duplicates. Validate checks this; the repository refuses anything else,
// because two spellings of one record would store as two different records.
type Record []Field

// ErrInvalid is wrapped by every Validate error.
var ErrInvalid = errors.New("invalid record")

// Validate checks the invariants: names non-empty, strictly increasing
// bytewise (sorted, no duplicates), and each value canonical for its kind.
func (r Record) Validate() error {
	for i, f := range r {
		if f.Name == "" {
			return fmt.Errorf("%w: field %d has an empty name", ErrInvalid, i)
		}
		if i > 0 && r[i-1].Name >= f.Name {
			if r[i-1].Name == f.Name {
				return fmt.Errorf("%w: field %q appears twice", ErrInvalid, f.Name)
			}
			return fmt.Errorf("%w: fields not sorted by name: %q before %q (sort them bytewise)", ErrInvalid, r[i-1].Name, f.Name)
		}
		if err := f.validValue(); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrInvalid, f.Name, err)
		}
	}
	return nil
}

func (f Field) validValue() error {
	switch f.Kind {
	case Null:
		if f.Value != "" {
			return fmt.Errorf("null with value %q", f.Value)
		}
	case String:
	case Number:
		if !IsNumber(f.Value) {
			return fmt.Errorf("number %q is not in JSON number syntax", f.Value)
		}
	case Bool:
		if f.Value != "true" && f.Value != "false" {
			return fmt.Errorf("bool %q is neither true nor false", f.Value)
		}
	default:
		return fmt.Errorf("unknown kind %d", f.Kind)
	}
	return nil
}

// IsNumber reports whether s is a number in JSON syntax:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func IsNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// Get returns the field called name (binary search: r must be sorted).
func (r Record) Get(name string) (Field, bool) {
	lo, hi := 0, len(r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r[m].Name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r) && r[lo].Name == name {
		return r[lo], true
	}
	return Field{}, false
}

// Equal reports whether two records hold the same fields and values.
func (r Record) Equal(o Record) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if r[i] != o[i] {
			return false
		}
	}
	return true
}

// Equivalent reports whether two records are the same record when a field
// that one of them lacks counts as null in it. That is Salesforce's view:
// a field added to an object is null on every record until someone sets
// it, so a record read before the field existed and one read after, both
// null there, did not change. Both records must be sorted by name.
func (r Record) Equivalent(o Record) bool {
	i, j := 0, 0
	for i < len(r) || j < len(o) {
		switch {
		case j == len(o) || (i < len(r) && r[i].Name < o[j].Name):
			if r[i].Kind != Null {
				return false
			}
			i++
		case i == len(r) || o[j].Name < r[i].Name:
			if o[j].Kind != Null {
				return false
			}
			j++
		default:
			if r[i] != o[j] {
				return false
			}
			i++
			j++
		}
	}
	return true
}

// MarshalJSON renders {"Name":value,...} in field order, with typed JSON
// values: null, "text", a bare number, true/false. For valid records the
// rendering is injective (two different records never render alike).
func (r Record) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(nil)
}

// AppendJSON appends the JSON rendering of r to dst.
func (r Record) AppendJSON(dst []byte) ([]byte, error) {
	if r == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	for i, f := range r {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		switch f.Kind {
		case Null:
			dst = append(dst, "null"...)
		case String:
			dst = appendJSONString(dst, f.Value)
		case Number, Bool:
			if err := f.validValue(); err != nil {
				return nil, fmt.Errorf("%w: field %q: %v", ErrInvalid, f.Name, err)
			}
			dst = append(dst, f.Value...)
		default:
			return nil, fmt.Errorf("%w: field %q: unknown kind %d", ErrInvalid, f.Name, f.Kind)
		}
	}
	return append(dst, '}'), nil
}

// String is the JSON rendering, or the error text.
func (r Record) String() string {
	b, err := r.MarshalJSON()
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// appendJSONString quotes s as a JSON string the way encoding/json does
// (without its HTML escaping): invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Names returns the field names, in order.
func (r Record) Names() []string {
	out := make([]string, len(r))
	for i, f := range r {
		out[i] = f.Name
	}
	return out
}

// GoString helps test failures: name=kind:value pairs.
func (r Record) GoString() string {
	var b strings.Builder
	b.WriteString("record.Record{")
	for i, f := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s:%q", f.Name, f.Kind, f.Value)
	}
	b.WriteString("}")
	return b.String()
}

// AppendJSONString appends s as a JSON string, escaped as AppendJSON
// escapes values (invalid UTF-8 as U+FFFD, U+2028/2029 escaped).
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }
