package backup

import (
	"encoding/json"
	"errors"
	"fmt"
)

// errBadJSON is what the member scanner returns for input that is not one
// well-formed JSON object.
var errBadJSON = errors.New("malformed JSON object")

// eachMember calls fn with the key and the raw value of every member of the
// JSON object raw, in document order. It is the REST read path's hot loop
// (a record is tens of members), so it scans the bytes once instead of
// building a map; values are handed over raw (strings with their quotes)
// for addJSON to convert. Malformed input is an error, never a panic.
func eachMember(raw []byte, fn func(key string, val []byte) error) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errBadJSON
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return trailing(raw, i+1)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return errBadJSON
		}
		end, escaped := stringEnd(raw, i)
		if end < 0 {
			return errBadJSON
		}
		var key string
		if escaped {
			if err := json.Unmarshal(raw[i:end], &key); err != nil {
				return fmt.Errorf("%w: %v", errBadJSON, err)
			}
		} else {
			key = string(raw[i+1 : end-1])
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errBadJSON
		}
		i = skipSpace(raw, i+1)
		vend := valueEnd(raw, i)
		if vend < 0 {
			return errBadJSON
		}
		if err := fn(key, raw[i:vend]); err != nil {
			return err
		}
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return errBadJSON
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return trailing(raw, i+1)
		default:
			return errBadJSON
		}
	}
}

func trailing(raw []byte, i int) error {
	if skipSpace(raw, i) != len(raw) {
		return errBadJSON
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] (a
// quote) and whether it holds escapes; -1 if it is not closed or holds a
// raw control character.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		default:
			if b[j] < 0x20 { // control characters must be escaped
				return -1, false
			}
		}
	}
	return -1, false
}

// valueEnd returns the index just past the value starting at b[i], or -1.
// Objects and arrays are skipped by bracket depth (strings inside skipped
// whole); scalars end at the next delimiter. Scalars are checked by
// addJSON, which accepts only the forms each field type allows.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, escaped := stringEnd(b, i)
		if end > 0 && escaped && !json.Valid(b[i:end]) {
			return -1 // rare: only strings with escapes are checked here
		}
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					if !json.Valid(b[i : j+1]) {
						return -1
					}
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i || !json.Valid(b[i:j]) {
		return -1
	}
	return j
}
