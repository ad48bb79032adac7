package backup

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzEachMember checks the member scanner against encoding/json: on any
// input it never panics; on a valid object it yields exactly the members
// json.Unmarshal sees (same keys, same values), and it accepts no input
// that is not a JSON object.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":"x","b":null,"c":true,"d":-1.5e3}`,
		`{"attributes":{"type":"Account","url":"/x"},"Id":"001","Owner":{"Name":"a\"b}"}}`,
		`{"k\u0041":"v\\n","arr":[1,{"x":"]"}],"s":"}"}`,
		`{"a":1,}`, `{"a" 1}`, `{"a":tru}`, `{"a":"x"} x`, `null`, `[1]`, `{"a":01}`, `{"a":"\q"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := map[string]string{}
		var keys []string
		err := eachMember(raw, func(k string, v []byte) error {
			keys = append(keys, k)
			got[k] = string(v)
			return nil
		})
		var want map[string]json.RawMessage
		werr := json.Unmarshal(raw, &want)
		isObj := werr == nil && want != nil
		if !isObj {
			if err == nil {
				t.Fatalf("accepted %q, which is not a JSON object", raw)
			}
			return
		}
		if err != nil {
			t.Fatalf("rejected valid object %q: %v", raw, err)
		}
		if len(keys) != len(want) {
			// Duplicate keys: Unmarshal keeps the last; the scanner reports
			// each (walkJSON rejects duplicates of a field).
			seen := map[string]bool{}
			for _, k := range keys {
				seen[k] = true
			}
			if len(seen) != len(want) {
				t.Fatalf("keys %q, want %d distinct", keys, len(want))
			}
		}
		if !utf8.Valid(raw) {
			return // encoding/json turns invalid UTF-8 into U+FFFD; the scanner keeps bytes
		}
		for k, v := range want {
			var a, b bytes.Buffer
			if err := json.Compact(&a, v); err != nil {
				t.Fatal(err)
			}
			if err := json.Compact(&b, []byte(got[k])); err != nil {
				t.Fatalf("value of %q: %q does not compact: %v", k, got[k], err)
			}
			if a.String() != b.String() && len(keys) == len(want) {
				t.Fatalf("value of %q = %s, want %s", k, b.String(), a.String())
			}
		}
	})
}
