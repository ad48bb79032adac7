package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// ---- unit tests of the rules ----

func field(name, typ string) sfapi.Field {
	soap := map[string]string{"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
		"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
		"datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary", "address": "urn:address",
		"location": "urn:location"}[typ]
	if soap == "" {
		soap = "xsd:string"
	}
	return sfapi.Field{Name: name, Type: typ, SoapType: soap}
}

// one converts a single text value through a one-field Canon's CSV path.
func one(t *testing.T, typ, text string) (record.Field, error) {
	t.Helper()
	c, err := NewCanon("X__c", []sfapi.Field{field("Id", "id"), field("F", typ)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.BindHeader([]string{"Id", "F"})
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := b.FromRow([]string{"001D000000IqhSLIAZ", text}, nil)
	if err != nil {
		return record.Field{}, err
	}
	return rec[0], nil
}

type ruleCase struct {
	typ, in string
	kind    record.Kind
	out     string // "" with kind Null; "ERR" for an error
}

func checkRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		f, err := one(t, tc.typ, tc.in)
		if tc.out == "ERR" {
			if err == nil {
				t.Errorf("%s %q: got %s:%q, want an error", tc.typ, tc.in, f.Kind, f.Value)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.typ, tc.in, err)
			continue
		}
		if f.Kind != tc.kind || f.Value != tc.out {
			t.Errorf("%s %q: got %s:%q, want %s:%q", tc.typ, tc.in, f.Kind, f.Value, tc.kind, tc.out)
		}
	}
}

func TestNumbers(t *testing.T) {
	N := record.Number
	var cases []ruleCase
	for _, p := range [][2]string{
		{"0", "0"}, {"-0", "0"}, {"+0", "0"}, {"0.000", "0"}, {"-0.0e10", "0"}, {"00000", "0"},
		{"1.50", "1.5"}, {"1.5", "1.5"}, {"1.5E0", "1.5"}, {"15e-1", "1.5"}, {"0.15E+1", "1.5"},
		{"3.0", "3"}, {"3.", "3"}, {".5", "0.5"}, {"-.5", "-0.5"}, {"+7", "7"},
		{"0.10", "0.1"}, {"00012", "12"}, {"0012.3400", "12.34"}, {"1E+2", "100"}, {"1e2", "100"},
		{"100", "100"}, {"-100.000", "-100"}, {"5000000000", "5000000000"}, {"5000000000.0", "5000000000"},
		// 18 significant digits and beyond: exact, never through float64.
		{"1234567890123456.78", "1234567890123456.78"},
		{"9999999999999999999999.99", "9.99999999999999999999999e+21"},
		{"123456789012345678901", "123456789012345678901"},
		{"1234567890123456789012", "1.234567890123456789012e+21"},
		{"0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"},
		{"1e21", "1e+21"}, {"1e20", "100000000000000000000"},
		{"0.000001", "0.000001"}, {"0.0000001", "1e-7"}, {"-1.25E-7", "-1.25e-7"},
		{"1E+400", "1e+400"}, {"2.5e-400", "2.5e-400"},
	} {
		cases = append(cases, ruleCase{"double", p[0], N, p[1]})
	}
	for _, typ := range []string{"int", "currency", "percent", "long"} {
		cases = append(cases, ruleCase{typ, "42.00", N, "42"}, ruleCase{typ, "", record.Null, ""})
	}
	for _, bad := range []string{"abc", "1,5", "1.2.3", "e5", "1e", "1e+", "--1", "+-1", " 1", "1 ", "0x10", "NaN", "Infinity", ".", "-", "1e999999999999"} {
		cases = append(cases, ruleCase{"double", bad, N, "ERR"})
	}
	checkRules(t, cases)
}

func TestDatesAndTimes(t *testing.T) {
	S := record.String
	checkRules(t, []ruleCase{
		{"datetime", "2024-01-02T03:04:05.000Z", S, "2024-01-02T03:04:05.000Z"},
		{"datetime", "2024-01-02T03:04:05.000+0000", S, "2024-01-02T03:04:05.000Z"},
		{"datetime", "2024-01-02T03:04:05.000+00:00", S, "2024-01-02T03:04:05.000Z"},
		{"datetime", "2024-01-02T03:04:05.000-0000", S, "2024-01-02T03:04:05.000Z"},
		{"datetime", "2024-01-02T03:04:05Z", S, "2024-01-02T03:04:05.000Z"},
		{"datetime", "2024-01-02T03:04:05.5Z", S, "2024-01-02T03:04:05.500Z"},
		{"datetime", "2024-01-02T03:04:05.123000Z", S, "2024-01-02T03:04:05.123Z"},
		{"datetime", "2024-01-02T03:04:05.000+0530", S, "2024-01-01T21:34:05.000Z"},
		{"datetime", "2024-01-02T03:04:05.000+05:30", S, "2024-01-01T21:34:05.000Z"},
		{"datetime", "2024-12-31T23:30:00.250-08:00", S, "2025-01-01T07:30:00.250Z"},
		{"datetime", "2024-02-29T00:00:00.000Z", S, "2024-02-29T00:00:00.000Z"},
		{"datetime", "2024-03-01T01:00:00.000+02", S, "2024-02-29T23:00:00.000Z"},
		{"datetime", "", record.Null, ""},
		{"datetime", "2023-02-29T00:00:00.000Z", S, "ERR"},
		{"datetime", "2024-01-02T03:04:05.0001Z", S, "ERR"},
		{"datetime", "2024-01-02T03:04:05.000", S, "ERR"},
		{"datetime", "2024-01-02 03:04:05.000Z", S, "ERR"},
		{"datetime", "2024-01-02T24:00:00.000Z", S, "ERR"},
		{"datetime", "2024-01-02", S, "ERR"},
		{"datetime", "2024-01-02T03:04:05.000+053", S, "ERR"},
		{"date", "2024-01-02", S, "2024-01-02"},
		{"date", "1969-12-31", S, "1969-12-31"},
		{"date", "", record.Null, ""},
		{"date", "2024-1-2", S, "ERR"},
		{"date", "2024-13-01", S, "ERR"},
		{"date", "2024-01-02T00:00:00.000Z", S, "ERR"},
		{"time", "13:50:40.848Z", S, "13:50:40.848Z"},
		{"time", "13:50:40.848", S, "13:50:40.848Z"},
		{"time", "13:50:40Z", S, "13:50:40.000Z"},
		{"time", "13:50:40.8+0000", S, "13:50:40.800Z"},
		{"time", "", record.Null, ""},
		{"time", "13:50:40.848+0100", S, "ERR"},
		{"time", "25:00:00.000Z", S, "ERR"},
		{"time", "13:50", S, "ERR"},
	})
}

func TestBoolsIDsStrings(t *testing.T) {
	S, B := record.String, record.Bool
	checkRules(t, []ruleCase{
		{"boolean", "true", B, "true"}, {"boolean", "false", B, "false"},
		{"boolean", "TRUE", B, "true"}, {"boolean", "False", B, "false"},
		{"boolean", "", record.Null, ""}, {"boolean", "1", B, "ERR"}, {"boolean", "yes", B, "ERR"},
		// 15-character Ids and case-folded 18-character ones canonicalise.
		{"reference", "001D000000IqhSL", S, "001D000000IqhSLIAZ"},
		{"reference", "001D000000IqhSLIAZ", S, "001D000000IqhSLIAZ"},
		{"reference", "001D000000IqhSLiaz", S, "001D000000IqhSLIAZ"},
		{"reference", "001d000000iqhsliaz", S, "001D000000IqhSLIAZ"},
		{"reference", "001D000000IqhSLIAA", S, "ERR"},
		{"reference", "001D000000IqhS", S, "ERR"},
		{"reference", "", record.Null, ""},
		// Text types: as given, whatever it looks like; only "" is null.
		{"string", "00012", S, "00012"}, {"string", "1.50", S, "1.50"}, {"string", " x ", S, " x "},
		{"string", "true", S, "true"}, {"string", "", record.Null, ""},
		{"textarea", "line1\nline2 \"q\"", S, "line1\nline2 \"q\""},
		{"multipicklist", "A;B;C", S, "A;B;C"}, {"picklist", "Hot", S, "Hot"},
		{"email", "a@b.example", S, "a@b.example"}, {"phone", "+1 (415) 555-0100", S, "+1 (415) 555-0100"},
		{"url", "https://x.example/?a=1", S, "https://x.example/?a=1"},
		{"encryptedstring", "****1234", S, "****1234"}, {"combobox", "Other", S, "Other"},
		{"anyType", "2024-01-02", S, "2024-01-02"},
		// An unknown type falls back to SoapType, then to text.
		{"someFutureType", "x", S, "x"},
	})
}

func TestSelectable(t *testing.T) {
	for typ, want := range map[string]bool{"base64": false, "address": false, "location": false, "json": false,
		"string": true, "reference": true, "double": true, "datetime": true} {
		if got := Selectable(field("F", typ)); got != want {
			t.Errorf("Selectable(%s) = %v", typ, got)
		}
	}
	// By SoapType alone, too.
	if Selectable(sfapi.Field{Name: "B", Type: "weird", SoapType: "xsd:base64Binary"}) {
		t.Error("base64 soap type selectable")
	}
	for _, typ := range []string{"base64", "address", "location"} {
		_, err := NewCanon("Account", []sfapi.Field{field("Id", "id"), field("Bad", typ)})
		if err == nil || !strings.Contains(err.Error(), "Account.Bad") || !strings.Contains(err.Error(), typ) {
			t.Errorf("NewCanon with a %s field: %v", typ, err)
		}
	}
	// The person-name compound (FirstName's compoundFieldName is "Name") is
	// a plain string that Bulk selects: it stays.
	first := field("FirstName", "string")
	first.CompoundFieldName = "Name"
	if _, err := NewCanon("Contact", []sfapi.Field{field("Name", "string"), first}); err != nil {
		t.Error(err)
	}
}

func TestNewCanon(t *testing.T) {
	c, err := NewCanon("Account", []sfapi.Field{field("Name", "string"), field("AnnualRevenue", "currency"),
		field("Id", "id"), field("BillingCity", "string"), field("Owner.Name", "string")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Fields(), ","); got != "Id,Name,AnnualRevenue,BillingCity,Owner.Name" {
		t.Errorf("Fields %s", got)
	}
	// Id is added when absent.
	c2, err := NewCanon("Account", []sfapi.Field{field("Name", "string")})
	if err != nil || strings.Join(c2.Fields(), ",") != "Id,Name" {
		t.Errorf("%v %v", c2.Fields(), err)
	}
	for _, bad := range [][]sfapi.Field{
		{field("Name", "string"), field("NAME", "string")},
		{field("Id", "string")},
		{field("", "string")},
		{field("Owner..Name", "string")},
		{field("Owner", "string"), field("Owner.Name", "string")},
	} {
		if _, err := NewCanon("Account", bad); err == nil {
			t.Errorf("NewCanon(%v) accepted", bad)
		}
	}
	if _, err := NewCanon("", nil); err == nil {
		t.Error("empty object accepted")
	}
}

// testCanon has one field of every conversion plus a relationship path.
func testCanon(t testing.TB) *Canon {
	c, err := NewCanon("Opportunity", []sfapi.Field{
		field("Id", "id"), field("Name", "string"), field("Amount", "currency"), field("IsWon", "boolean"),
		field("CloseDate", "date"), field("SystemModstamp", "datetime"), field("AccountId", "reference"),
		field("Tags__c", "multipicklist"), field("Standup__c", "time"), field("Owner.Name", "string"),
		field("Account.Owner.Alias", "string"), field("Description", "textarea"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enc(t testing.TB, r record.Record) string {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("invalid record %#v: %v", r, err)
	}
	b, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCSVJSONValues gives one record through all three inputs, in the forms
// each API really uses (and some it might), and wants identical records.
func TestCSVJSONValues(t *testing.T) {
	c := testCanon(t)
	// Bulk: header in another casing and order, datetimes with Z, decimal
	// text with trailing zeros, 15-char reference, null as an empty field.
	b, err := c.BindHeader([]string{"ID", "account.owner.alias", "NAME", "amount", "isWon", "closedate",
		"systemmodstamp", "accountid", "TAGS__C", "standup__c", "OWNER.NAME", "description"})
	if err != nil {
		t.Fatal(err)
	}
	row := []string{"006D000000IqhSL", "jdoe", "Big deal", "1250000.50", "true", "2024-03-31",
		"2024-01-02T03:04:05.000Z", "001D000000IRFma", "A;B", "09:00:00.000Z", "Jane Doe", ""}
	idCSV, recCSV, err := b.FromRow(row, nil)
	if err != nil {
		t.Fatal(err)
	}
	// REST: +0000 datetimes, JSON numbers and booleans, nested objects.
	raw := `{"attributes":{"type":"Opportunity","url":"/services/data/v62.0/sobjects/Opportunity/006D000000IqhSLIAZ"},
		"Id":"006D000000IqhSLIAZ","Name":"Big deal","Amount":1.2500005E6,"IsWon":true,"CloseDate":"2024-03-31",
		"SystemModstamp":"2024-01-02T08:34:05.000+0530","AccountId":"001D000000IRFmaIAH","Tags__c":"A;B",
		"Standup__c":"09:00:00.000Z","Description":null,
		"Owner":{"attributes":{"type":"User","url":"/x"},"Name":"Jane Doe"},
		"Account":{"attributes":{"type":"Account","url":"/y"},"Owner":{"attributes":{"type":"User"},"Alias":"jdoe"}}}`
	idJSON, recJSON, err := c.FromJSON(json.RawMessage(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{"Name": "Big deal", "Amount": 1250000.5, "IsWon": true,
		"CloseDate":      time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC),
		"SystemModstamp": time.Date(2024, 1, 1, 22, 4, 5, 0, time.FixedZone("", -5*3600)),
		"AccountId":      "001D000000IRFmaIAH", "Tags__c": "A;B", "Standup__c": "09:00:00.000Z",
		"Owner.Name": "Jane Doe", "Account.Owner.Alias": "jdoe", "Description": nil, "Id": "ignored", "Body": "ignored"}
	recVals, err := c.FromValues("006D000000IqhSLIAZ", vals, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Account.Owner.Alias":"jdoe","AccountId":"001D000000IRFmaIAH","Amount":1250000.5,` +
		`"CloseDate":"2024-03-31","Description":null,"IsWon":true,"Name":"Big deal","Owner.Name":"Jane Doe",` +
		`"Standup__c":"09:00:00.000Z","SystemModstamp":"2024-01-02T03:04:05.000Z","Tags__c":"A;B"}`
	for what, r := range map[string]record.Record{"csv": recCSV, "json": recJSON, "values": recVals} {
		if got := enc(t, r); got != want {
			t.Errorf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	if idCSV != "006D000000IqhSLIAZ" || idJSON != idCSV {
		t.Errorf("ids %q %q", idCSV, idJSON)
	}

	// The record owns its text: the stream may overwrite the row.
	for i := range row {
		row[i] = strings.Repeat("x", len(row[i]))
	}
	if got := enc(t, recCSV); got != want {
		t.Errorf("record changed with the row: %s", got)
	}

	// A null relationship gives null fields, at any depth.
	raw2 := `{"attributes":{},"Id":"006D000000IqhSL","Name":"n","Amount":null,"IsWon":false,"CloseDate":null,
		"SystemModstamp":null,"AccountId":null,"Tags__c":null,"Standup__c":null,"Description":"","Owner":null,"Account":null}`
	_, r2, err := c.FromJSON(json.RawMessage(raw2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(t, r2); got != `{"Account.Owner.Alias":null,"AccountId":null,"Amount":null,"CloseDate":null,"Description":null,"IsWon":false,"Name":"n","Owner.Name":null,"Standup__c":null,"SystemModstamp":null,"Tags__c":null}` {
		t.Errorf("null relationships: %s", got)
	}
	raw3 := strings.Replace(raw2, `"Account":null`, `"Account":{"attributes":{},"Owner":null}`, 1)
	if _, r3, err := c.FromJSON(json.RawMessage(raw3), nil); err != nil || !r3.Equal(r2) {
		t.Errorf("null nested owner: %v %v", r3, err)
	}
}

func TestJSONErrors(t *testing.T) {
	c, err := NewCanon("Contact", []sfapi.Field{field("Id", "id"), field("LastName", "string"), field("Age__c", "double"),
		field("IsX__c", "boolean"), field("D__c", "date")})
	if err != nil {
		t.Fatal(err)
	}
	base := `"Id":"003D000000IqhSL","LastName":"Doe","Age__c":41,"IsX__c":false,"D__c":"2024-01-02"`
	if _, _, err := c.FromJSON(json.RawMessage(`{`+base+`}`), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ raw, want string }{
		{`{` + base + `,"Account":{"attributes":{},"Name":"Acme"}}`, `nested object "Account" that is not selected`},
		{`{` + base + `,"Cases":{"totalSize":1,"done":true,"records":[]}}`, `"Cases" that is not selected`},
		{`{` + base + `,"Email":"x@y"}`, `field "Email", which is not selected`},
		{`{"Id":"003D000000IqhSL","LastName":"Doe","Age__c":41,"IsX__c":false}`, "lacks selected field D__c"},
		{strings.Replace(`{`+base+`}`, `"Age__c":41`, `"Age__c":true`, 1), "Contact.Age__c"},
		{strings.Replace(`{`+base+`}`, `"IsX__c":false`, `"IsX__c":0`, 1), "Contact.IsX__c"},
		{strings.Replace(`{`+base+`}`, `"LastName":"Doe"`, `"LastName":12`, 1), "Contact.LastName"},
		{strings.Replace(`{`+base+`}`, `"D__c":"2024-01-02"`, `"D__c":"2024-01-02T00:00:00.000+0000"`, 1), "Contact.D__c"},
		{strings.Replace(`{`+base+`}`, `"Id":"003D000000IqhSL"`, `"Id":null`, 1), "without an Id"},
		{`[1]`, "REST record"},
		{`null`, "null"},
	} {
		_, _, err := c.FromJSON(json.RawMessage(tc.raw), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.raw, err, tc.want)
		}
	}
	// A JSON string in a number or boolean field follows the text rules.
	_, r, err := c.FromJSON(json.RawMessage(strings.NewReplacer(`"Age__c":41`, `"Age__c":"41.0"`, `"IsX__c":false`, `"IsX__c":"false"`).Replace(`{`+base+`}`)), nil)
	if err != nil || enc(t, r) != `{"Age__c":41,"D__c":"2024-01-02","IsX__c":false,"LastName":"Doe"}` {
		t.Errorf("%s %v", r, err)
	}
	// Escapes decode; bytes without escapes are kept as they are.
	_, r, err = c.FromJSON(json.RawMessage(strings.Replace(`{`+base+`}`, `"Doe"`, `"D\u00f6e \"x\""`, 1)), nil)
	if f, _ := r.Get("LastName"); err != nil || f.Value != `Döe "x"` {
		t.Errorf("%#v %v", r, err)
	}
}

func TestBindHeaderErrors(t *testing.T) {
	c := testCanon(t)
	full := []string{"Id", "Name", "Amount", "IsWon", "CloseDate", "SystemModstamp", "AccountId", "Tags__c",
		"Standup__c", "Owner.Name", "Account.Owner.Alias", "Description"}
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{append(full[:len(full):len(full)], "Account.Name"), `column "Account.Name" is not a selected field`},
		{append(full[:len(full):len(full)], "Owner.Email"), `"Owner.Email" is not a selected field`},
		{append(full[:len(full):len(full)], "name"), "Name twice"},
		{full[1:], "lacks selected field(s) Id"},
		{full[:len(full)-2], "lacks selected field(s) Account.Owner.Alias, Description"},
	} {
		_, err := c.BindHeader(tc.header)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.header, err, tc.want)
		}
	}
	b, err := c.BindHeader(full)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := c.BindHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := empty.FromRow(nil, nil); err == nil {
		t.Error("a row bound to an empty header was accepted")
	}
	if _, _, err := b.FromRow(full[1:], nil); err == nil || !strings.Contains(err.Error(), "11 columns") {
		t.Errorf("short row: %v", err)
	}
	row := []string{"006D000000IqhSL", "n", "12x", "true", "", "", "", "", "", "", "", ""}
	if _, _, err := b.FromRow(row, nil); err == nil || !strings.Contains(err.Error(), "006D000000IqhSLIAZ") || !strings.Contains(err.Error(), "Opportunity.Amount") {
		t.Errorf("bad number: %v", err)
	}
	row[0] = ""
	if _, _, err := b.FromRow(row, nil); err == nil || !strings.Contains(err.Error(), "without an Id") {
		t.Errorf("no id: %v", err)
	}
}

func TestFromValuesTypes(t *testing.T) {
	c, err := NewCanon("X__c", []sfapi.Field{field("I", "int"), field("D", "double"), field("T", "time"),
		field("DT", "datetime"), field("S", "string"), field("B", "boolean")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.FromValues("a00D000000IqhSL", map[string]any{"I": int64(3), "D": json.Number("1.50"),
		"T": time.Date(1, 1, 1, 9, 30, 0, 5e6, time.FixedZone("", 3600)), "DT": time.UnixMilli(1700000000123), "S": "", "b": false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(t, r); got != `{"B":false,"D":1.5,"DT":"2023-11-14T22:13:20.123Z","I":3,"S":null,"T":"09:30:00.005Z"}` {
		t.Errorf("%s", got)
	}
	for _, bad := range []map[string]any{{"I": true}, {"S": 5}, {"B": "maybe"}, {"D": math.Inf(1)}, {"DT": time.Unix(0, 1)}, {"I": []int{1}}} {
		if _, err := c.FromValues("a00D000000IqhSL", bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := c.FromValues("", nil, nil); err == nil {
		t.Error("no id accepted")
	}
}

// ---- acceptance: every emulator object, Bulk vs REST vs the org's truth ----

func emulatorClient(t testing.TB, srv *sftest.Server) *sfapi.Client {
	c, err := sfapi.New(sfapi.Config{Auth: sfapi.StaticToken{AccessToken: srv.Token, InstanceURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCanonAcrossAPIs reads every queryable object of a generated org
// through Bulk 2.0 and through REST and wants, for every record, the same
// canonical bytes both ways and the same as the org's own state.
func TestCanonAcrossAPIs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a whole generated org")
	}
	srv := churnedOrg(t)
	defer srv.Close()
	ctx := context.Background()
	client := emulatorClient(t, srv)
	g, err := client.DescribeGlobal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var objects, records, bulkObjects, bulkRecords int
	var restOnly []string
	convs := map[conv]int{}
	for _, o := range g.SObjects {
		if !o.Queryable {
			continue
		}
		d, err := client.Describe(ctx, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		var sel []sfapi.Field
		for _, f := range d.Fields {
			if Selectable(f) {
				sel = append(sel, f)
			}
		}
		canon, err := NewCanon(o.Name, sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range canon.cols {
			convs[col.conv]++
		}
		truth := truthOf(t, srv.Org, canon, nil)
		n, bulkN, bulkOK := compareAPIs(t, client, canon, truth)
		objects++
		records += n
		if bulkOK {
			bulkObjects++
			bulkRecords += bulkN
		} else {
			restOnly = append(restOnly, o.Name)
		}
	}
	if objects < 10 || records < 2000 {
		t.Fatalf("only %d objects, %d records compared", objects, records)
	}
	for _, cv := range []conv{convString, convBool, convNumber, convDate, convDateTime, convTime, convID} {
		if convs[cv] == 0 {
			t.Errorf("no %s field in the org: that rule went untested", cv)
		}
	}
	t.Logf("%d objects, %d records: REST = truth; %d objects, %d records: Bulk = REST = truth; REST only (Bulk answers INVALIDENTITY): %s",
		objects, records, bulkObjects, bulkRecords, strings.Join(restOnly, ", "))
}

// TestCanonRelationshipColumns selects parent fields (one and two levels up,
// polymorphic Owner included, lookups often empty) and compares Bulk's
// dotted columns with REST's nested objects and with the parents' own values.
func TestCanonRelationshipColumns(t *testing.T) {
	srv := churnedOrg(t)
	defer srv.Close()
	ctx := context.Background()
	client := emulatorClient(t, srv)
	describe := func(name string) *sfapi.SObjectDescribe {
		d, err := client.Describe(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cs, contact, account, user := describe("Case"), describe("Contact"), describe("Account"), describe("User")
	rename := func(f *sfapi.Field, name string) sfapi.Field { g := *f; g.Name = name; return g }
	sel := []sfapi.Field{*cs.Field("Subject"), *cs.Field("ContactId"), *cs.Field("OwnerId"),
		rename(contact.Field("LastName"), "Contact.LastName"), rename(contact.Field("Birthdate"), "Contact.Birthdate"),
		rename(account.Field("Name"), "Contact.Account.Name"), rename(account.Field("AnnualRevenue"), "Contact.Account.AnnualRevenue"),
		rename(user.Field("Alias"), "Owner.Alias")}
	canon, err := NewCanon("Case", sel)
	if err != nil {
		t.Fatal(err)
	}
	parent := func(id any, name string) any {
		s, ok := id.(string)
		if !ok {
			return nil
		}
		p, ok := srv.Org.Get(s)
		if !ok || p.Deleted {
			return nil
		}
		return p.Fields[name]
	}
	truth := truthOf(t, srv.Org, canon, func(vals map[string]any) {
		vals["Contact.LastName"] = parent(vals["ContactId"], "LastName")
		vals["Contact.Birthdate"] = parent(vals["ContactId"], "Birthdate")
		vals["Contact.Account.Name"] = parent(parent(vals["ContactId"], "AccountId"), "Name")
		vals["Contact.Account.AnnualRevenue"] = parent(parent(vals["ContactId"], "AccountId"), "AnnualRevenue")
		vals["Owner.Alias"] = parent(vals["OwnerId"], "Alias")
	})
	n, bulkN, _ := compareAPIs(t, client, canon, truth)
	if n == 0 || bulkN != n {
		t.Fatalf("%d REST, %d Bulk records", n, bulkN)
	}
	noContact := 0
	for _, enc := range truth {
		if strings.Contains(enc, `"Contact.LastName":null`) {
			noContact++
		}
	}
	if noContact == 0 {
		t.Error("no Case without a Contact: the null-relationship path was not exercised")
	}
	t.Logf("%d Cases with parent columns compared (%d without a Contact)", n, noContact)
}

// churnedOrg serves a generated org after a day of churn, so that records
// were written through the API paths too, and some are in the Recycle Bin
// (and must not show), some purged, some with new fields.
func churnedOrg(t *testing.T) *sftest.Server {
	srv := sftest.NewServer(sftest.Options{Seed: 7, Records: 3000})
	st := srv.Org.Churn(sftest.ChurnOptions{Seed: 7, Rate: 0.05, NewFields: 2})
	if st.Deleted == 0 || st.Updated == 0 {
		t.Fatalf("churn did nothing: %+v", st)
	}
	return srv
}

// truthOf converts the org's live records (Recycle Bin excluded) to
// canonical encodings by Id; extend adds values the org does not hold
// directly (parent fields).
func truthOf(t *testing.T, org *sftest.Org, canon *Canon, extend func(map[string]any)) map[string]string {
	truth := map[string]string{}
	var rec record.Record
	err := org.Records(canon.Object(), func(r sftest.Record) bool {
		if r.Deleted {
			return true
		}
		if extend != nil {
			extend(r.Fields)
		}
		var err error
		rec, err = canon.FromValues(r.ID, r.Fields, rec)
		if err != nil {
			t.Fatalf("truth %s %s: %v", canon.Object(), r.ID, err)
		}
		truth[r.ID] = enc(t, rec)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return truth
}

// compareAPIs reads canon's object through REST and Bulk and checks every
// record against truth. bulkOK is false when the Bulk API refuses the object.
func compareAPIs(t *testing.T, client *sfapi.Client, canon *Canon, truth map[string]string) (n, bulkN int, bulkOK bool) {
	t.Helper()
	ctx := context.Background()
	obj := canon.Object()
	soql := "SELECT " + strings.Join(canon.Fields(), ", ") + " FROM " + obj

	rest := make(map[string]string, len(truth))
	it := client.Query(ctx, soql, nil)
	var rec record.Record
	for it.Next() {
		id, r, err := canon.FromJSON(it.Record().Raw, rec)
		if err != nil {
			t.Fatalf("REST %s: %v", obj, err)
		}
		rec = r
		got := enc(t, r)
		if want, ok := truth[id]; !ok {
			t.Errorf("REST %s: record %s is not in the org", obj, id)
		} else if got != want {
			t.Errorf("REST %s %s:\n got %s\nwant %s", obj, id, got, want)
		}
		if _, dup := rest[id]; dup {
			t.Errorf("REST %s: %s twice", obj, id)
		}
		rest[id] = got
	}
	if err := it.Err(); err != nil {
		t.Fatalf("REST %s: %v", obj, err)
	}
	if len(rest) != len(truth) {
		t.Errorf("REST %s: %d records, the org has %d", obj, len(rest), len(truth))
	}

	s, err := client.BulkQuery(ctx, soql, &sfapi.BulkQueryOptions{Poll: sfapi.PollOptions{Initial: time.Millisecond}, DeleteJob: true})
	if sfapi.ErrorCode(err) == "INVALIDENTITY" {
		return len(rest), 0, false
	}
	if err != nil {
		t.Fatalf("Bulk %s: %v", obj, err)
	}
	defer s.Close()
	bind, err := canon.BindHeader(s.Header())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var buf []byte
	for s.Next() {
		id, r, err := bind.FromRow(s.Record(), rec)
		if err != nil {
			t.Fatalf("Bulk %s: %v", obj, err)
		}
		rec = r
		buf, err = r.AppendJSON(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := rest[id]; !ok {
			t.Errorf("Bulk %s: record %s not read through REST", obj, id)
		} else if !bytes.Equal(buf, []byte(want)) {
			t.Errorf("Bulk %s %s:\n bulk %s\n rest %s", obj, id, buf, want)
		}
		if seen[id] {
			t.Errorf("Bulk %s: %s twice", obj, id)
		}
		seen[id] = true
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Bulk %s: %v", obj, err)
	}
	if len(seen) != len(rest) {
		t.Errorf("Bulk %s: %d records, REST %d", obj, len(seen), len(rest))
	}
	return len(rest), len(seen), true
}

// ---- benchmark ----

// BenchmarkCanonCSV converts 20-field Bulk rows of the usual mix: Ids and
// references, datetimes in Bulk's form, dates, money with trailing zeros,
// booleans, text and nulls.
func BenchmarkCanonCSV(b *testing.B) {
	fields := []sfapi.Field{field("Id", "id"), field("Name", "string"), field("OwnerId", "reference"),
		field("AccountId", "reference"), field("CreatedById", "reference"), field("CreatedDate", "datetime"),
		field("LastModifiedDate", "datetime"), field("SystemModstamp", "datetime"), field("IsDeleted", "boolean"),
		field("IsClosed", "boolean"), field("Amount", "currency"), field("Probability", "percent"),
		field("Quantity__c", "double"), field("CloseDate", "date"), field("Due__c", "date"), field("StageName", "picklist"),
		field("Description", "textarea"), field("Email__c", "email"), field("Phone__c", "phone"), field("Tags__c", "multipicklist")}
	c, err := NewCanon("Opportunity", fields)
	if err != nil {
		b.Fatal(err)
	}
	bind, err := c.BindHeader(c.Fields())
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]string, 1024)
	for i := range rows {
		rows[i] = []string{fmt.Sprintf("006Dn00000%05dAAA", i)[:15], "Opportunity " + fmt.Sprint(i), "005Dn0000000001IAA",
			"001Dn0000000042IAA", "005Dn0000000002IAA", "2024-01-31T12:00:00.000Z", "2024-02-01T08:30:00.000Z",
			"2024-02-01T08:30:00.000Z", "false", "true", fmt.Sprintf("%d.50", i*100), "75.0", "", "2024-03-31",
			"", "Closed Won", "A short description of the deal and its terms", "buyer@acme.example",
			"(415) 555-0100", "A;B"}
	}
	// Fix the Ids' checksums so that the fast path is what is measured.
	for _, r := range rows {
		id18, err := sfapi.To18(r[0])
		if err != nil {
			b.Fatal(err)
		}
		r[0] = id18
		for _, k := range []int{2, 3, 4} {
			if r[k], err = sfapi.To18(r[k][:15]); err != nil {
				b.Fatal(err)
			}
		}
	}
	var rec record.Record
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, r, err := bind.FromRow(rows[i%len(rows)], rec)
		if err != nil {
			b.Fatal(err)
		}
		rec = r
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
