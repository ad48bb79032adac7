package sftest

import (
	"strconv"
	"time"
)

// Kind is the representation of a Value.
type Kind uint8

const (
	KNull     Kind = iota
	KString        // S
	KBool          // I: 0 or 1
	KInt           // I
	KFloat         // F (double, currency, percent)
	KDate          // I: days since 1970-01-01 (UTC)
	KDateTime      // I: milliseconds since the Unix epoch (UTC)
	KTime          // I: milliseconds since midnight
)

// Value is one field value. It is a plain struct rather than an interface so
// that generating and comparing values allocates nothing; strings of
// generated records are usually sub-slices of static tables.
type Value struct {
	K Kind
	I int64
	F float64
	S string
}

var null = Value{}

func vStr(s string) Value    { return Value{K: KString, S: s} }
func vInt(i int64) Value     { return Value{K: KInt, I: i} }
func vFloat(f float64) Value { return Value{K: KFloat, F: f} }
func vBool(b bool) Value {
	if b {
		return Value{K: KBool, I: 1}
	}
	return Value{K: KBool}
}
func vDateTime(t time.Time) Value { return Value{K: KDateTime, I: t.UnixMilli()} }
func vDate(t time.Time) Value {
	return Value{K: KDate, I: t.UTC().Truncate(24*time.Hour).Unix() / 86400}
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.K == KNull }

// Time returns a date or datetime value as a time.Time in UTC.
func (v Value) Time() time.Time {
	switch v.K {
	case KDate:
		return time.Unix(v.I*86400, 0).UTC()
	case KDateTime:
		return time.UnixMilli(v.I).UTC()
	}
	return time.Time{}
}

// Any converts v to a plain Go value: nil, string, bool, int64, float64,
// time.Time (date and datetime), or a "15:04:05.000Z" string for times.
func (v Value) Any() any {
	switch v.K {
	case KString:
		return v.S
	case KBool:
		return v.I != 0
	case KInt:
		return v.I
	case KFloat:
		return v.F
	case KDate, KDateTime:
		return v.Time()
	case KTime:
		return string(appendTime(nil, v.I))
	}
	return nil
}

// appendCSV appends v as Bulk API 2.0 prints it, unquoted: "" for null,
// true/false, dates 2006-01-02, datetimes 2006-01-02T15:04:05.000Z.
func (v Value) appendCSV(dst []byte) []byte {
	switch v.K {
	case KString:
		return append(dst, v.S...)
	case KBool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KInt:
		return strconv.AppendInt(dst, v.I, 10)
	case KFloat:
		return strconv.AppendFloat(dst, v.F, 'f', -1, 64)
	case KDate:
		return appendDate(dst, v.I)
	case KDateTime:
		return appendDateTime(dst, v.I, true)
	case KTime:
		return appendTime(dst, v.I)
	}
	return dst
}

// appendDate writes days-since-epoch as yyyy-MM-dd.
func appendDate(dst []byte, days int64) []byte {
	y, m, d := time.Unix(days*86400, 0).UTC().Date()
	dst = appendPad(dst, int64(y), 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int64(m), 2)
	dst = append(dst, '-')
	return appendPad(dst, int64(d), 2)
}

// appendDateTime writes epoch milliseconds as 2006-01-02T15:04:05.000Z (Bulk
// CSV) or 2006-01-02T15:04:05.000+0000 (REST JSON).
func appendDateTime(dst []byte, ms int64, z bool) []byte {
	days := ms / 86400000
	rem := ms % 86400000
	if rem < 0 {
		days--
		rem += 86400000
	}
	dst = appendDate(dst, days)
	dst = append(dst, 'T')
	dst = appendClock(dst, rem)
	if z {
		return append(dst, 'Z')
	}
	return append(dst, "+0000"...)
}

func appendTime(dst []byte, ms int64) []byte {
	return append(appendClock(dst, ms), 'Z')
}

func appendClock(dst []byte, ms int64) []byte {
	dst = appendPad(dst, ms/3600000, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, ms/60000%60, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, ms/1000%60, 2)
	dst = append(dst, '.')
	return appendPad(dst, ms%1000, 3)
}

func appendPad(dst []byte, n int64, width int) []byte {
	var b [20]byte
	s := strconv.AppendInt(b[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// compare orders two non-null values of compatible kinds: -1, 0, +1.
// Strings compare case-insensitively except Ids (caseSensitive), as SOQL does.
func compare(a, b Value, caseSensitive bool) int {
	switch a.K {
	case KString:
		x, y := a.S, b.S
		if !caseSensitive {
			return cmpFold(x, y)
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case KFloat:
		return cmpF(a.F, b.asFloat())
	case KInt:
		if b.K == KFloat {
			return cmpF(float64(a.I), b.F)
		}
	}
	switch {
	case a.I < b.I:
		return -1
	case a.I > b.I:
		return 1
	}
	return 0
}

func (v Value) asFloat() float64 {
	if v.K == KFloat {
		return v.F
	}
	return float64(v.I)
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lower(a[i]), lower(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
