package sftest

import "strings"

// Record Ids are 15 case-sensitive base-62 characters plus a 3-character
// case-safe suffix (18 in all). The emulator lays them out as
//
//	prefix(3) | "Dn000" | counter(7, base 62, digits 0-9A-Za-z)
//
// Because the base-62 alphabet is in ASCII order, comparing two Ids of the
// same object as bytes compares their counters: Id order is creation order,
// which lets queries ordered by Id (and keyset pagination on Id) walk the
// generated records without sorting anything.

const (
	base62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	idPod     = "Dn000"
	idDigits  = 7
	idCounter = 100000 // counter of record index 0: Ids look less synthetic
)

// To18 returns the 18-character case-safe form of a 15-character Id; an
// 18-character Id is returned unchanged. Any other length is returned as is.
func To18(id string) string {
	if len(id) != 15 {
		return id
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b [18]byte
	copy(b[:], id)
	for chunk := 0; chunk < 3; chunk++ {
		v := 0
		for j := 0; j < 5; j++ {
			if c := id[chunk*5+j]; c >= 'A' && c <= 'Z' {
				v |= 1 << j
			}
		}
		b[15+chunk] = alphabet[v]
	}
	return string(b[:])
}

// makeID builds the 18-character Id of counter n for a key prefix.
func makeID(prefix string, n int64) string {
	var b [15]byte
	copy(b[:3], prefix)
	copy(b[3:8], idPod)
	for i := 14; i >= 8; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return To18(string(b[:]))
}

// appendID appends the 18-character Id to dst without intermediate strings
// (the hot path of Bulk result generation).
func appendID(dst []byte, prefix string, n int64) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	start := len(dst)
	dst = append(dst, prefix...)
	dst = append(dst, idPod...)
	var d [idDigits]byte
	for i := idDigits - 1; i >= 0; i-- {
		d[i] = base62[n%62]
		n /= 62
	}
	dst = append(dst, d[:]...)
	for chunk := 0; chunk < 3; chunk++ {
		v := 0
		for j := 0; j < 5; j++ {
			if c := dst[start+chunk*5+j]; c >= 'A' && c <= 'Z' {
				v |= 1 << j
			}
		}
		dst = append(dst, alphabet[v])
	}
	return dst
}

// parseID splits a 15- or 18-character Id made by makeID into its key
// prefix and counter. ok is false for anything else, including Ids whose
// 18-character suffix does not match (a mangled Id).
func parseID(id string) (prefix string, n int64, ok bool) {
	switch len(id) {
	case 18:
		// Case-insensitive input (an 18-char Id lower-cased by a spreadsheet)
		// is repaired from its suffix, which must then match.
		id = repairCase(id)
		if To18(id[:15]) != id {
			return "", 0, false
		}
		id = id[:15]
	case 15:
	default:
		return "", 0, false
	}
	if id[3:8] != idPod {
		return "", 0, false
	}
	for i := 8; i < 15; i++ {
		c := id[i]
		var v int64
		switch {
		case c >= '0' && c <= '9':
			v = int64(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int64(c-'A') + 10
		case c >= 'a' && c <= 'z':
			v = int64(c-'a') + 36
		default:
			return "", 0, false
		}
		n = n*62 + v
	}
	return id[:3], n, true
}

// repairCase restores the case of the first 15 characters of an 18-character
// Id from its checksum suffix.
func repairCase(id string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	b := []byte(id)
	for chunk := 0; chunk < 3; chunk++ {
		v := strings.IndexByte(alphabet, upper(b[15+chunk]))
		for j := 0; j < 5; j++ {
			c := b[chunk*5+j]
			if v >= 0 && v&(1<<j) != 0 {
				b[chunk*5+j] = upper(c)
			} else if c >= 'A' && c <= 'Z' {
				b[chunk*5+j] = c + 'a' - 'A'
			}
		}
		b[15+chunk] = upper(b[15+chunk])
	}
	return string(b)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
