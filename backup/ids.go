package backup

import (
	"fmt"
	"math/big"
)

// Keyset chunking splits an object into Id ranges [lo, hi) so that several
// Bulk jobs read it at once, and so that a resumed run knows which part is
// stored. Salesforce Ids are 15 case-sensitive characters (3 of key prefix,
// then base-62 digits) and compare as bytes; the base-62 digit order
// 0-9 A-Z a-z is also their byte order, so the 12 characters after the
// prefix read as a base-62 number and ranges can be cut by arithmetic on it,
// without scanning anything. Real Ids are not spread evenly (a pod part,
// then a counter), so ranges are sized from the observed density and
// adapted as jobs finish (see chunker in extract.go).

const idDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var idDigitValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(idDigits); i++ {
		v[idDigits[i]] = int8(i)
	}
	return
}()

// idNumber reads the 12 characters after the key prefix of a 15- or
// 18-character Id as a base-62 number.
func idNumber(id string) (*big.Int, error) {
	if len(id) != 15 && len(id) != 18 {
		return nil, fmt.Errorf("invalid Id %q: want 15 or 18 characters", id)
	}
	n := new(big.Int)
	b62 := big.NewInt(62)
	for i := 3; i < 15; i++ {
		d := idDigitValue[id[i]]
		if d < 0 {
			return nil, fmt.Errorf("invalid Id %q: character %q", id, id[i])
		}
		n.Mul(n, b62).Add(n, big.NewInt(int64(d)))
	}
	return n, nil
}

// idOf writes n as the 15-character Id with the given key prefix. n must
// be below 62^12.
func idOf(prefix string, n *big.Int) string {
	var b [15]byte
	copy(b[:3], prefix)
	m := new(big.Int).Set(n)
	b62, d := big.NewInt(62), new(big.Int)
	for i := 14; i >= 3; i-- {
		m.DivMod(m, b62, d)
		b[i] = idDigits[d.Int64()]
	}
	return string(b[:])
}

// idSpan is the Id space of an object between its first and last record.
type idSpan struct {
	prefix   string
	min, max *big.Int // inclusive
}

func newIDSpan(first, last string) (idSpan, error) {
	lo, err := idNumber(first)
	if err != nil {
		return idSpan{}, err
	}
	hi, err := idNumber(last)
	if err != nil {
		return idSpan{}, err
	}
	if first[:3] != last[:3] || lo.Cmp(hi) > 0 {
		return idSpan{}, fmt.Errorf("Ids %s and %s do not bound one object", first, last)
	}
	return idSpan{prefix: first[:3], min: lo, max: hi}, nil
}

// width is the number of Id values in the span.
func (s idSpan) width() *big.Int {
	return new(big.Int).Add(new(big.Int).Sub(s.max, s.min), big.NewInt(1))
}
