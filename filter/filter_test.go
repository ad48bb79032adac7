package filter

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/repo/record"
)

// contactFields are typed as a Contact describe would give them.
var contactFields = Fields{
	"AccountId": ID, "Amount__c": Number, "Birthdate": Date, "CreatedDate": DateTime,
	"Email": String, "HasOptedOutOfEmail": Bool, "LastName": String, "Interests__c": String,
	"Owner.Name": String, "Score__c": Number,
}

type row struct {
	id  string
	rec record.Record
}

// rec builds a sorted record from name, kind, value triples.
func rec(id string, fs ...record.Field) row {
	r := record.Record(fs)
	slices.SortFunc(r, func(a, b record.Field) int { return strings.Compare(a.Name, b.Name) })
	return row{id, r}
}

func s(name, v string) record.Field { return record.Field{Name: name, Kind: record.String, Value: v} }
func n(name, v string) record.Field { return record.Field{Name: name, Kind: record.Number, Value: v} }
func bl(name, v string) record.Field {
	return record.Field{Name: name, Kind: record.Bool, Value: v}
}
func null(name string) record.Field { return record.Field{Name: name, Kind: record.Null} }

var contacts = []row{
	rec("003000000000001AAA", s("Email", "Ann@Example.com"), s("LastName", "Smith"), n("Amount__c", "1.5"),
		s("Birthdate", "1990-05-01"), s("CreatedDate", "2024-01-31T10:00:00.000Z"), bl("HasOptedOutOfEmail", "false"),
		s("AccountId", "001000000000001AAA"), s("Interests__c", "Golf;Chess"), s("Owner.Name", "Olga"), n("Score__c", "12345678901234567.5")),
	rec("003000000000002AAA", s("Email", "bob@example.org"), s("LastName", "O'Brien"), n("Amount__c", "-20"),
		s("Birthdate", "1985-12-31"), s("CreatedDate", "2024-02-01T00:00:00.000Z"), bl("HasOptedOutOfEmail", "true"),
		null("AccountId"), s("Interests__c", "Chess"), null("Owner.Name"), n("Score__c", "12345678901234567.4")),
	rec("003000000000003AAA", null("Email"), s("LastName", "smith_jr%"), n("Amount__c", "100"),
		null("Birthdate"), s("CreatedDate", "2023-12-31T23:59:59.999Z"), bl("HasOptedOutOfEmail", "false"),
		s("AccountId", "001000000000002AAA"), null("Interests__c"), s("Owner.Name", "Émile"), null("Score__c")),
	// An older record: fields added later are absent.
	rec("003000000000004AAA", s("LastName", "Old")),
}

func matching(t *testing.T, fields Fields, where string, rows []row) []string {
	t.Helper()
	e, err := Parse(where)
	if err != nil {
		t.Fatalf("Parse(%q): %v", where, err)
	}
	m, err := e.Bind(fields)
	if err != nil {
		t.Fatalf("Bind(%q): %v", where, err)
	}
	var out []string
	for _, r := range rows {
		if m.Match(r.id, r.rec) {
			out = append(out, r.id[len(r.id)-4:len(r.id)-3])
		}
	}
	return out
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		where string
		want  string // last significant digit of the matching Ids
	}{
		{"Email = 'ann@example.com'", "1"},               // case-insensitive =
		{"email = 'ANN@EXAMPLE.COM'", "1"},               // field names too
		{"Email != 'ann@example.com'", "234"},            // != keeps nulls and absent fields
		{"Email <> 'ann@example.com'", "234"},            // <> is !=
		{"Email = null", "34"},                           // null and absent
		{"Email != null", "12"},                          //
		{"LastName LIKE 'SMITH%'", "13"},                 // case-insensitive LIKE
		{"LastName LIKE 's_ith'", "1"},                   // _ is one character
		{"LastName LIKE '%\\_jr\\%'", "3"},               // \_ and \% are literal
		{"LastName LIKE '%'", "1234"},                    //
		{"LastName NOT LIKE 'smith%'", "24"},             //
		{"NOT LastName LIKE 'smith%'", "24"},             // SOQL's spelling
		{"LastName = 'O\\'Brien'", "2"},                  // escaped quote
		{"Amount__c > 1", "13"},                          // numbers numerically
		{"Amount__c >= 1.50", "13"},                      //
		{"Amount__c = 1.5", "1"},                         //
		{"Amount__c = 1.50e0", "1"},                      //
		{"Amount__c < 0", "2"},                           //
		{"Amount__c < 1e3", "123"},                       // not as text: "100" > "1e3"
		{"Amount__c IN (100, -20)", "23"},                //
		{"Amount__c NOT IN (100, -20)", "14"},            // NOT IN keeps nulls
		{"Score__c > 12345678901234567.4", "1"},          // exact beyond float64
		{"Birthdate < 1990-01-01", "2"},                  // dates chronologically
		{"Birthdate >= 1985-12-31", "12"},                //
		{"CreatedDate >= 2024-01-31T10:00:00Z", "12"},    // datetimes
		{"CreatedDate > 2024-01-31T11:00:00+01:00", "2"}, // offset → UTC: 10:00Z
		{"CreatedDate < 2024-01-01T00:00:00.000Z", "3"},  //
		{"HasOptedOutOfEmail = true", "2"},               //
		{"HasOptedOutOfEmail = false", "134"},            // absent boolean is false
		{"HasOptedOutOfEmail = null", "134"},             // null on a boolean means false
		{"HasOptedOutOfEmail != null", "2"},              //
		{"AccountId = '001000000000001'", "1"},           // 15-char Id
		{"AccountId = '001000000000001AAA'", "1"},        // 18-char Id
		{"AccountId IN ('001000000000002', null)", "234"},
		{"Id = '003000000000002'", "2"},               // Id is the key
		{"Id > '003000000000002AAA'", "34"},           //
		{"Owner.Name = 'émile'", "3"},                 // relationship column; Unicode folding
		{"Owner.Name > 'o'", "13"},                    // ordering folds case
		{"Interests__c INCLUDES ('chess')", "12"},     //
		{"Interests__c INCLUDES ('golf;chess')", "1"}, // ; means both
		{"Interests__c INCLUDES ('tennis', 'golf')", "1"},
		{"Interests__c EXCLUDES ('golf')", "234"},
		{"LastName = 'Smith' OR LastName = 'Old' AND Amount__c = null", "14"}, // AND binds tighter
		{"(LastName = 'Smith' OR LastName = 'Old') AND Amount__c = null", "4"},
		{"NOT (Email = null OR Amount__c < 0)", "1"},
		{"NOT NOT Email = null", "34"},
	} {
		got := strings.Join(matching(t, contactFields, tc.where, contacts), "")
		if got != tc.want {
			t.Errorf("%s: matched %q, want %q", tc.where, got, tc.want)
		}
	}
}

// Without types (fields known only by name) literals decide.
func TestMatchUntyped(t *testing.T) {
	names := FieldsOf([]string{"Amount__c", "Birthdate", "Email", "LastName"})
	for _, tc := range []struct{ where, want string }{
		{"Amount__c < 1e3", "123"},
		{"Amount__c = '100'", "3"},
		{"Birthdate < 1990-01-01", "2"},
		{"LastName < 1", ""}, // text is not a number: no ordering
		{"LastName != 1", "1234"},
		{"Email LIKE '%.ORG'", "2"},
	} {
		got := strings.Join(matching(t, names, tc.where, contacts), "")
		if got != tc.want {
			t.Errorf("%s: matched %q, want %q", tc.where, got, tc.want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		where  string
		column int
		says   string
	}{
		{"", 1, "empty"},
		{"Email =", 8, "expected a value"},
		{"Email = 'a", 9, "not closed"},
		{"Email = \"a\"", 9, "single quotes"},
		{"Email 'a'", 7, "expected an operator"},
		{"Email = 'a' AND", 16, "expected a field name"},
		{"(Email = 'a'", 13, "expected ')'"},
		{"Email = 'a')", 12, "unbalanced"},
		{"Email = 'a' Name = 'b'", 13, "expected AND, OR"},
		{"Email = Name", 9, "not with another field"},
		{"Amount__c < null", 11, "null can only"},
		{"Email = '\\q'", 10, "unknown escape"},
		{"Email = 'a\\'", 9, "not closed"},
		{"D = 2024-02-30", 5, "not a date"},
		{"D = 2024-02-01T25:00:00Z", 5, "not a datetime"},
		{"N = 1.2.3", 5, "not a number"},
		{"N = 12abc", 5, "not a number"},
		{"Email NOT = 'a'", 11, "LIKE or IN after NOT"},
		{"Email IN ('a' 'b')", 15, "expected ',' or ')'"},
		{"Email IN 'a'", 10, "expected '('"},
		{"Email LIKE 5", 12, "quoted pattern"},
		{"Email ~ 'a'", 7, "unexpected character"},
		{"Email = 'a' AND AND", 17, "expected a field name"},
		{"Email = '\\u12'", 10, "four hex"},
	} {
		_, err := Parse(tc.where)
		var fe *Error
		if !errors.As(err, &fe) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a syntax *Error", tc.where, err)
			continue
		}
		if fe.Column() != tc.column || !strings.Contains(fe.Msg, tc.says) {
			t.Errorf("Parse(%q): column %d %q, want column %d saying %q", tc.where, fe.Column(), fe.Msg, tc.column, tc.says)
		}
		if !strings.Contains(err.Error(), "\n  "+tc.where+"\n") {
			t.Errorf("Parse(%q): error does not show the filter: %s", tc.where, err)
		}
	}
}

func TestBindErrors(t *testing.T) {
	for _, tc := range []struct {
		where string
		kind  error
		says  string
		sugg  []string
	}{
		{"Emial = 'a'", ErrUnknownField, "did you mean Email", []string{"Email"}},
		{"lastname = 'a' AND Amount = 1", ErrUnknownField, "did you mean Amount__c", []string{"Amount__c"}},
		{"Zzzzzzz = 1", ErrUnknownField, "no field has a similar name", nil},
		{"Amount__c = '1'", ErrType, "write numbers without quotes", nil},
		{"Email = 5", ErrType, "quote it: '5'", nil},
		{"Birthdate = '2024-01-01'", ErrType, "unquoted", nil},
		{"Birthdate = 2024-01-01T00:00:00Z", ErrType, "just the date: 2024-01-01", nil},
		{"CreatedDate > 2024-01-01", ErrType, "2024-01-01T00:00:00Z", nil},
		{"HasOptedOutOfEmail = 'true'", ErrType, "true or false", nil},
		{"HasOptedOutOfEmail < true", ErrType, "= or != only", nil},
		{"AccountId = '001xyz'", ErrType, "not a Salesforce Id", nil},
		{"Amount__c LIKE '1%'", ErrType, "LIKE works on text", nil},
		{"Amount__c INCLUDES ('1')", ErrType, "multi-select", nil},
		{"Amount__c IN (1, 'x')", ErrType, "a string does not fit", nil},
		{"Email = '\\%'", ErrSyntax, "only meaningful in a LIKE", nil},
	} {
		e, err := Parse(tc.where)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.where, err)
		}
		_, err = e.Bind(contactFields)
		var fe *Error
		if !errors.Is(err, tc.kind) || !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.says) {
			t.Errorf("Bind(%q) = %v, want %v saying %q", tc.where, err, tc.kind, tc.says)
			continue
		}
		if !slices.Equal(fe.Suggestions, tc.sugg) {
			t.Errorf("Bind(%q): suggestions %q, want %q", tc.where, fe.Suggestions, tc.sugg)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"a=1 and b<>'x' or not c like 'y%'":    "a = 1 AND b != 'x' OR NOT c LIKE 'y%'",
		"(a=1 or b=2) and c in (1,2)":          "(a = 1 OR b = 2) AND c IN (1, 2)",
		"((a = 1))":                            "a = 1",
		"a not in ('x') and not (b=1 and c=2)": "a NOT IN ('x') AND NOT (b = 1 AND c = 2)",
		"(a = 1 or b = 2) or c = 3":            "(a = 1 OR b = 2) OR c = 3",
		"d >= 2024-01-01T00:00:00+01:00":       "d >= 2024-01-01T00:00:00+01:00",
		"m includes ('a;b','c') or x = null":   "m INCLUDES ('a;b', 'c') OR x = null",
		"s = 'it\\'s' AND t = TRUE":            "s = 'it\\'s' AND t = true",
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestFieldsAndDescribe(t *testing.T) {
	e, _ := Parse("Name = 'x' AND (name != 'y' OR Owner.Name = null) AND Amount > 1")
	if got := e.Fields(); !slices.Equal(got, []string{"Name", "Owner.Name", "Amount"}) {
		t.Errorf("Fields = %q", got)
	}
	fs, err := FieldsFromDescribe([]byte(`{"name":"Account","fields":[{"name":"Id","type":"id","soapType":"tns:ID"},
		{"name":"AnnualRevenue","type":"currency","soapType":"xsd:double"},{"name":"Name","type":"string","soapType":"xsd:string"},
		{"name":"Odd__c","type":"newtype","soapType":"xsd:date"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Fields{"Id": ID, "AnnualRevenue": Number, "Name": String, "Odd__c": Date}
	if len(fs) != len(want) {
		t.Fatalf("FieldsFromDescribe = %v", fs)
	}
	for k, v := range want {
		if fs[k] != v {
			t.Errorf("%s: %v, want %v", k, fs[k], v)
		}
	}
}

func TestLikeLinear(t *testing.T) {
	// A pattern that would be exponential with naive backtracking.
	p := compileLike(strings.Repeat("%a", 30) + "%b")
	if p.match(strings.Repeat("a", 5000)) {
		t.Fatal("matched without a b")
	}
	if !p.match(strings.Repeat("a", 5000) + "b") {
		t.Fatal("did not match")
	}
}

func TestDecimal(t *testing.T) {
	ordered := []string{"-1e30", "-12345678901234567.5", "-2", "-1.5", "-0.001", "0", "1e-7", "0.5", "1", "1.5", "10", "100.25", "1e21"}
	for i, a := range ordered {
		da, ok := parseDecimal(a)
		if !ok {
			t.Fatalf("parseDecimal(%q) failed", a)
		}
		for j, b := range ordered {
			db, _ := parseDecimal(b)
			if got := cmpDecimal(da, db); got != cmp.Compare(i, j) {
				t.Errorf("cmpDecimal(%s, %s) = %d", a, b, got)
			}
		}
	}
	for _, eq := range [][2]string{{"1.50", "1.5"}, {"-0", "0"}, {"1E+2", "100"}, {"0.000", "0"}, {"00012", "12"}} {
		a, _ := parseDecimal(eq[0])
		b, _ := parseDecimal(eq[1])
		if cmpDecimal(a, b) != 0 {
			t.Errorf("%s != %s", eq[0], eq[1])
		}
	}
}
