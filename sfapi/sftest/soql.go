package sftest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A SOQL subset: SELECT field list (dotted parent paths, COUNT(), COUNT(f),
// FIELDS(ALL|STANDARD|CUSTOM)) FROM object [WHERE …] [ORDER BY …] [LIMIT n]
// [OFFSET n]. WHERE has AND/OR/NOT/parentheses (mixing AND and OR without
// parentheses is rejected, as Salesforce does), = != <> < <= > >=, IN, NOT
// IN, LIKE, INCLUDES/EXCLUDES, null, booleans, numbers, strings, date and
// datetime literals and relative date literals (TODAY, LAST_N_DAYS:n, …).

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tPunct
)

type token struct {
	kind tokKind
	text string // identifier, punctuation, literal text (strings unescaped)
	pos  int    // byte offset in the query
}

func lex(q string) ([]token, *Error) {
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			start := i
			i++
			var b strings.Builder
			for {
				if i >= len(q) {
					return nil, malformed(q, start, "line 1:"+strconv.Itoa(start)+" mismatched character '<EOF>' expecting '''")
				}
				if q[i] == '\\' && i+1 < len(q) {
					switch q[i+1] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(q[i+1])
					}
					i += 2
					continue
				}
				if q[i] == '\'' {
					i++
					break
				}
				b.WriteByte(q[i])
				i++
			}
			toks = append(toks, token{tString, b.String(), start})
		case c >= '0' && c <= '9' || (c == '-' || c == '+') && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' && lastIsOp(toks):
			start := i
			i++
			for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.') {
				i++
			}
			text := q[start:i]
			// yyyy-MM-dd[THH:mm:ss[.SSS](Z|±hh:mm)]
			if len(text) == 4 && i < len(q) && q[i] == '-' {
				j := i
				for j < len(q) && strings.IndexByte("0123456789-T:.Z+", q[j]) >= 0 {
					j++
				}
				lit := q[start:j]
				kind := tDate
				if strings.Contains(lit, "T") {
					kind = tDateTime
				}
				toks = append(toks, token{kind, lit, start})
				i = j
				continue
			}
			toks = append(toks, token{tNumber, text, start})
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start := i
			for i < len(q) && (q[i] == '_' || q[i] == '.' || q[i] == ':' || q[i] >= 'a' && q[i] <= 'z' || q[i] >= 'A' && q[i] <= 'Z' || q[i] >= '0' && q[i] <= '9') {
				i++
			}
			toks = append(toks, token{tIdent, q[start:i], start})
		case strings.HasPrefix(q[i:], "!=") || strings.HasPrefix(q[i:], "<>") || strings.HasPrefix(q[i:], "<=") || strings.HasPrefix(q[i:], ">="):
			toks = append(toks, token{tPunct, q[i : i+2], i})
			i += 2
		case strings.IndexByte("(),=<>", c) >= 0:
			toks = append(toks, token{tPunct, q[i : i+1], i})
			i++
		default:
			return nil, malformed(q, i, fmt.Sprintf("line 1:%d no viable alternative at character '%c'", i, c))
		}
	}
	return append(toks, token{tEOF, "", len(q)}), nil
}

// lastIsOp reports whether a sign may start a number here (after an
// operator, a comma or an opening parenthesis).
func lastIsOp(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.kind == tPunct && t.text != ")"
}

// soqlError formats Salesforce's caret message.
func soqlError(code, q string, pos int, msg string) *Error {
	col := pos + 1
	return &Error{Code: code, Status: 400, Message: fmt.Sprintf("\n%s\n%s^\nERROR at Row:1:Column:%d\n%s", q, strings.Repeat(" ", pos), col, msg)}
}

func malformed(q string, pos int, msg string) *Error {
	return soqlError("MALFORMED_QUERY", q, pos, msg)
}

// ---- AST ----

type selField struct {
	rels  []*Field // reference fields to walk (Account.Owner.Name → AccountId, OwnerId)
	name  string   // final field name (resolved per target for polymorphic paths)
	final *Field   // final field when the path is not polymorphic
	path  string   // canonical dotted path (describe casing): the CSV header
	pos   int
}

type query struct {
	text       string
	st         *objState
	fields     []selField
	countOnly  bool // SELECT COUNT()
	countField bool // SELECT COUNT(Id) → one AggregateResult row
	where      expr
	order      []orderItem
	limit      int64 // -1 ⇒ none
	offset     int64
	idLo, idHi int64 // index range implied by top-level Id filters [idLo, idHi)
	fieldsAll  bool
}

type orderItem struct {
	f         selField
	desc      bool
	nullsLast bool
}

type expr interface {
	eval(r *row, e *evalCtx) bool
}

type evalCtx struct {
	o    *Org
	snap uint64
}

type andExpr []expr
type orExpr []expr
type notExpr struct{ x expr }

func (a andExpr) eval(r *row, e *evalCtx) bool {
	for _, x := range a {
		if !x.eval(r, e) {
			return false
		}
	}
	return true
}

func (a orExpr) eval(r *row, e *evalCtx) bool {
	for _, x := range a {
		if x.eval(r, e) {
			return true
		}
	}
	return false
}

func (n notExpr) eval(r *row, e *evalCtx) bool { return !n.x.eval(r, e) }

type cmpExpr struct {
	f    selField
	op   string  // = != < <= > >= IN NOTIN LIKE INCLUDES EXCLUDES
	vals []Value // literal(s); a relative date literal is a [lo, hi) pair
	rng  bool    // vals[0], vals[1] form a range (relative date literal)
	like string  // lower-cased LIKE pattern
	cs   bool    // case-sensitive comparison (Ids)
}

func (c *cmpExpr) eval(r *row, e *evalCtx) bool {
	v := e.value(r, &c.f)
	switch c.op {
	case "IN", "NOTIN":
		in := false
		for _, x := range c.vals {
			if x.IsNull() && v.IsNull() || !v.IsNull() && !x.IsNull() && compare(v, x, c.cs) == 0 {
				in = true
				break
			}
		}
		return in == (c.op == "IN")
	case "LIKE":
		return !v.IsNull() && likeMatch(strings.ToLower(v.S), c.like)
	case "INCLUDES", "EXCLUDES":
		has := false
		if !v.IsNull() {
			set := strings.Split(v.S, ";")
			for _, x := range c.vals {
				for _, s := range set {
					if strings.EqualFold(s, x.S) {
						has = true
					}
				}
			}
		}
		return has == (c.op == "INCLUDES")
	}
	lit := c.vals[0]
	if lit.IsNull() {
		switch c.op {
		case "=":
			return v.IsNull()
		case "!=":
			return !v.IsNull()
		}
		return false
	}
	if v.IsNull() {
		return c.op == "!="
	}
	if c.rng {
		lo, hi := c.vals[0], c.vals[1]
		switch c.op {
		case "=":
			return compare(v, lo, false) >= 0 && compare(v, hi, false) < 0
		case "!=":
			return compare(v, lo, false) < 0 || compare(v, hi, false) >= 0
		case "<":
			return compare(v, lo, false) < 0
		case "<=":
			return compare(v, hi, false) < 0
		case ">":
			return compare(v, hi, false) >= 0
		case ">=":
			return compare(v, lo, false) >= 0
		}
	}
	d := compare(v, lit, c.cs)
	switch c.op {
	case "=":
		return d == 0
	case "!=":
		return d != 0
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	}
	return false
}

// likeMatch matches SOQL LIKE patterns: % any run, _ one character.
func likeMatch(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '%':
			for len(p) > 0 && p[0] == '%' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if likeMatch(s[i:], p) {
					return true
				}
			}
			return false
		case '_':
			if s == "" {
				return false
			}
			s, p = s[1:], p[1:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			s, p = s[1:], p[1:]
		}
	}
	return s == ""
}

// value evaluates a selected path on a row: parent paths walk references
// to the parent record as of the cursor's snapshot; a deleted or missing
// parent yields null.
func (e *evalCtx) value(r *row, f *selField) Value {
	if len(f.rels) == 0 {
		return r.val(f.final)
	}
	cur := *r
	for k, rel := range f.rels {
		id := cur.val(rel)
		if id.IsNull() {
			return null
		}
		st, idx, ok := e.o.locate(id.S)
		if !ok {
			return null
		}
		v, ok := st.at(idx, e.snap)
		if !ok || v != nil && v.deleted {
			return null
		}
		cur.reset(e.o, st, idx, v)
		if k == len(f.rels)-1 {
			if ff := f.final; ff != nil && ff.pos < len(st.obj.Fields) && st.obj.Fields[ff.pos] == ff {
				return cur.val(ff)
			}
			ff := st.obj.Field(f.name)
			if ff == nil {
				return null
			}
			return cur.val(ff)
		}
	}
	return null
}

// ---- parser ----

type parser struct {
	o    *Org
	q    string
	toks []token
	i    int
	st   *objState
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) expectKw(kw string) *Error {
	if !p.isKw(kw) {
		return p.unexpected()
	}
	p.i++
	return nil
}

func (p *parser) unexpected() *Error {
	t := p.peek()
	if t.kind == tEOF {
		return malformed(p.q, t.pos, "unexpected token: <EOF>")
	}
	text := t.text
	if t.kind == tString {
		text = "'" + text + "'"
	}
	return malformed(p.q, t.pos, "unexpected token: "+text)
}

func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

// parseSOQL parses and resolves a query against the org's schema. Callers
// hold o.mu (read).
func (o *Org) parseSOQL(q string) (*query, *Error) {
	q = strings.TrimSpace(q)
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{o: o, q: q, toks: toks}
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	// The select list is resolved after FROM; remember its tokens.
	type rawSel struct {
		path  string
		pos   int
		count bool
		fn    string
	}
	var sels []rawSel
	for {
		t := p.next()
		if t.kind != tIdent {
			p.i--
			return nil, p.unexpected()
		}
		up := strings.ToUpper(t.text)
		switch {
		case (up == "COUNT" || up == "FIELDS") && p.punct("("):
			arg := ""
			if a := p.peek(); a.kind == tIdent {
				arg = a.text
				p.i++
			}
			if !p.punct(")") {
				return nil, p.unexpected()
			}
			sels = append(sels, rawSel{path: arg, pos: t.pos, count: up == "COUNT", fn: up})
		case t.text == "(":
			return nil, malformed(q, t.pos, "parent-to-child subqueries are not supported by this emulator")
		default:
			if up == "FROM" || up == "WHERE" {
				return nil, malformed(q, t.pos, "unexpected token: "+t.text)
			}
			sels = append(sels, rawSel{path: t.text, pos: t.pos})
		}
		if !p.punct(",") {
			break
		}
	}
	if t := p.peek(); t.kind == tPunct && t.text == "(" {
		return nil, malformed(q, t.pos, "parent-to-child subqueries are not supported by this emulator")
	}
	if err := p.expectKw("FROM"); err != nil {
		return nil, err
	}
	ot := p.next()
	if ot.kind != tIdent {
		p.i--
		return nil, p.unexpected()
	}
	st := o.state(ot.text)
	if st == nil || !st.obj.Queryable {
		return nil, soqlError("INVALID_TYPE", q, ot.pos, fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", ot.text))
	}
	p.st = st
	qq := &query{text: q, st: st, limit: -1, idHi: -1}
	for _, s := range sels {
		switch {
		case s.count && s.path == "":
			if len(sels) > 1 {
				return nil, malformed(q, s.pos, "COUNT() must be the only element in the SELECT list.")
			}
			qq.countOnly = true
		case s.count:
			f, err := p.resolve(s.path, s.pos)
			if err != nil {
				return nil, err
			}
			qq.fields = append(qq.fields, f)
			qq.countField = true
		case s.fn == "FIELDS":
			mode := strings.ToUpper(s.path)
			if mode != "ALL" && mode != "STANDARD" && mode != "CUSTOM" {
				return nil, malformed(q, s.pos, "unexpected token: "+s.path)
			}
			qq.fieldsAll = mode != "STANDARD"
			for _, f := range st.obj.Fields {
				if f.Parts != nil && false || mode == "CUSTOM" && !f.Custom || mode == "STANDARD" && f.Custom {
					continue
				}
				qq.fields = append(qq.fields, selField{final: f, name: f.Name, path: f.Name, pos: s.pos})
			}
		default:
			f, err := p.resolve(s.path, s.pos)
			if err != nil {
				return nil, err
			}
			qq.fields = append(qq.fields, f)
		}
	}
	if p.isKw("USING") {
		return nil, p.unexpected()
	}
	if p.isKw("WHERE") {
		p.i++
		w, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		qq.where = w
	}
	if p.isKw("WITH") {
		p.i++ // WITH SECURITY_ENFORCED and friends: accepted, no effect
		p.next()
	}
	if p.isKw("GROUP") {
		return nil, malformed(q, p.peek().pos, "GROUP BY is not supported by this emulator")
	}
	if p.isKw("ORDER") {
		p.i++
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.fieldOperand()
			if err != nil {
				return nil, err
			}
			it := orderItem{f: f}
			if p.isKw("ASC") {
				p.i++
			} else if p.isKw("DESC") {
				p.i++
				it.desc = true
			}
			it.nullsLast = it.desc // Salesforce: nulls first ascending, last descending
			if p.isKw("NULLS") {
				p.i++
				switch {
				case p.isKw("FIRST"):
					it.nullsLast = false
				case p.isKw("LAST"):
					it.nullsLast = true
				default:
					return nil, p.unexpected()
				}
				p.i++
			}
			qq.order = append(qq.order, it)
			if !p.punct(",") {
				break
			}
		}
	}
	for _, kw := range []string{"LIMIT", "OFFSET"} {
		if !p.isKw(kw) {
			continue
		}
		p.i++
		t := p.next()
		n, err := strconv.ParseInt(t.text, 10, 64)
		if t.kind != tNumber || err != nil || n < 0 {
			p.i--
			return nil, p.unexpected()
		}
		if kw == "LIMIT" {
			qq.limit = n
		} else {
			if n > 2000 {
				return nil, &Error{Code: "NUMBER_OUTSIDE_VALID_RANGE", Status: 400, Message: "Maximum SOQL offset allowed is 2000"}
			}
			qq.offset = n
		}
	}
	if p.isKw("FOR") || p.isKw("ALL") {
		p.i++
		p.next() // FOR VIEW / FOR REFERENCE / ALL ROWS: accepted, no effect
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected()
	}
	if qq.fieldsAll && (qq.limit < 0 || qq.limit > 200) {
		return nil, malformed(q, 0, "The SOQL FIELDS function must have a LIMIT of at most 200")
	}
	qq.pushdown()
	return qq, nil
}

// resolve turns a (possibly dotted) field path into a selField.
func (p *parser) resolve(path string, pos int) (selField, *Error) {
	parts := strings.Split(path, ".")
	obj := p.st.obj
	if len(parts) > 1 && strings.EqualFold(parts[0], obj.Name) {
		parts = parts[1:] // SELECT Account.Name FROM Account
	}
	sf := selField{pos: pos}
	var canon []string
	var objs []*Object = []*Object{obj}
	for k, part := range parts {
		last := k == len(parts)-1
		if last {
			var f *Field
			for _, ob := range objs {
				if f = ob.Field(part); f != nil {
					break
				}
			}
			if f == nil {
				return sf, p.noColumn(path, pos, objs[0].Name)
			}
			if len(objs) == 1 {
				sf.final = f
			}
			sf.name = f.Name
			canon = append(canon, f.Name)
			break
		}
		var rf *Field
		for _, ob := range objs {
			if rf = ob.relField(part); rf != nil {
				break
			}
		}
		if rf == nil {
			return sf, soqlError("INVALID_FIELD", p.q, pos, fmt.Sprintf("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", part))
		}
		sf.rels = append(sf.rels, rf)
		canon = append(canon, rf.RelationshipName)
		objs = objs[:0:0]
		for _, to := range rf.ReferenceTo {
			if st := p.o.state(to); st != nil {
				objs = append(objs, st.obj)
			}
		}
		if len(objs) == 0 {
			return sf, p.noColumn(path, pos, obj.Name)
		}
	}
	sf.path = strings.Join(canon, ".")
	return sf, nil
}

func (p *parser) noColumn(path string, pos int, obj string) *Error {
	return soqlError("INVALID_FIELD", p.q, pos, fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", path, obj))
}

func (p *parser) parseOr() (expr, *Error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if !p.isKw("OR") {
		return first, nil
	}
	if _, mixed := first.(andExpr); mixed {
		return nil, p.unexpected()
	}
	list := orExpr{first}
	for p.isKw("OR") {
		p.i++
		x, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if _, mixed := x.(andExpr); mixed {
			return nil, malformed(p.q, p.toks[p.i-1].pos, "unexpected token: AND")
		}
		list = append(list, x)
	}
	return list, nil
}

func (p *parser) parseAnd() (expr, *Error) {
	first, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if !p.isKw("AND") {
		return first, nil
	}
	list := andExpr{first}
	for p.isKw("AND") {
		p.i++
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	if p.isKw("OR") {
		return nil, p.unexpected() // a AND b OR c: Salesforce demands parentheses
	}
	return list, nil
}

func (p *parser) parseNot() (expr, *Error) {
	if p.isKw("NOT") {
		p.i++
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	if p.punct("(") {
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.unexpected()
		}
		return x, nil
	}
	return p.parseCmp()
}

// fieldOperand reads a field name (or dotted path) and resolves it.
func (p *parser) fieldOperand() (selField, *Error) {
	t := p.next()
	if t.kind != tIdent {
		p.i--
		return selField{}, p.unexpected()
	}
	return p.resolve(t.text, t.pos)
}

func (p *parser) parseCmp() (expr, *Error) {
	f, err := p.fieldOperand()
	if err != nil {
		return nil, err
	}
	c := &cmpExpr{f: f}
	ftype := p.fieldType(f)
	c.cs = ftype == "id" || ftype == "reference"
	op := p.next()
	switch {
	case op.kind == tPunct && strings.Contains("= != <> < <= > >=", op.text) && op.text != "(" && op.text != ")" && op.text != ",":
		c.op = op.text
		if c.op == "<>" {
			c.op = "!="
		}
		lt := p.peek()
		v, hi, rng, err := p.literal(f, ftype)
		if err != nil {
			return nil, err
		}
		if rng {
			c.vals, c.rng = []Value{v, hi}, true
		} else {
			c.vals = []Value{v}
		}
		if v.IsNull() && c.op != "=" && c.op != "!=" {
			return nil, malformed(p.q, lt.pos, "unexpected token: null")
		}
	case op.kind == tIdent && (strings.EqualFold(op.text, "IN") || strings.EqualFold(op.text, "NOT") || strings.EqualFold(op.text, "INCLUDES") || strings.EqualFold(op.text, "EXCLUDES")):
		c.op = strings.ToUpper(op.text)
		if c.op == "NOT" {
			if err := p.expectKw("IN"); err != nil {
				return nil, err
			}
			c.op = "NOTIN"
		}
		if !p.punct("(") {
			return nil, p.unexpected()
		}
		for {
			v, _, _, err := p.literal(f, ftype)
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return nil, p.unexpected()
			}
		}
	case op.kind == tIdent && strings.EqualFold(op.text, "LIKE"):
		c.op = "LIKE"
		lt := p.next()
		if lt.kind != tString {
			p.i--
			return nil, p.unexpected()
		}
		c.like = strings.ToLower(lt.text)
	default:
		p.i--
		return nil, p.unexpected()
	}
	return c, nil
}

// fieldType is the describe type of a selected path ("" when polymorphic and
// the final field differs per target).
func (p *parser) fieldType(f selField) string {
	if f.final != nil {
		return f.final.Type
	}
	for _, rel := range f.rels[len(f.rels)-1:] {
		for _, to := range rel.ReferenceTo {
			if st := p.o.state(to); st != nil {
				if ff := st.obj.Field(f.name); ff != nil {
					return ff.Type
				}
			}
		}
	}
	return ""
}

// literal parses one literal for a field of type ftype. Relative date
// literals return a [lo, hi) range.
func (p *parser) literal(f selField, ftype string) (v, hi Value, rng bool, err *Error) {
	t := p.next()
	bad := func(msg string) *Error {
		return soqlError("INVALID_QUERY_FILTER_OPERATOR", p.q, t.pos, msg)
	}
	kind := kindOf(ftype)
	switch t.kind {
	case tString:
		switch {
		case kind == KDate || kind == KDateTime:
			want := "date"
			if kind == KDateTime {
				want = "dateTime"
			}
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.name, want))
		case kind == KBool:
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type boolean and should not be enclosed in quotes", f.name))
		case kind == KInt || kind == KFloat:
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.name, map[Kind]string{KInt: "integer", KFloat: "double"}[kind]))
		}
		if ftype == "id" || ftype == "reference" {
			id := t.text
			switch len(id) {
			case 15:
				id = To18(id)
			case 18:
				if rep := repairCase(id); To18(rep[:15]) == rep {
					id = rep
				}
			default:
				if id != "" {
					return null, null, false, bad(fmt.Sprintf("invalid ID field: %s", t.text))
				}
			}
			return vStr(id), null, false, nil
		}
		return vStr(t.text), null, false, nil
	case tNumber:
		if kind != KInt && kind != KFloat {
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should be enclosed in quotes", f.name, ftype))
		}
		n, e := strconv.ParseFloat(t.text, 64)
		if e != nil {
			return null, null, false, malformed(p.q, t.pos, "unexpected token: "+t.text)
		}
		if kind == KInt && n == float64(int64(n)) {
			return vInt(int64(n)), null, false, nil
		}
		return vFloat(n), null, false, nil
	case tDate, tDateTime:
		tm, ok := parseDateTime(t.text)
		if !ok || t.kind == tDate && len(t.text) != 10 {
			return null, null, false, malformed(p.q, t.pos, "line 1:"+strconv.Itoa(t.pos)+" no viable alternative at character '"+t.text+"'")
		}
		if t.kind == tDate && kind == KDateTime {
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type dateTime and should not be enclosed in quotes", f.name))
		}
		if t.kind == tDateTime && kind == KDate {
			return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type date and should not be enclosed in quotes", f.name))
		}
		if kind == KDate {
			return vDate(tm), null, false, nil
		}
		return vDateTime(tm), null, false, nil
	case tIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "NULL":
			return null, null, false, nil
		case "TRUE", "FALSE":
			if kind != KBool {
				return null, null, false, bad(fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should be enclosed in quotes", f.name, ftype))
			}
			return vBool(up == "TRUE"), null, false, nil
		}
		if kind == KDate || kind == KDateTime {
			lo, hi, ok := p.relativeDate(up)
			if !ok {
				return null, null, false, malformed(p.q, t.pos, "unexpected token: "+t.text)
			}
			if kind == KDate {
				return Value{K: KDate, I: floorDiv(lo, dayMs)}, Value{K: KDate, I: floorDiv(hi, dayMs)}, true, nil
			}
			return Value{K: KDateTime, I: lo}, Value{K: KDateTime, I: hi}, true, nil
		}
	}
	p.i--
	return null, null, false, p.unexpected()
}

// relativeDate resolves a date literal to [lo, hi) epoch milliseconds, in
// UTC (the emulated org and user time zone), relative to the org clock.
func (p *parser) relativeDate(lit string) (lo, hi int64, ok bool) {
	now := p.o.Now()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day := func(t time.Time, d int) time.Time { return t.AddDate(0, 0, d) }
	week := day(today, -int(today.Weekday())) // weeks start on Sunday
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	year := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	quarter := time.Date(now.Year(), time.Month((int(now.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
	r := func(a, b time.Time) (int64, int64, bool) { return a.UnixMilli(), b.UnixMilli(), true }
	name, arg, hasArg := strings.Cut(lit, ":")
	n := 0
	if hasArg {
		var err error
		if n, err = strconv.Atoi(arg); err != nil || n < 0 {
			return 0, 0, false
		}
	}
	switch name {
	case "TODAY":
		return r(today, day(today, 1))
	case "YESTERDAY":
		return r(day(today, -1), today)
	case "TOMORROW":
		return r(day(today, 1), day(today, 2))
	case "THIS_WEEK":
		return r(week, day(week, 7))
	case "LAST_WEEK":
		return r(day(week, -7), week)
	case "NEXT_WEEK":
		return r(day(week, 7), day(week, 14))
	case "THIS_MONTH":
		return r(month, month.AddDate(0, 1, 0))
	case "LAST_MONTH":
		return r(month.AddDate(0, -1, 0), month)
	case "NEXT_MONTH":
		return r(month.AddDate(0, 1, 0), month.AddDate(0, 2, 0))
	case "THIS_QUARTER":
		return r(quarter, quarter.AddDate(0, 3, 0))
	case "THIS_YEAR":
		return r(year, year.AddDate(1, 0, 0))
	case "LAST_YEAR":
		return r(year.AddDate(-1, 0, 0), year)
	case "LAST_90_DAYS":
		return r(day(today, -90), day(today, 1))
	case "NEXT_90_DAYS":
		return r(day(today, 1), day(today, 91))
	}
	if !hasArg {
		return 0, 0, false
	}
	switch name {
	case "LAST_N_DAYS":
		return r(day(today, -n), day(today, 1))
	case "NEXT_N_DAYS":
		return r(day(today, 1), day(today, n+1))
	case "N_DAYS_AGO":
		return r(day(today, -n), day(today, -n+1))
	case "LAST_N_WEEKS":
		return r(day(week, -7*n), week)
	case "LAST_N_MONTHS":
		return r(month.AddDate(0, -n, 0), month)
	case "LAST_N_YEARS":
		return r(year.AddDate(-n, 0, 0), year)
	}
	return 0, 0, false
}

// pushdown narrows the scanned index range from top-level Id comparisons
// (keyset pagination: WHERE Id > '…' ORDER BY Id LIMIT n).
func (q *query) pushdown() {
	q.idLo = 0
	conj := []expr{q.where}
	if a, ok := q.where.(andExpr); ok {
		conj = a
	}
	for _, x := range conj {
		c, ok := x.(*cmpExpr)
		if !ok || len(c.f.rels) > 0 || c.f.final == nil || c.f.final.Type != "id" || len(c.vals) != 1 {
			continue
		}
		pfx, n, ok := parseID(c.vals[0].S)
		if !ok || pfx != q.st.obj.KeyPrefix {
			continue
		}
		idx := n - idCounter
		lo, hi := int64(0), int64(-1)
		switch c.op {
		case ">":
			lo = idx + 1
		case ">=":
			lo = idx
		case "<":
			hi = idx
		case "<=":
			hi = idx + 1
		case "=":
			lo, hi = idx, idx+1
		default:
			continue
		}
		q.idLo = max(q.idLo, lo)
		if hi >= 0 && (q.idHi < 0 || hi < q.idHi) {
			q.idHi = hi
		}
	}
	if q.idLo < 0 {
		q.idLo = 0
	}
}

// natural reports whether results come in index (Id) order without sorting.
func (q *query) natural() bool {
	return len(q.order) == 0 || len(q.order) == 1 && !q.order[0].desc && len(q.order[0].f.rels) == 0 &&
		q.order[0].f.final != nil && q.order[0].f.final.Type == "id"
}

// ---- execution ----

// cursor is an open query: a snapshot, a position and the total. A natural
// order cursor holds only positions; an ORDER BY cursor holds the sorted
// indexes of its matches.
type cursor struct {
	q       *query
	all     bool // queryAll: include the Recycle Bin
	snap    uint64
	end     int64   // index bound at open time
	sorted  []int64 // matches in result order; nil: evaluate in natural order while paging
	total   int64   // rows the query returns (after OFFSET/LIMIT)
	created time.Time
	pages   map[int64]pos // positions handed out in nextRecordsUrl (guarded by api.mu)
}

// matches reports whether record idx is in the result set at the snapshot.
func (c *cursor) matches(o *Org, r *row, e *evalCtx, idx int64) bool {
	v, ok := c.q.st.at(idx, c.snap)
	if !ok || v != nil && v.deleted && !c.all {
		return false
	}
	r.reset(o, c.q.st, idx, v)
	return c.q.where == nil || c.q.where.eval(r, e)
}

// open evaluates the query far enough to know its total. Callers hold o.mu
// (read).
func (o *Org) open(q *query, all bool) *cursor {
	c := &cursor{q: q, all: all, snap: o.seq, end: q.st.n, created: o.Now()}
	if q.idHi >= 0 && q.idHi < c.end {
		c.end = q.idHi
	}
	e := &evalCtx{o: o, snap: c.snap}
	var r row
	if q.natural() {
		var n int64
		if q.where == nil && q.idLo == 0 && c.end == q.st.n {
			n = o.fastCount(q.st, all)
		} else {
			// A filtered query keeps the positions it matched (when they are
			// few) so that reading the pages does not evaluate the filter
			// over every record a second time.
			var kept []int64
			if q.where != nil {
				kept = make([]int64, 0, 64)
			}
			for idx := q.idLo; idx < c.end; idx++ {
				if c.matches(o, &r, e, idx) {
					n++
					if kept != nil && len(kept) < keepMatches {
						kept = append(kept, idx)
					} else {
						kept = nil
					}
				}
			}
			if kept != nil {
				kept = window(kept, q)
				c.sorted, c.total = kept, int64(len(kept))
				return c
			}
		}
		n = max(0, n-q.offset)
		if q.limit >= 0 {
			n = min(n, q.limit)
		}
		c.total = n
		return c
	}
	var idxs []int64
	for idx := q.idLo; idx < c.end; idx++ {
		if c.matches(o, &r, e, idx) {
			idxs = append(idxs, idx)
		}
	}
	// Sort by the ORDER BY keys, computed once per match.
	keys := make([][]Value, len(idxs))
	for k, idx := range idxs {
		v, _ := q.st.at(idx, c.snap)
		r.reset(o, q.st, idx, v)
		ks := make([]Value, len(q.order))
		for j := range q.order {
			ks[j] = e.value(&r, &q.order[j].f)
		}
		keys[k] = ks
	}
	perm := make([]int, len(idxs))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool {
		ka, kb := keys[perm[a]], keys[perm[b]]
		for j, it := range q.order {
			x, y := ka[j], kb[j]
			if x.IsNull() != y.IsNull() {
				return x.IsNull() != it.nullsLast
			}
			if x.IsNull() {
				continue
			}
			cs := it.f.final != nil && (it.f.final.Type == "id" || it.f.final.Type == "reference")
			d := compare(x, y, cs)
			if d != 0 {
				return d < 0 != it.desc
			}
		}
		return idxs[perm[a]] < idxs[perm[b]]
	})
	sorted := make([]int64, 0, len(idxs))
	for _, p := range perm {
		sorted = append(sorted, idxs[p])
	}
	sorted = window(sorted, q)
	c.sorted, c.total = sorted, int64(len(sorted))
	return c
}

// keepMatches bounds the positions a natural-order cursor keeps (8 bytes
// each); past it the pages evaluate the filter again as they go.
const keepMatches = 1 << 18

// window applies OFFSET and LIMIT to matches in result order. The result
// is never nil: a nil cursor.sorted means natural order.
func window(matches []int64, q *query) []int64 {
	if q.offset > 0 {
		matches = matches[min(int64(len(matches)), q.offset):]
	}
	if q.limit >= 0 && int64(len(matches)) > q.limit {
		matches = matches[:q.limit]
	}
	if matches == nil {
		matches = []int64{}
	}
	return matches
}

// fastCount counts records without a filter from the overlay alone.
func (o *Org) fastCount(st *objState, all bool) int64 {
	n := st.genN
	for idx := range st.recs {
		v, ok := st.at(idx, o.seq)
		exists := ok && (all || v == nil || !v.deleted)
		if idx < st.genN && !exists {
			n--
		}
		if idx >= st.genN && exists {
			n++
		}
	}
	return n
}

// pos is a position in a cursor: the next index to examine (natural order)
// or the next slot of sorted, plus the rows returned so far.
type pos struct {
	next    int64
	emitted int64
}

// scan emits up to max rows from position p, calling fn with each row, and
// returns the position after them. Callers hold o.mu (read).
func (o *Org) scan(c *cursor, p pos, maxRows int64, fn func(r *row, e *evalCtx)) pos {
	e := &evalCtx{o: o, snap: c.snap}
	var r row
	if c.sorted != nil {
		for p.next < int64(len(c.sorted)) && maxRows > 0 {
			idx := c.sorted[p.next]
			v, _ := c.q.st.at(idx, c.snap)
			r.reset(o, c.q.st, idx, v)
			fn(&r, e)
			p.next++
			p.emitted++
			maxRows--
		}
		return p
	}
	if p.next == 0 && p.emitted == 0 {
		p.next = c.q.idLo
		// OFFSET: skip matches before emitting.
		for skip := c.q.offset; skip > 0 && p.next < c.end; p.next++ {
			if c.matches(o, &r, e, p.next) {
				skip--
			}
		}
	}
	for p.next < c.end && maxRows > 0 && p.emitted < c.total {
		idx := p.next
		p.next++
		if !c.matches(o, &r, e, idx) {
			continue
		}
		fn(&r, e)
		p.emitted++
		maxRows--
	}
	if p.emitted >= c.total {
		p.next = c.end
	}
	return p
}
