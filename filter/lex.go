package filter

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors callers branch on (errors.Is).
var (
	// ErrSyntax: the filter text is malformed.
	ErrSyntax = errors.New("malformed filter")
	// ErrUnknownField: the filter names a field the object does not have.
	ErrUnknownField = errors.New("unknown field")
	// ErrType: a value does not fit its field's type (a quoted number on a
	// number field, a date on a datetime field…).
	ErrType = errors.New("value does not fit the field's type")
)

// Error is a filter error at a position of the filter text. It unwraps to
// ErrSyntax, ErrUnknownField or ErrType.
type Error struct {
	Src  string // the filter text
	Pos  int    // byte offset of the offending token
	Msg  string
	kind error
	// Suggestions are the closest known field names (unknown field only).
	Suggestions []string
}

func (e *Error) Unwrap() error { return e.kind }

// Column is the 1-based column (in characters) of the error.
func (e *Error) Column() int {
	p := min(max(e.Pos, 0), len(e.Src))
	return utf8.RuneCountInString(e.Src[:p]) + 1
}

// Error gives the message, then the filter with a caret under the spot.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "filter: column %d: %s\n  %s\n  %s^", e.Column(), e.Msg, e.Src, strings.Repeat(" ", e.Column()-1))
	return b.String()
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString // text holds the raw characters between the quotes
	tNumber
	tDate
	tDateTime
	tOp // = != <> < <= > >=
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the filter"
	case tString:
		return "'" + t.text + "'"
	}
	return fmt.Sprintf("%q", t.text)
}

// is reports whether t is the keyword kw (upper case).
func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

// lex splits src into tokens (the last one tEOF).
func lex(src string) ([]token, error) {
	var toks []token
	bad := func(pos int, format string, args ...any) error {
		return &Error{Src: src, Pos: pos, Msg: fmt.Sprintf(format, args...), kind: ErrSyntax}
	}
	for i := 0; ; {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		c, start := src[i], i
		switch {
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '!':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{tOp, "!=", i})
				i += 2
				continue
			}
			return nil, bad(i, "expected != but found %q", "!")
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(src) && (src[i+1] == '=' || c == '<' && src[i+1] == '>') {
				op += string(src[i+1])
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		case c == '\'':
			i++
			for i < len(src) && src[i] != '\'' {
				if src[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(src) {
				return nil, bad(start, "string not closed: expected a closing ' (write a quote inside a string as \\')")
			}
			raw := src[start+1 : i]
			if _, err := unescape(raw, true); err != nil {
				return nil, bad(start+1+err.(escapeError).at, "%s", err.(escapeError).msg)
			}
			toks = append(toks, token{tString, raw, start})
			i++
		case c == '"':
			return nil, bad(i, "strings take single quotes: write 'text', not \"text\"")
		case isDigit(c) || (c == '-' || c == '+' || c == '.') && i+1 < len(src) && isDigit(src[i+1]):
			t, n, err := lexNumberOrDate(src[i:])
			if err != "" {
				return nil, bad(i, "%s", err)
			}
			t.pos = i
			toks = append(toks, t)
			i += n
		case isLetter(c) || c == '_':
			for i < len(src) && (isIdentChar(src[i]) || src[i] == '.' && i+1 < len(src) && (isLetter(src[i+1]) || src[i+1] == '_')) {
				i++
			}
			toks = append(toks, token{tIdent, src[start:i], start})
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, bad(i, "unexpected character %q (expected a field name, an operator, a value or a parenthesis)", r)
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexNumberOrDate reads a number, date or datetime at the start of s.
func lexNumberOrDate(s string) (token, int, string) {
	if len(s) >= 10 && allDigits(s[:4]) && s[4] == '-' && allDigits(s[5:7]) && s[7] == '-' && allDigits(s[8:10]) {
		n := 10
		for n < len(s) && (isIdentChar(s[n]) || s[n] == ':' || s[n] == '.' || s[n] == '+' || s[n] == '-') {
			n++
		}
		lit := s[:n]
		if n == 10 {
			if _, ok := canonDate(lit); !ok {
				return token{}, 0, fmt.Sprintf("%s is not a date (YYYY-MM-DD)", lit)
			}
			return token{kind: tDate, text: lit}, n, ""
		}
		if _, ok := canonDateTime(lit); !ok {
			return token{}, 0, fmt.Sprintf("%s is not a datetime (YYYY-MM-DDTHH:MM:SS[.sss] then Z or an offset like +01:00)", lit)
		}
		return token{kind: tDateTime, text: lit}, n, ""
	}
	n := 0
	if s[n] == '-' || s[n] == '+' {
		n++
	}
	for n < len(s) && (isDigit(s[n]) || s[n] == '.' || s[n] == 'e' || s[n] == 'E' ||
		(s[n] == '+' || s[n] == '-') && (s[n-1] == 'e' || s[n-1] == 'E')) {
		n++
	}
	lit := s[:n]
	if n < len(s) && isIdentChar(s[n]) {
		return token{}, 0, fmt.Sprintf("%s… is not a number (quote text: '…')", s[:n+1])
	}
	if _, ok := canonNumber(lit); !ok {
		return token{}, 0, fmt.Sprintf("%s is not a number", lit)
	}
	return token{kind: tNumber, text: lit}, n, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

type escapeError struct {
	at  int
	msg string
}

func (e escapeError) Error() string { return e.msg }

// unescape decodes a string literal's raw text. With like, \% and \_ stay
// escaped (the LIKE pattern gives them their meaning); without, they are
// refused, as SOQL refuses them outside LIKE. The lexer checks with
// like=true, so that refusal comes from the parser, where the use is known.
func unescape(raw string, like bool) (string, error) {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(raw) {
			return "", escapeError{i, "a backslash ends the string (write \\\\ for a backslash)"}
		}
		i++
		switch raw[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '\'', '"', '\\':
			b.WriteByte(raw[i])
		case '%', '_':
			if !like {
				return "", escapeError{i - 1, fmt.Sprintf("\\%c is only meaningful in a LIKE pattern (write %c alone here)", raw[i], raw[i])}
			}
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		case 'u':
			var r rune
			if i+5 > len(raw) {
				return "", escapeError{i - 1, "\\u takes four hex digits"}
			}
			for _, h := range []byte(raw[i+1 : i+5]) {
				var d byte
				switch {
				case isDigit(h):
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", escapeError{i - 1, "\\u takes four hex digits"}
				}
				r = r<<4 | rune(d)
			}
			b.WriteRune(r)
			i += 4
		default:
			return "", escapeError{i - 1, fmt.Sprintf("unknown escape \\%c (known: \\' \\\" \\\\ \\n \\r \\t \\b \\f \\uXXXX, and \\%% \\_ in LIKE)", raw[i])}
		}
	}
	return b.String(), nil
}
