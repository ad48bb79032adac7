package filter

import (
	"cmp"
	"github.com/orgsnap/orgsnap/repo/record"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Values in records are canonical (see backup's Canon): dates "YYYY-MM-DD",
// datetimes "YYYY-MM-DDTHH:MM:SS.sssZ" in UTC, numbers as the shortest exact
// decimal. Literals are brought to the same form once, at Bind, so that
// dates and datetimes then compare as bytes and numbers by decimal digits.

// canonDate checks a date literal; canonical dates are their own text.
func canonDate(s string) (string, bool) {
	if len(s) != 10 {
		return "", false
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", false
	}
	return s, true
}

// canonDateTime brings a datetime literal to UTC with milliseconds.
func canonDateTime(s string) (string, bool) {
	if len(s) < 20 || s[10] != 'T' && s[10] != 't' {
		return "", false
	}
	rest := s[19:] // after YYYY-MM-DDTHH:MM:SS
	frac := ""
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		frac, rest = rest[1:n], rest[n:]
		if frac == "" {
			return "", false
		}
		if len(frac) > 3 && strings.Trim(frac[3:], "0") != "" {
			return "", false // finer than Salesforce keeps
		}
	}
	var zone string
	switch {
	case rest == "Z" || rest == "z":
		zone = "Z"
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		zone = rest
	case len(rest) == 5 && (rest[0] == '+' || rest[0] == '-') && allDigits(rest[1:]):
		zone = rest[:3] + ":" + rest[3:]
	default:
		return "", false
	}
	for len(frac) < 3 {
		frac += "0"
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", s[:10]+"T"+s[11:19]+"."+frac[:3]+zone)
	if err != nil {
		return "", false
	}
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return "", false
	}
	return t.Format("2006-01-02T15:04:05.000Z"), true
}

// decimal is an exact number (record.Decimal: ±0.Digits × 10^Exp, the
// same reading as the backup engine's canonical form).
type decimal = record.Decimal

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits].
func parseDecimal(s string) (decimal, bool) { return record.ParseDecimal(s) }

func canonNumber(s string) (decimal, bool) { return parseDecimal(s) }

// cmpDecimal orders two exact decimals.
func cmpDecimal(a, b decimal) int {
	sign := func(d decimal) int {
		switch {
		case d.Digits == "":
			return 0
		case d.Neg:
			return -1
		}
		return 1
	}
	sa, sb := sign(a), sign(b)
	if sa != sb || sa == 0 {
		return cmp.Compare(sa, sb)
	}
	// Same sign, both non-zero: compare magnitudes, then flip for negatives.
	m := 0
	switch {
	case a.Exp != b.Exp:
		m = cmp.Compare(a.Exp, b.Exp)
	default:
		m = strings.Compare(a.Digits, b.Digits) // no trailing zeros: prefix is smaller
	}
	return m * sa
}

// cmpFold orders strings case-insensitively, rune by rune (simple case
// folding, without allocating).
func cmpFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		la, lb := unicode.ToLower(ra), unicode.ToLower(rb)
		if la != lb {
			return cmp.Compare(int(la), int(lb))
		}
	}
	return cmp.Compare(len(a), len(b))
}

// likePattern is a compiled LIKE pattern: literal runs between wildcards.
type likePattern struct {
	parts []likePart
}

type likePart struct {
	lit  string // literal text (case folded at compare time)
	any1 bool   // '_': exactly one character
	anyN bool   // '%': any run
}

// compileLike turns the decoded pattern text (with \% and \_ still
// escaped) into parts.
func compileLike(pat string) likePattern {
	var p likePattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.parts = append(p.parts, likePart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\' && i+1 < len(pat) && (pat[i+1] == '%' || pat[i+1] == '_'):
			lit.WriteByte(pat[i+1])
			i++
		case c == '%':
			flush()
			if n := len(p.parts); n == 0 || !p.parts[n-1].anyN {
				p.parts = append(p.parts, likePart{anyN: true})
			}
		case c == '_':
			flush()
			p.parts = append(p.parts, likePart{any1: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// match reports whether s matches the whole pattern. On a mismatch it
// backtracks only to the last %, letting it take one more character (the
// classic wildcard algorithm): O(len(s) × parts) at worst, never
// exponential.
func (p likePattern) match(s string) bool {
	parts := p.parts
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for {
		if pi < len(parts) {
			pt := parts[pi]
			switch {
			case pt.anyN:
				starPi, starSi = pi, si
				pi++
				continue
			case pt.any1:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			default:
				if n, ok := hasPrefixFold(s[si:], pt.lit); ok {
					si += n
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starPi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si, pi = starSi, starPi+1
	}
}

// hasPrefixFold reports whether s starts with lit, case-insensitively, and
// how many bytes of s that prefix takes.
func hasPrefixFold(s, lit string) (int, bool) {
	i := 0
	for _, rl := range lit {
		if i >= len(s) {
			return 0, false
		}
		rs, n := utf8.DecodeRuneInString(s[i:])
		if rs != rl && unicode.ToLower(rs) != unicode.ToLower(rl) {
			return 0, false
		}
		i += n
	}
	return i, true
}
