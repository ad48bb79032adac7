// Package repobench measures the repository engine on generated records:
// the figures in docs/benchmarks.md come from here, through both Go
// benchmarks and `orgsnap benchmark repo`.
package repobench

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo/record"
)

// Records of this shape average ~600 bytes as JSON, like a typical
// Contact or Account: names and emails from small vocabularies, phone
// numbers, an address, picklists, amounts, timestamps and a free-text
// description, with some nulls.
var (
	firstNames = strings.Fields("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Amelie Lucas Chloe Hugo Lea Mateo Sofia Noah Emma Liam")
	lastNames  = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson")
	companies  = strings.Fields("Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Soylent Vandelay Massive Dynamic Aperture Oscorp")
	streets    = strings.Fields("Main Oak Pine Maple Cedar Elm Washington Lake Hill Park")
	cities     = strings.Fields("Paris Lyon Berlin Madrid Austin Denver Osaka Lagos Lima Oslo Boston Chicago Seattle Toronto Sydney")
	states     = strings.Fields("CA TX NY WA IL MA CO ON NSW IDF")
	sources    = strings.Fields("Web Phone Partner Referral Trade_Show Advertisement")
	levels     = strings.Fields("Primary Secondary Tertiary")
	words      = strings.Fields("customer renewal contract pricing support escalation meeting quote onboarding integration invoice discount pilot rollout feedback training upgrade migration review account")
)

// Fields is the column list, in order.
var Fields = []string{"Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "MailingStreet", "MailingCity",
	"MailingState", "MailingPostalCode", "MailingCountry", "LeadSource", "Level__c", "AccountId", "OwnerId", "Birthdate",
	"HasOptedOutOfEmail", "AnnualSpend__c", "Description", "CreatedDate", "LastModifiedDate", "SystemModstamp"}

// ID returns the i-th 18-character record Id of an object key prefix.
func ID(prefix string, i int) string {
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [9]byte
	for j := 8; j >= 0; j-- {
		b[j] = b62[i%62]
		i /= 62
	}
	return prefix + "5g0" + string(b[:]) + "AAQ"
}

// Record returns record i's field values (version v: a changed record
// has a higher v), deterministic from (i, v).
func Record(i, v int) []string {
	rng := rand.New(rand.NewSource(int64(i)*7919 + int64(v)))
	first, last := firstNames[rng.Intn(len(firstNames))], lastNames[rng.Intn(len(lastNames))]
	company := companies[rng.Intn(len(companies))]
	created := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 97 * time.Second)
	mod := created.Add(time.Duration(v*86400+rng.Intn(86400)) * time.Second)
	desc := make([]string, 2+rng.Intn(8))
	for k := range desc {
		desc[k] = words[rng.Intn(len(words))]
	}
	birth := ""
	if rng.Intn(3) > 0 {
		birth = time.Date(1950+rng.Intn(50), time.Month(1+rng.Intn(12)), 1+rng.Intn(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	}
	mobile := ""
	if rng.Intn(2) == 0 {
		mobile = fmt.Sprintf("+1 (%03d) %03d-%04d", rng.Intn(1000), rng.Intn(1000), rng.Intn(10000))
	}
	return []string{
		ID("003", i), first, last,
		strings.ToLower(first+"."+last) + "@" + strings.ToLower(company) + ".example.com",
		fmt.Sprintf("+1 (%03d) %03d-%04d", rng.Intn(1000), rng.Intn(1000), rng.Intn(10000)), mobile,
		[]string{"CEO", "CFO", "VP Sales", "Director", "Manager", "Engineer", "Buyer", ""}[rng.Intn(8)],
		fmt.Sprintf("%d %s St", 1+rng.Intn(9999), streets[rng.Intn(len(streets))]),
		cities[rng.Intn(len(cities))], states[rng.Intn(len(states))], fmt.Sprintf("%05d", rng.Intn(100000)), "US",
		sources[rng.Intn(len(sources))], levels[rng.Intn(len(levels))],
		ID("001", i/7), ID("005", rng.Intn(40)), birth, strconv.FormatBool(rng.Intn(5) == 0),
		strconv.FormatFloat(float64(rng.Intn(10000000))/100, 'f', 2, 64),
		strings.Join(desc, " "),
		created.Format("2006-01-02T15:04:05.000Z"), mod.Format("2006-01-02T15:04:05.000Z"), mod.Format("2006-01-02T15:04:05.000Z"),
	}
}

// stored lists the positions of Fields that a stored record holds (all
// but the Id, which is the record's key), in name order.
var stored = func() []int {
	var idx []int
	for k, f := range Fields {
		if f != "Id" {
			idx = append(idx, k)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return Fields[idx[i]] < Fields[idx[j]] })
	return idx
}()

// ToRecord makes the record the repository stores from a row of values:
// the Id is the key, not a field; empty values are null; the flag is a
// bool and the amount a number.
func ToRecord(vals []string) record.Record {
	rec := make(record.Record, len(stored))
	for i, k := range stored {
		f := record.Field{Name: Fields[k], Kind: record.String, Value: vals[k]}
		switch {
		case f.Value == "":
			f.Kind = record.Null
		case f.Name == "HasOptedOutOfEmail":
			f.Kind = record.Bool
		case f.Name == "AnnualSpend__c":
			f.Kind = record.Number
		}
		rec[i] = f
	}
	return rec
}

// CSV encodes a record as a Data Loader CSV row.
func CSV(dst []byte, vals []string) []byte {
	for k, v := range vals {
		if k > 0 {
			dst = append(dst, ',')
		}
		if strings.ContainsAny(v, ",\"\n") {
			dst = append(dst, '"')
			dst = append(dst, strings.ReplaceAll(v, `"`, `""`)...)
			dst = append(dst, '"')
		} else {
			dst = append(dst, v...)
		}
	}
	return append(dst, '\n')
}
