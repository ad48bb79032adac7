package filter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Type is what a filter knows of a field's type; it decides how values
// compare and which literals fit.
type Type uint8

const (
	// Unknown: compare as the literal suggests (a number literal compares
	// numerically, a quoted one as text…). For fields known only by name.
	Unknown Type = iota
	String
	ID
	Number
	Bool
	Date
	DateTime
	Time
)

var typeNames = [...]string{"unknown", "text", "id", "number", "boolean", "date", "datetime", "time"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// TypeOf is the filter Type of a describe field: its value kind
// (sfapi.Field.ValueKind, which backup canonicalises values by), anyType
// being Unknown.
func TypeOf(f sfapi.Field) Type {
	switch f.ValueKind() {
	case sfapi.KindBool:
		return Bool
	case sfapi.KindNumber:
		return Number
	case sfapi.KindDate:
		return Date
	case sfapi.KindDateTime:
		return DateTime
	case sfapi.KindTime:
		return Time
	case sfapi.KindID:
		return ID
	case sfapi.KindAny:
		return Unknown
	}
	return String
}

// Fields are the fields a filter may name, by exact name, with their types.
// Id is always known (as ID) whether listed or not.
type Fields map[string]Type

// FieldsFromDescribe reads an sObject describe document (the schema blob a
// snapshot stores) into Fields.
func FieldsFromDescribe(describe []byte) (Fields, error) {
	var d struct {
		Fields []sfapi.Field `json:"fields"`
	}
	if err := json.Unmarshal(describe, &d); err != nil {
		return nil, fmt.Errorf("filter: reading describe: %w", err)
	}
	fs := make(Fields, len(d.Fields))
	for _, f := range d.Fields {
		if f.Name != "" {
			fs[f.Name] = TypeOf(f)
		}
	}
	return fs, nil
}

// FieldsOf returns the names as Fields of Unknown type.
func FieldsOf(names []string) Fields {
	fs := make(Fields, len(names))
	for _, n := range names {
		fs[n] = Unknown
	}
	return fs
}

// Matcher is a filter bound to one object's fields. It is immutable and
// safe for concurrent use; every error was found by Bind, so Match cannot
// fail.
type Matcher struct {
	expr *Expr
	pred pred
}

// pred evaluates against a record and its Id (records do not hold Id: it is
// their key in the record tree).
type pred func(id string, rec record.Record) bool

// Match reports whether the record with this Id matches.
func (m *Matcher) Match(id string, rec record.Record) bool { return m.pred(id, rec) }

// String gives the filter's canonical text.
func (m *Matcher) String() string {
	if m.expr == nil {
		return ""
	}
	return m.expr.String()
}

// MatchAll is a Matcher that matches every record (no --where given).
func MatchAll() *Matcher {
	return &Matcher{pred: func(string, record.Record) bool { return true }}
}

// Bind resolves the filter's field names against fields (case-insensitively,
// as SOQL does), checks every literal against its field's type and compiles
// the comparisons. Errors are *Error wrapping ErrUnknownField (with the
// closest names as Suggestions) or ErrType.
func (e *Expr) Bind(fields Fields) (*Matcher, error) {
	b := &binder{e: e, exact: fields, folded: make(map[string]string, len(fields))}
	for name := range fields {
		low := strings.ToLower(name)
		// Two names differing only in case cannot both exist in Salesforce;
		// keep one deterministically if a caller passes both.
		if prev, ok := b.folded[low]; !ok || name < prev {
			b.folded[low] = name
		}
	}
	p, err := b.node(e.root)
	if err != nil {
		return nil, err
	}
	return &Matcher{expr: e, pred: p}, nil
}

type binder struct {
	e      *Expr
	exact  Fields
	folded map[string]string
}

func (b *binder) errAt(pos int, kind error, format string, args ...any) *Error {
	return &Error{Src: b.e.src, Pos: pos, Msg: fmt.Sprintf(format, args...), kind: kind}
}

func (b *binder) node(n node) (pred, error) {
	switch n := n.(type) {
	case *orNode:
		ps, err := b.nodes(n.xs)
		if err != nil {
			return nil, err
		}
		return func(id string, rec record.Record) bool {
			for _, p := range ps {
				if p(id, rec) {
					return true
				}
			}
			return false
		}, nil
	case *andNode:
		ps, err := b.nodes(n.xs)
		if err != nil {
			return nil, err
		}
		return func(id string, rec record.Record) bool {
			for _, p := range ps {
				if !p(id, rec) {
					return false
				}
			}
			return true
		}, nil
	case *notNode:
		p, err := b.node(n.x)
		if err != nil {
			return nil, err
		}
		return func(id string, rec record.Record) bool { return !p(id, rec) }, nil
	case *cmpNode:
		return b.cmp(n)
	}
	return nil, fmt.Errorf("filter: unknown node %T", n)
}

func (b *binder) nodes(xs []node) ([]pred, error) {
	ps := make([]pred, len(xs))
	for i, x := range xs {
		p, err := b.node(x)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return ps, nil
}

// resolve finds a field by name: exact, then case-insensitive.
func (b *binder) resolve(c *cmpNode) (string, Type, error) {
	if strings.EqualFold(c.field, "Id") {
		if t, ok := b.exact["Id"]; ok && t != Unknown {
			return "Id", t, nil
		}
		return "Id", ID, nil
	}
	if t, ok := b.exact[c.field]; ok {
		return c.field, t, nil
	}
	if name, ok := b.folded[strings.ToLower(c.field)]; ok {
		return name, b.exact[name], nil
	}
	return "", 0, unknownField(b.e.src, c.fieldPos, c.field, b.exact)
}

// unknownField is the error for a name that is not among fields.
func unknownField(src string, pos int, name string, fields Fields) *Error {
	sugg := closest(name, fields, 5)
	msg := fmt.Sprintf("unknown field %s", name)
	if len(sugg) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(sugg, ", "))
	} else {
		msg += " (no field has a similar name; `orgsnap show REV:Object` lists the fields)"
	}
	return &Error{Src: src, Pos: pos, Msg: msg, kind: ErrUnknownField, Suggestions: sugg}
}

// Resolve finds a field by name as a filter does (exact, then
// case-insensitively, Id always), for options that name fields (--fields).
// An unknown name is an *Error wrapping ErrUnknownField, with suggestions.
func (fs Fields) Resolve(name string) (string, error) {
	if strings.EqualFold(name, "Id") {
		return "Id", nil
	}
	if _, ok := fs[name]; ok {
		return name, nil
	}
	best := ""
	for f := range fs {
		if strings.EqualFold(f, name) && (best == "" || f < best) {
			best = f
		}
	}
	if best != "" {
		return best, nil
	}
	return "", unknownField(name, 0, name, fs)
}

// closest returns up to n known names nearest to name: edit distance on
// lower case, at most a third of the name's length (min 2), or names that
// contain it or that it contains.
func closest(name string, fields Fields, n int) []string {
	low := strings.ToLower(name)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	limit := max(2, len(low)/3)
	for f := range fields {
		fl := strings.ToLower(f)
		d := editDistance(low, fl)
		if d > limit && !(len(low) >= 3 && (strings.Contains(fl, low) || strings.Contains(low, fl) && len(fl) >= 3)) {
			continue
		}
		cs = append(cs, cand{f, d})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// operand is a literal made ready to compare with values of one type.
type operand struct {
	null bool
	text string  // String, ID, Bool, Date, DateTime, Time: canonical text
	num  decimal // Number
}

// cmp compiles one comparison.
func (b *binder) cmp(c *cmpNode) (pred, error) {
	name, ft, err := b.resolve(c)
	if err != nil {
		return nil, err
	}
	get := fieldGetter(name)

	switch c.op {
	case "LIKE":
		if ft != String && ft != ID && ft != Unknown {
			return nil, b.errAt(c.fieldPos, ErrType, "LIKE works on text fields; %s is a %s field", name, ft)
		}
		pat, _ := unescape(c.vals[0].text, true)
		lp := compileLike(pat)
		return negate(c.neg, func(id string, rec record.Record) bool {
			v, null := get(id, rec)
			return !null && lp.match(v)
		}), nil
	case "INCLUDES", "EXCLUDES":
		if ft != String && ft != Unknown {
			return nil, b.errAt(c.fieldPos, ErrType, "%s works on multi-select picklists; %s is a %s field", c.op, name, ft)
		}
		var sets [][]string
		for _, l := range c.vals {
			s, err := unescape(l.text, false)
			if err != nil {
				return nil, b.errAt(l.pos, ErrSyntax, "%s", err)
			}
			sets = append(sets, splitPicklist(s))
		}
		return negate(c.op == "EXCLUDES", func(id string, rec record.Record) bool {
			v, null := get(id, rec)
			if null {
				return false
			}
			for _, set := range sets {
				if picklistHasAll(v, set) {
					return true
				}
			}
			return false
		}), nil
	}

	ops := make([]operand, len(c.vals))
	et := ft // effective type
	for i, l := range c.vals {
		if et == Unknown {
			et = typeOfLiteral(l.kind)
		}
		op, err := b.operand(name, ft, et, l)
		if err != nil {
			return nil, err
		}
		ops[i] = op
	}
	compare := comparer(et)
	eq := func(v string, null bool, op operand) bool {
		if op.null || null {
			return op.null == null
		}
		c, ok := compare(v, op)
		return ok && c == 0
	}
	if et == Bool {
		// A boolean is never null in Salesforce: null means false, both in
		// the record and in the filter.
		for i := range ops {
			if ops[i].null {
				ops[i] = operand{text: "false"}
			}
		}
		inner := get
		get = func(id string, rec record.Record) (string, bool) {
			v, null := inner(id, rec)
			if null {
				return "false", false
			}
			return v, false
		}
	}
	switch c.op {
	case "=", "!=":
		op := ops[0]
		return negate(c.op == "!=", func(id string, rec record.Record) bool {
			v, null := get(id, rec)
			return eq(v, null, op)
		}), nil
	case "IN":
		return negate(c.neg, func(id string, rec record.Record) bool {
			v, null := get(id, rec)
			for _, op := range ops {
				if eq(v, null, op) {
					return true
				}
			}
			return false
		}), nil
	}
	var want func(int) bool
	switch c.op {
	case "<":
		want = func(c int) bool { return c < 0 }
	case "<=":
		want = func(c int) bool { return c <= 0 }
	case ">":
		want = func(c int) bool { return c > 0 }
	case ">=":
		want = func(c int) bool { return c >= 0 }
	default:
		return nil, fmt.Errorf("filter: unknown operator %q", c.op)
	}
	if et == Bool {
		return nil, b.errAt(c.fieldPos, ErrType, "%s is a boolean field: compare it with = or != only", name)
	}
	op := ops[0]
	return func(id string, rec record.Record) bool {
		v, null := get(id, rec)
		if null {
			return false
		}
		c, ok := compare(v, op)
		return ok && want(c)
	}, nil
}

func negate(neg bool, p pred) pred {
	if !neg {
		return p
	}
	return func(id string, rec record.Record) bool { return !p(id, rec) }
}

// fieldGetter reads a field's text from a record (the Id from the key);
// null is true for a null or absent field.
func fieldGetter(name string) func(id string, rec record.Record) (string, bool) {
	if name == "Id" {
		return func(id string, _ record.Record) (string, bool) { return id, id == "" }
	}
	return func(_ string, rec record.Record) (string, bool) {
		f, ok := rec.Get(name)
		if !ok || f.Kind == record.Null {
			return "", true
		}
		return f.Value, false
	}
}

func typeOfLiteral(k litKind) Type {
	switch k {
	case lNumber:
		return Number
	case lBool:
		return Bool
	case lDate:
		return Date
	case lDateTime:
		return DateTime
	case lString:
		return String
	}
	return Unknown
}

// operand checks that literal l fits a field of declared type ft (Unknown
// when the field's type is not known) compared as type et, and brings it to
// canonical form.
func (b *binder) operand(name string, ft, et Type, l lit) (operand, error) {
	if l.kind == lNull {
		return operand{null: true}, nil
	}
	mismatch := func(hint string) (operand, error) {
		what := fmt.Sprintf("%s is a %s field", name, ft)
		if ft == Unknown {
			what = fmt.Sprintf("%s was compared with %s before", name, litNames[typeLiteralKind(et)])
		}
		return operand{}, b.errAt(l.pos, ErrType, "%s; %s does not fit it%s", what, litNames[l.kind], hint)
	}
	switch et {
	case String, Time, Unknown:
		if l.kind != lString {
			return mismatch(fmt.Sprintf(" (quote it: '%s')", l.text))
		}
		s, err := unescape(l.text, false)
		if err != nil {
			return operand{}, b.errAt(l.pos, ErrSyntax, "%s", err)
		}
		return operand{text: s}, nil
	case ID:
		if l.kind != lString {
			return mismatch(" (write an Id in quotes: '001…')")
		}
		s, err := unescape(l.text, false)
		if err != nil {
			return operand{}, b.errAt(l.pos, ErrSyntax, "%s", err)
		}
		id18, err := sfapi.To18(s)
		if err != nil {
			return operand{}, b.errAt(l.pos, ErrType, "%s is an Id field and '%s' is not a Salesforce Id (15 or 18 letters and digits; use LIKE for part of an Id)", name, s)
		}
		return operand{text: id18}, nil
	case Number:
		if l.kind != lNumber {
			hint := ""
			if l.kind == lString {
				hint = " (write numbers without quotes)"
			}
			return mismatch(hint)
		}
		d, _ := parseDecimal(l.text)
		return operand{num: d}, nil
	case Bool:
		if l.kind != lBool {
			return mismatch(" (write true or false, without quotes)")
		}
		return operand{text: l.text}, nil
	case Date:
		if l.kind != lDate {
			hint := " (write a date unquoted, like 2024-01-31)"
			if l.kind == lDateTime {
				hint = fmt.Sprintf(" (write just the date: %s)", l.text[:10])
			}
			return mismatch(hint)
		}
		s, _ := canonDate(l.text)
		return operand{text: s}, nil
	case DateTime:
		if l.kind != lDateTime {
			hint := " (write a datetime unquoted, like 2024-01-31T09:00:00Z)"
			if l.kind == lDate {
				hint = fmt.Sprintf(" (write a datetime: %sT00:00:00Z)", l.text)
			}
			return mismatch(hint)
		}
		s, _ := canonDateTime(l.text)
		return operand{text: s}, nil
	}
	return operand{}, fmt.Errorf("filter: unknown type %v", et)
}

func typeLiteralKind(t Type) litKind {
	switch t {
	case Number:
		return lNumber
	case Bool:
		return lBool
	case Date:
		return lDate
	case DateTime:
		return lDateTime
	}
	return lString
}

// comparer returns how a record's value compares with an operand for type
// t; ok is false when the value cannot be read as that type (only possible
// for fields of Unknown type), which no comparison but != and NOT IN
// accepts.
func comparer(t Type) func(v string, op operand) (int, bool) {
	switch t {
	case Number:
		return func(v string, op operand) (int, bool) {
			d, ok := parseDecimal(v)
			if !ok {
				return 0, false
			}
			return cmpDecimal(d, op.num), true
		}
	case ID:
		// Ids are case-sensitive; they order by their 15-character form
		// (the suffix only restores case).
		return func(v string, op operand) (int, bool) {
			if v == op.text {
				return 0, true
			}
			a, b := v, op.text
			if len(a) == 18 && len(b) == 18 {
				if a[:15] == b[:15] {
					return 0, true
				}
				a, b = a[:15], b[:15]
			}
			return strings.Compare(a, b), true
		}
	case Bool:
		return func(v string, op operand) (int, bool) { return strings.Compare(v, op.text), true }
	case Date, DateTime:
		// Canonical dates and datetimes are fixed-width: bytes order them.
		return func(v string, op operand) (int, bool) {
			if len(v) != len(op.text) {
				return 0, false
			}
			return strings.Compare(v, op.text), true
		}
	}
	return func(v string, op operand) (int, bool) { return cmpFold(v, op.text), true }
}

// splitPicklist splits a multi-select value or INCLUDES term on ';'.
func splitPicklist(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// picklistHasAll reports whether the ';'-separated value v holds every
// term (case-insensitively).
func picklistHasAll(v string, terms []string) bool {
	if len(terms) == 0 {
		return false
	}
	for _, t := range terms {
		found := false
		for rest := v; ; {
			part, after, more := strings.Cut(rest, ";")
			if strings.EqualFold(strings.TrimSpace(part), t) {
				found = true
				break
			}
			if !more {
				break
			}
			rest = after
		}
		if !found {
			return false
		}
	}
	return true
}
