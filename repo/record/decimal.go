package record

// Decimal is an exact decimal number: ±0.Digits × 10^Exp, with Digits
// holding no leading or trailing zero ("" for zero, whatever its sign or
// form). Equal numbers have equal Decimals, however they were written.
type Decimal struct {
	Neg    bool
	Digits string
	Exp    int // digits before the decimal point, counted from Digits' first
}

// maxDecimalExp bounds a written exponent: far beyond any number a
// Salesforce field holds, near enough that Exp cannot overflow.
const maxDecimalExp = 1e8

// ParseDecimal reads [+-]digits[.digits][(e|E)[+-]digits], with digits on
// at least one side of the point, exactly (no rounding: it works on the
// digit string). It is the one reader of decimal text: the backup engine's
// canonical form and the filter language's comparisons both use it.
func ParseDecimal(s string) (Decimal, bool) {
	var d Decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.Neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
	}
	nInt, nFrac := intEnd-intStart, fracEnd-fracStart
	if nInt+nFrac == 0 {
		return Decimal{}, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return Decimal{}, false
		}
		for ; i < len(s) && isDigit(s[i]); i++ {
			if exp > maxDecimalExp {
				return Decimal{}, false
			}
			exp = exp*10 + int(s[i]-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return Decimal{}, false
	}
	// The digits, integer part then fraction, as one string with the point
	// after nInt of them; the significant ones run from lo to hi.
	digits := s[intStart:intEnd] + s[fracStart:fracEnd]
	lo, hi := 0, len(digits)
	for lo < hi && digits[lo] == '0' {
		lo++
	}
	for hi > lo && digits[hi-1] == '0' {
		hi--
	}
	if lo == hi {
		return Decimal{}, true // zero, "-0" included
	}
	d.Digits = digits[lo:hi]
	d.Exp = nInt + exp - lo
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
