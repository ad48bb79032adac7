package sftest

import (
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// Object is one sObject type of the org: its describe flags and fields.
// Objects are created per org (schema changes mutate them) and are guarded
// by the org's lock once the org is live.
type Object struct {
	Name, Label, LabelPlural, KeyPrefix string

	Custom, Queryable, Replicateable, Retrieveable, Createable, Updateable,
	Deletable, Undeletable, Searchable, Layoutable, Triggerable, Mergeable,
	FeedEnabled bool
	// BulkUnsupported makes Bulk API 2.0 job creation fail with INVALIDENTITY.
	BulkUnsupported bool

	Fields      []*Field
	byName      map[string]*Field // lower-cased name → field
	RecordTypes []RecordTypeInfo
	Children    []ChildRelationship // computed from every object's references

	// Modified is when the describe last changed (Last-Modified, If-Modified-Since).
	Modified time.Time

	weight float64 // share of Options.Records generated for this object
	fixed  int     // fixed generated count (setup objects); wins over weight when > 0
	minN   int     // lower bound of the generated count when Records > 0
}

// RecordTypeInfo is one entry of describe's recordTypeInfos.
type RecordTypeInfo struct {
	Name, DeveloperName string
	ID                  string
	Default, Master     bool
}

// ChildRelationship is one entry of describe's childRelationships.
type ChildRelationship struct {
	ChildSObject, Field, RelationshipName string
	CascadeDelete, RestrictedDelete       bool
}

// Field is one field of an Object, with what describe reports about it and
// how the generator fills it.
type Field struct {
	Name, Label, Type                string
	Length, Precision, Scale, Digits int

	Nillable, Createable, Updateable, Calculated, Custom, ExternalID, IDLookup,
	DefaultedOnCreate, Unique, NameField, AutoNumber, CascadeDelete,
	RestrictedPicklist, CaseSensitive, HTMLFormatted bool

	Formula          string // calculatedFormula
	ReferenceTo      []string
	RelationshipName string
	CompoundName     string   // compoundFieldName of a component field
	Parts            []string // components of a compound (address/location) field
	Picklist         []string
	DefaultValue     any

	pos  int                 // index in Object.Fields
	salt uint64              // per-field randomness, stable across schema changes
	gen  func(c *gctx) Value // value of a generated record; nil ⇒ null
	calc func(r *row) Value  // formula / derived value, computed on read
}

// Field returns the field named name (case-insensitive), or nil.
func (o *Object) Field(name string) *Field { return o.byName[strings.ToLower(name)] }

func (o *Object) add(fs ...*Field) *Object {
	for _, f := range fs {
		f.pos = len(o.Fields)
		if f.salt == 0 {
			h := fnv.New64a()
			h.Write([]byte(o.Name + "." + f.Name))
			f.salt = h.Sum64() | 1
		}
		o.Fields = append(o.Fields, f)
		o.byName[strings.ToLower(f.Name)] = f
	}
	return o
}

// relField finds the reference field whose relationshipName is rel.
func (o *Object) relField(rel string) *Field {
	for _, f := range o.Fields {
		if f.RelationshipName != "" && strings.EqualFold(f.RelationshipName, rel) {
			return f
		}
	}
	return nil
}

// hasField reports whether o has a field named name.
func (o *Object) hasField(name string) bool { return o.Field(name) != nil }

func soapType(t string) string {
	switch t {
	case "id", "reference":
		return "tns:ID"
	case "boolean":
		return "xsd:boolean"
	case "int":
		return "xsd:int"
	case "double", "currency", "percent":
		return "xsd:double"
	case "date":
		return "xsd:date"
	case "datetime":
		return "xsd:dateTime"
	case "time":
		return "xsd:time"
	case "base64":
		return "xsd:base64Binary"
	case "address":
		return "urn:address"
	case "location":
		return "urn:location"
	}
	return "xsd:string"
}

// kindOf is the Value kind a field of type t holds.
func kindOf(t string) Kind {
	switch t {
	case "boolean":
		return KBool
	case "int":
		return KInt
	case "double", "currency", "percent":
		return KFloat
	case "date":
		return KDate
	case "datetime":
		return KDateTime
	case "time":
		return KTime
	case "address", "location":
		return KNull
	}
	return KString
}

// ---- field constructors ----

func newField(name, typ string) *Field {
	f := &Field{Name: name, Label: labelOf(name), Type: typ, Nillable: true, Createable: true, Updateable: true}
	f.Custom = strings.HasSuffix(name, "__c")
	switch typ {
	case "string", "textarea", "phone", "url", "email", "picklist", "multipicklist", "combobox", "encryptedstring":
		f.Length = 255
	case "id", "reference":
		f.Length = 18
	case "int":
		f.Digits = 9
	case "double", "currency", "percent":
		f.Precision, f.Scale = 18, 2
	}
	return f
}

func labelOf(name string) string {
	name = strings.TrimSuffix(strings.TrimSuffix(name, "__c"), "__s")
	name = strings.ReplaceAll(name, "_", " ")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' && name[i-1] >= 'a' && name[i-1] <= 'z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (f *Field) g(gen func(c *gctx) Value) *Field { f.gen = gen; return f }
func (f *Field) length(n int) *Field              { f.Length = n; return f }
func (f *Field) label(s string) *Field            { f.Label = s; return f }
func (f *Field) req() *Field                      { f.Nillable = false; return f }
func (f *Field) ro() *Field                       { f.Createable, f.Updateable = false, false; return f }
func (f *Field) createOnly() *Field               { f.Updateable = false; return f }
func (f *Field) defaulted() *Field                { f.DefaultedOnCreate = true; return f }
func (f *Field) nameField() *Field                { f.NameField = true; f.Nillable = false; return f }
func (f *Field) ext() *Field                      { f.ExternalID, f.IDLookup = true, true; return f }
func (f *Field) idLookup() *Field                 { f.IDLookup = true; return f }
func (f *Field) prec(p, s int) *Field             { f.Precision, f.Scale = p, s; return f }
func (f *Field) pick(vals ...string) *Field       { f.Picklist = vals; return f }
func (f *Field) restricted() *Field               { f.RestrictedPicklist = true; return f }
func (f *Field) compound(name string) *Field      { f.CompoundName = name; return f }
func (f *Field) def(v any) *Field                 { f.DefaultValue = v; f.DefaultedOnCreate = true; return f }
func (f *Field) formula(expr string, calc func(r *row) Value) *Field {
	f.Calculated, f.Formula, f.calc = true, expr, calc
	return f.ro()
}

func ref(name, rel string, to ...string) *Field {
	f := newField(name, "reference")
	f.ReferenceTo, f.RelationshipName = to, rel
	return f
}

// masterDetail is a required, cascade-deleting reference.
func masterDetail(name, rel, to string) *Field {
	f := ref(name, rel, to).req()
	f.CascadeDelete = true
	return f
}

func picklist(name string, vals ...string) *Field {
	return newField(name, "picklist").pick(vals...)
}

// address adds a compound address field and its components.
func address(o *Object, prefix string, gen func(c *gctx, part int) Value) {
	parts := []string{"Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy"}
	comp := prefix + "Address"
	var names []string
	for k, p := range parts {
		typ := "string"
		switch p {
		case "Street":
			typ = "textarea"
		case "Latitude", "Longitude":
			typ = "double"
		case "GeocodeAccuracy":
			typ = "picklist"
		}
		f := newField(prefix+p, typ).compound(comp)
		if typ == "double" {
			f.prec(18, 15)
		}
		if p == "GeocodeAccuracy" {
			f.pick("Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip", "Neighborhood", "City", "County", "State", "Unknown")
		}
		k := k
		if gen != nil {
			f.gen = func(c *gctx) Value { return gen(c, k) }
		}
		names = append(names, f.Name)
		o.add(f)
	}
	a := newField(comp, "address").ro()
	a.Parts = names
	o.add(a)
}

// geolocation adds a custom compound location field Name__c with its
// Name__Latitude__s / Name__Longitude__s components.
func geolocation(o *Object, name string, gen func(c *gctx, lat bool) Value) {
	base := strings.TrimSuffix(name, "__c")
	lat := newField(base+"__Latitude__s", "double").prec(18, 15).compound(name)
	lon := newField(base+"__Longitude__s", "double").prec(18, 15).compound(name)
	lat.Custom, lon.Custom = true, true
	if gen != nil {
		lat.gen = func(c *gctx) Value { return gen(c, true) }
		lon.gen = func(c *gctx) Value { return gen(c, false) }
	}
	loc := newField(name, "location").ro()
	loc.Parts = []string{lat.Name, lon.Name}
	o.add(lat, lon, loc)
}

func newObject(name, prefix string) *Object {
	label := labelOf(name)
	plural := label + "s"
	if strings.HasSuffix(label, "y") {
		plural = label[:len(label)-1] + "ies"
	}
	return &Object{
		Name: name, Label: label, LabelPlural: plural, KeyPrefix: prefix,
		Custom:    strings.HasSuffix(name, "__c"),
		Queryable: true, Replicateable: true, Retrieveable: true, Createable: true,
		Updateable: true, Deletable: true, Undeletable: true, Searchable: true,
		Layoutable: true, Triggerable: true,
		byName: map[string]*Field{},
	}
}

// linkChildren computes every object's childRelationships from the reference
// fields of all objects.
func linkChildren(objs []*Object) {
	byName := map[string]*Object{}
	for _, o := range objs {
		byName[o.Name] = o
		o.Children = nil
	}
	for _, c := range objs {
		for _, f := range c.Fields {
			for _, to := range f.ReferenceTo {
				p := byName[to]
				if p == nil {
					continue
				}
				rel := ""
				if f.RelationshipName != "" {
					rel = childRelName(c, f)
				}
				p.Children = append(p.Children, ChildRelationship{
					ChildSObject: c.Name, Field: f.Name, RelationshipName: rel,
					CascadeDelete: f.CascadeDelete,
				})
			}
		}
	}
	for _, o := range objs {
		sort.Slice(o.Children, func(i, j int) bool {
			a, b := o.Children[i], o.Children[j]
			if a.ChildSObject != b.ChildSObject {
				return a.ChildSObject < b.ChildSObject
			}
			return a.Field < b.Field
		})
	}
}

// childRelName names the parent-to-child relationship of reference f on
// child c as Salesforce does for the common cases: Contacts, Opportunities,
// custom children Invoice_Lines__r.
func childRelName(c *Object, f *Field) string {
	if rel, ok := knownChildRels[c.Name+"."+f.Name]; ok {
		return rel
	}
	if c.Custom {
		return strings.TrimSuffix(c.LabelPlural, "s") + "s__r"
	}
	return strings.ReplaceAll(c.LabelPlural, " ", "")
}

var knownChildRels = map[string]string{
	"Account.ParentId":                      "ChildAccounts",
	"Task.WhatId":                           "Tasks",
	"Task.WhoId":                            "Tasks",
	"Event.WhatId":                          "Events",
	"Event.WhoId":                           "Events",
	"Attachment.ParentId":                   "Attachments",
	"Note.ParentId":                         "Notes",
	"ContentDocumentLink.LinkedEntityId":    "ContentDocumentLinks",
	"ContentDocumentLink.ContentDocumentId": "ContentDocumentLinks",
	"ContentVersion.ContentDocumentId":      "ContentVersions",
	"ContentVersion.FirstPublishLocationId": "",
	"Contact.ReportsToId":                   "",
	"Invoice_Line__c.Invoice__c":            "Invoice_Lines__r",
	"Invoice__c.Account__c":                 "Invoices__r",
	"Project__c.Parent_Project__c":          "Sub_Projects__r",
	"Project__c.Account__c":                 "Projects__r",
	"OpportunityLineItem.OpportunityId":     "OpportunityLineItems",
	"CampaignMember.CampaignId":             "CampaignMembers",
	"CampaignMember.ContactId":              "CampaignMembers",
	"CampaignMember.LeadId":                 "CampaignMembers",
	"Case.ParentId":                         "Cases1",
}
