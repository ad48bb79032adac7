package sfapi

import (
	"fmt"
	"strings"
)

// Record Ids are 15-character case-sensitive base-62 strings; the API
// returns an 18-character form whose 3-character suffix encodes, per 5-char
// chunk, which letters are uppercase, so the 18-char form survives
// case-insensitive systems. Both forms are accepted everywhere.

const idSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// idSuffix computes the case-safe suffix of a 15-character id.
func idSuffix(id15 string) [3]byte {
	var s [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		v := 0
		for j := 0; j < 5; j++ {
			if c := id15[chunk*5+j]; c >= 'A' && c <= 'Z' {
				v |= 1 << j
			}
		}
		s[chunk] = idSuffixAlphabet[v]
	}
	return s
}

// ValidateID returns nil if id is a well-formed 15-char id, or an 18-char
// id whose suffix agrees with its letters, else an error matching
// ErrInvalidID that says what is wrong. An 18-char id whose letters were
// case-folded (by a spreadsheet, say) is valid: the suffix restores the case.
func ValidateID(id string) error {
	_, err := canonical15(id)
	return err
}

// canonical15 returns the case-correct 15-character form of id.
func canonical15(id string) (string, error) {
	switch len(id) {
	case 15, 18:
	default:
		return "", fmt.Errorf("%w: %q has %d characters; Salesforce Ids have 15 or 18", ErrInvalidID, id, len(id))
	}
	for i := 0; i < len(id); i++ {
		if !isBase62(id[i]) {
			return "", fmt.Errorf("%w: %q has %q at position %d; Ids use only letters and digits", ErrInvalidID, id, id[i], i+1)
		}
	}
	if len(id) == 15 {
		return id, nil
	}
	want := idSuffix(id[:15])
	if upper(id[15]) == want[0] && upper(id[16]) == want[1] && upper(id[17]) == want[2] {
		return id[:15], nil
	}
	// Not an exact match: accept it only as a case-folded id (its letters
	// all one case) whose suffix flags letters, never digits, as uppercase.
	// A mixed-case id with a wrong suffix is a typo, not a folded id.
	if strings.ToLower(id[:15]) != id[:15] && strings.ToUpper(id[:15]) != id[:15] {
		return "", fmt.Errorf("%w: %q has checksum %q but its first 15 characters give %q", ErrInvalidID, id, id[15:], string(want[:]))
	}
	b := []byte(id[:15])
	for chunk := 0; chunk < 3; chunk++ {
		v := strings.IndexByte(idSuffixAlphabet, upper(id[15+chunk]))
		if v < 0 {
			return "", fmt.Errorf("%w: %q has an invalid checksum character %q", ErrInvalidID, id, id[15+chunk])
		}
		for j := 0; j < 5; j++ {
			c := &b[chunk*5+j]
			isLetter := *c >= 'a' && *c <= 'z' || *c >= 'A' && *c <= 'Z'
			flagged := v&(1<<j) != 0
			switch {
			case flagged && !isLetter:
				return "", fmt.Errorf("%w: %q has checksum %q but its first 15 characters give %q", ErrInvalidID, id, id[15:], string(want[:]))
			case flagged && *c >= 'a':
				*c -= 'a' - 'A'
			case !flagged && isLetter && *c < 'a':
				*c += 'a' - 'A'
			}
		}
	}
	return string(b), nil
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// To18 returns the 18-character form of a 15- or 18-character id, with the
// letters' case restored if an 18-char input was case-folded.
func To18(id string) (string, error) {
	id15, err := canonical15(id)
	if err != nil {
		return "", err
	}
	s := idSuffix(id15)
	return id15 + string(s[:]), nil
}

// To15 returns the case-sensitive 15-character form of an id. For an
// 18-character id whose letters were case-folded, the suffix restores the
// original case.
func To15(id string) (string, error) { return canonical15(id) }

// KeyPrefix returns the first three characters of an id: the object's key
// prefix.
func KeyPrefix(id string) string {
	if len(id) < 3 {
		return ""
	}
	return id[:3]
}
