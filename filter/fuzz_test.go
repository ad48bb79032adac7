package filter

import (
	"errors"
	"testing"

	"github.com/orgsnap/orgsnap/repo/record"
)

// FuzzParse: any input either parses or gives a positioned syntax *Error;
// a parsed filter prints to text that parses back to the same filter; and
// binding and matching never panic. `go test` runs the seeds;
// `go test -fuzz FuzzParse ./filter` explores.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Email = 'a@b.com'",
		"a=1 and b<>'x' or not c like 'y%'",
		"(a=1 or b=2) and c in (1,2,-3.5e2)",
		"x NOT IN ('a', null) AND NOT (y >= 2024-01-01 OR z < 2024-01-01T00:00:00.5+01:00)",
		"m INCLUDES ('a;b', 'c') OR m EXCLUDES ('d')",
		"s = 'it\\'s \\u00e9\\n' AND t = TRUE AND u != FALSE",
		"Owner.Name LIKE '%\\_%'",
		"((((a = 1))))",
		"a = 'unterminated",
		"a = \"dq\"",
		"1 = a",
		"a = 1.2.3",
		"",
	} {
		f.Add(s)
	}
	fields := Fields{"a": Unknown, "b": String, "c": Number, "x": String, "y": Date, "z": DateTime, "m": String, "s": String, "t": Bool, "u": Bool, "Owner.Name": String}
	recs := []record.Record{
		nil,
		{{Name: "a", Kind: record.Number, Value: "1"}, {Name: "b", Kind: record.String, Value: "x"}, {Name: "c", Kind: record.Number, Value: "-350"},
			{Name: "m", Kind: record.String, Value: "a;b;c"}, {Name: "t", Kind: record.Bool, Value: "true"}, {Name: "y", Kind: record.String, Value: "2024-01-01"}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): error %v is not a syntax *Error", src, err)
			}
			if fe.Pos < 0 || fe.Pos > len(src) {
				t.Fatalf("Parse(%q): position %d outside the text", src, fe.Pos)
			}
			return
		}
		printed := e.String()
		e2, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", src, printed, err)
		}
		if again := e2.String(); again != printed {
			t.Fatalf("Parse(%q): printed %q, reprinted %q", src, printed, again)
		}
		m, err := e.Bind(fields)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Bind(%q): error %v is not an *Error", src, err)
			}
			return
		}
		m2, err := e2.Bind(fields)
		if err != nil {
			t.Fatalf("Bind(%q) failed after printing as %q: %v", src, printed, err)
		}
		for _, r := range recs {
			if m.Match("001000000000001AAA", r) != m2.Match("001000000000001AAA", r) {
				t.Fatalf("%q and its printed form %q disagree on %v", src, printed, r)
			}
		}
	})
}
