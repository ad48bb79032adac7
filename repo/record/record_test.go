package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Record{{"A", Null, ""}, {"B", String, ""}, {"C", Number, "-1.5e+3"}, {"D", Bool, "true"}, {"a", String, "x"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Record{
		"unsorted":    {{"B", String, ""}, {"A", String, ""}},
		"duplicate":   {{"A", String, ""}, {"A", String, "x"}},
		"empty name":  {{"", String, ""}},
		"null value":  {{"A", Null, "x"}},
		"bad bool":    {{"A", Bool, "yes"}},
		"bad number":  {{"A", Number, "01"}},
		"bad number2": {{"A", Number, "1."}},
		"bad kind":    {{"A", Kind(9), ""}},
	} {
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}

func TestIsNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "12", "1.50", "-0.5", "1e9", "1E+9", "2.5e-3"} {
		if !IsNumber(s) {
			t.Errorf("IsNumber(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-", "01", ".5", "1.", "1e", "+1", "1e+", "NaN", "1 ", "0x1"} {
		if IsNumber(s) {
			t.Errorf("IsNumber(%q) = true", s)
		}
	}
}

func TestGet(t *testing.T) {
	r := Record{{"A", String, "a"}, {"C", Number, "3"}, {"E", Null, ""}}
	for _, n := range []string{"A", "C", "E"} {
		if f, ok := r.Get(n); !ok || f.Name != n {
			t.Errorf("Get(%s) = %v %v", n, f, ok)
		}
	}
	for _, n := range []string{"", "B", "D", "Z"} {
		if _, ok := r.Get(n); ok {
			t.Errorf("Get(%s) found", n)
		}
	}
}

// TestMarshalJSON: the rendering is valid JSON with typed values, in
// field order, and encoding/json reads back the same values.
func TestMarshalJSON(t *testing.T) {
	r := Record{{"A", Null, ""}, {"B", String, "q\"\\\n\x01<é\u2028\xff"}, {"C", Number, "1.50"}, {"D", Bool, "false"}}
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"A":null,"B":"q\"\\\n\u0001<é\u2028\ufffd","C":1.50,"D":false}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]any{"A": nil, "B": "q\"\\\n\x01<é\u2028\ufffd", "C": json.Number("1.50"), "D": false}) {
		t.Fatalf("decoded %#v", m)
	}
	if _, err := (Record{{"A", Number, "x"}}).MarshalJSON(); err == nil {
		t.Fatal("an invalid number rendered")
	}
	if b, _ := Record(nil).MarshalJSON(); string(b) != "null" {
		t.Fatalf("nil record: %s", b)
	}
	if b, _ := (Record{}).MarshalJSON(); string(b) != "{}" {
		t.Fatalf("empty record: %s", b)
	}
}

func TestEquivalent(t *testing.T) {
	s := func(n, v string) Field { return Field{Name: n, Kind: String, Value: v} }
	null := func(n string) Field { return Field{Name: n, Kind: Null} }
	for _, c := range []struct {
		a, b Record
		want bool
	}{
		{Record{s("A", "x")}, Record{s("A", "x")}, true},
		{Record{s("A", "x")}, Record{s("A", "x"), null("B")}, true},            // B added, null
		{Record{null("0"), s("A", "x")}, Record{s("A", "x"), null("Z")}, true}, // absent on either side
		{Record{s("A", "x")}, Record{s("A", "x"), s("B", "")}, false},          // empty string is not null
		{Record{s("A", "x")}, Record{s("A", "y")}, false},
		{Record{s("A", "x"), s("B", "1")}, Record{s("A", "x")}, false}, // a value gone
		{Record{null("A")}, Record{}, true},
		{Record{s("A", "1")}, Record{{Name: "A", Kind: Number, Value: "1"}}, false}, // kinds differ
	} {
		if got := c.a.Equivalent(c.b); got != c.want {
			t.Errorf("%v ≡ %v = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := c.b.Equivalent(c.a); got != c.want {
			t.Errorf("%v ≡ %v = %v, want %v (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Decimal
		ok   bool
	}{
		{"0", Decimal{}, true},
		{"-0.000", Decimal{}, true},
		{"00120.500", Decimal{Digits: "1205", Exp: 3}, true},
		{"-.05", Decimal{Neg: true, Digits: "5", Exp: -1}, true},
		{"+7.", Decimal{Digits: "7", Exp: 1}, true},
		{"1.5E3", Decimal{Digits: "15", Exp: 4}, true},
		{"123456789012345678.9e-20", Decimal{Digits: "1234567890123456789", Exp: -2}, true},
		{".", Decimal{}, false},
		{"1e", Decimal{}, false},
		{"1e+", Decimal{}, false},
		{"1.2.3", Decimal{}, false},
		{"0x10", Decimal{}, false},
		{"1e999999999999", Decimal{}, false},
	} {
		got, ok := ParseDecimal(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseDecimal(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	// Equal numbers, however written, read the same.
	a, _ := ParseDecimal("1234.5600")
	b, _ := ParseDecimal("0.12345600e4")
	if a != b {
		t.Errorf("%+v != %+v", a, b)
	}
}
