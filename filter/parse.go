package filter

import (
	"fmt"
	"strings"
)

// Expr is a parsed filter, not yet tied to an object's fields.
type Expr struct {
	src  string
	root node
}

type node interface {
	write(b *strings.Builder, parent prec)
}

type prec int

const (
	precOr prec = iota
	precAnd
	precNot
)

type orNode struct{ xs []node }
type andNode struct{ xs []node }
type notNode struct{ x node }

// cmpNode is one comparison: field op value(s).
type cmpNode struct {
	field    string
	fieldPos int
	op       string // = != < <= > >= LIKE IN INCLUDES EXCLUDES
	neg      bool   // NOT LIKE, NOT IN
	vals     []lit
}

type litKind uint8

const (
	lNull litKind = iota
	lString
	lNumber
	lBool
	lDate
	lDateTime
)

var litNames = [...]string{"null", "a string", "a number", "a boolean", "a date", "a datetime"}

// lit is a literal as written: text is the raw string body (escapes not
// decoded), the number, date or datetime as typed, or true/false.
type lit struct {
	kind litKind
	text string
	pos  int
}

// Parse reads a filter. The error, if any, is an *Error wrapping ErrSyntax
// that says where and what was expected.
func Parse(src string) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errAt(p.peek(), "the filter is empty: expected a comparison such as Name = 'Acme'")
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t, "unbalanced ')': no '(' to close")
		}
		return nil, p.errAt(t, "expected AND, OR or the end of the filter, found %s", t.describe())
	}
	return &Expr{src: src, root: root}, nil
}

// String gives the filter in a canonical form (keywords upper case,
// minimal parentheses); parsing it gives the same filter.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b, precOr)
	return b.String()
}

// Fields lists the field names the filter mentions, as written, in order of
// first mention.
func (e *Expr) Fields() []string {
	var out []string
	seen := map[string]bool{}
	walk(e.root, func(c *cmpNode) {
		if k := strings.ToLower(c.field); !seen[k] {
			seen[k] = true
			out = append(out, c.field)
		}
	})
	return out
}

func walk(n node, fn func(*cmpNode)) {
	switch n := n.(type) {
	case *orNode:
		for _, x := range n.xs {
			walk(x, fn)
		}
	case *andNode:
		for _, x := range n.xs {
			walk(x, fn)
		}
	case *notNode:
		walk(n.x, fn)
	case *cmpNode:
		fn(n)
	}
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &Error{Src: p.src, Pos: t.pos, Msg: fmt.Sprintf(format, args...), kind: ErrSyntax}
}

func (p *parser) or() (node, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	xs := []node{x}
	for p.peek().is("OR") {
		p.next()
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return &orNode{xs}, nil
}

func (p *parser) and() (node, error) {
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	xs := []node{x}
	for p.peek().is("AND") {
		p.next()
		y, err := p.not()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return &andNode{xs}, nil
}

var keywords = []string{"AND", "OR", "NOT", "LIKE", "IN", "INCLUDES", "EXCLUDES", "NULL", "TRUE", "FALSE"}

func isKeyword(t token) bool {
	for _, k := range keywords {
		if t.is(k) {
			return true
		}
	}
	return false
}

func (p *parser) not() (node, error) {
	t := p.peek()
	switch {
	case t.is("NOT"):
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case t.kind == tLParen:
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.errAt(c, "expected ')' to close the '(' at column %d, found %s", (&Error{Src: p.src, Pos: t.pos}).Column(), c.describe())
		}
		p.next()
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	f := p.next()
	if f.kind != tIdent || isKeyword(f) {
		return nil, p.errAt(f, "expected a field name, NOT or '(', found %s", f.describe())
	}
	c := &cmpNode{field: f.text, fieldPos: f.pos}
	t := p.next()
	if t.is("NOT") {
		c.neg = true
		t = p.next()
		if !t.is("LIKE") && !t.is("IN") {
			return nil, p.errAt(t, "expected LIKE or IN after NOT, found %s", t.describe())
		}
	}
	switch {
	case t.kind == tOp:
		c.op = t.text
		if c.op == "<>" {
			c.op = "!="
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if v.kind == lNull && c.op != "=" && c.op != "!=" {
			return nil, p.errAt(t, "null can only be compared with = or != (found %s null)", c.op)
		}
		c.vals = []lit{v}
	case t.is("LIKE"):
		c.op = "LIKE"
		v := p.next()
		if v.kind != tString {
			return nil, p.errAt(v, "expected a quoted pattern after LIKE (e.g. 'Acme%%'), found %s", v.describe())
		}
		c.vals = []lit{{kind: lString, text: v.text, pos: v.pos}}
	case t.is("IN") || t.is("INCLUDES") || t.is("EXCLUDES"):
		c.op = strings.ToUpper(t.text)
		if o := p.next(); o.kind != tLParen {
			return nil, p.errAt(o, "expected '(' and a list of values after %s, found %s", c.op, o.describe())
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			if c.op != "IN" && v.kind != lString {
				return nil, p.errAt(token{pos: v.pos}, "%s takes quoted picklist values, found %s", c.op, litNames[v.kind])
			}
			c.vals = append(c.vals, v)
			sep := p.next()
			if sep.kind == tRParen {
				break
			}
			if sep.kind != tComma {
				return nil, p.errAt(sep, "expected ',' or ')' in the %s list, found %s", c.op, sep.describe())
			}
		}
	default:
		return nil, p.errAt(t, "expected an operator after %s (=, !=, <, <=, >, >=, LIKE, IN, NOT IN, INCLUDES, EXCLUDES), found %s", f.text, t.describe())
	}
	return c, nil
}

func (p *parser) value() (lit, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return lit{kind: lString, text: t.text, pos: t.pos}, nil
	case tNumber:
		return lit{kind: lNumber, text: t.text, pos: t.pos}, nil
	case tDate:
		return lit{kind: lDate, text: t.text, pos: t.pos}, nil
	case tDateTime:
		return lit{kind: lDateTime, text: t.text, pos: t.pos}, nil
	case tIdent:
		switch {
		case t.is("NULL"):
			return lit{kind: lNull, text: "null", pos: t.pos}, nil
		case t.is("TRUE"):
			return lit{kind: lBool, text: "true", pos: t.pos}, nil
		case t.is("FALSE"):
			return lit{kind: lBool, text: "false", pos: t.pos}, nil
		}
		return lit{}, p.errAt(t, "expected a value, found the name %s (quote text: '%s'; a filter compares a field with a value, not with another field)", t.text, t.text)
	}
	return lit{}, p.errAt(t, "expected a value ('quoted text', a number, true, false, null, a date like 2024-01-31 or a datetime like 2024-01-31T09:00:00Z), found %s", t.describe())
}

// ---- printing ----

func (n *orNode) write(b *strings.Builder, parent prec) {
	writeList(b, n.xs, " OR ", precOr, parent)
}

func (n *andNode) write(b *strings.Builder, parent prec) {
	writeList(b, n.xs, " AND ", precAnd, parent)
}

func writeList(b *strings.Builder, xs []node, sep string, own, parent prec) {
	paren := parent > own
	if paren {
		b.WriteByte('(')
	}
	for i, x := range xs {
		if i > 0 {
			b.WriteString(sep)
		}
		// A nested list of the same operator keeps its parentheses, so the
		// printed form parses back to the same tree.
		x.write(b, own+1)
	}
	if paren {
		b.WriteByte(')')
	}
}

func (n *notNode) write(b *strings.Builder, _ prec) {
	b.WriteString("NOT ")
	n.x.write(b, precNot)
}

func (c *cmpNode) write(b *strings.Builder, _ prec) {
	b.WriteString(c.field)
	b.WriteByte(' ')
	if c.neg {
		b.WriteString("NOT ")
	}
	b.WriteString(c.op)
	b.WriteByte(' ')
	if c.op == "=" || c.op == "!=" || c.op == "<" || c.op == "<=" || c.op == ">" || c.op == ">=" || c.op == "LIKE" {
		c.vals[0].write(b)
		return
	}
	b.WriteByte('(')
	for i, v := range c.vals {
		if i > 0 {
			b.WriteString(", ")
		}
		v.write(b)
	}
	b.WriteByte(')')
}

func (l lit) write(b *strings.Builder) {
	if l.kind == lString {
		b.WriteByte('\'')
		b.WriteString(l.text)
		b.WriteByte('\'')
		return
	}
	b.WriteString(l.text)
}
