package sftest

import (
	"net/http"
	"strings"
	"time"
)

// Describe results are built as maps so encoding/json emits keys in
// alphabetical order, as real orgs do.

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func describeField(f *Field) map[string]any {
	byteLen := f.Length * 3
	switch f.Type {
	case "id", "reference":
		byteLen = 18
	case "boolean", "int", "double", "currency", "percent", "date", "datetime", "time", "address", "location":
		byteLen = 0
	}
	picks := []map[string]any{}
	for k, v := range f.Picklist {
		def := false
		if dv, ok := f.DefaultValue.(string); ok {
			def = dv == v
		} else {
			def = k == 0 && false
		}
		picks = append(picks, map[string]any{"active": true, "defaultValue": def, "label": v, "validFor": nil, "value": v})
	}
	refTo := f.ReferenceTo
	if refTo == nil {
		refTo = []string{}
	}
	long := f.Type == "textarea" && f.Length > 255 || f.Type == "base64" || f.Type == "address" || f.Type == "location"
	filterable := !long && f.Type != "multipicklist" || f.Type == "multipicklist"
	if f.Type == "textarea" && f.Length > 255 || f.Type == "base64" || f.Type == "address" || f.Type == "location" {
		filterable = false
	}
	var relOrder any
	if f.CascadeDelete {
		relOrder = 0
	}
	return map[string]any{
		"aggregatable": filterable && f.Type != "boolean", "aiPredictionField": false, "autoNumber": f.AutoNumber,
		"byteLength": byteLen, "calculated": f.Calculated, "calculatedFormula": nilIfEmpty(f.Formula),
		"cascadeDelete": f.CascadeDelete, "caseSensitive": f.CaseSensitive, "compoundFieldName": nilIfEmpty(f.CompoundName),
		"controllerName": nil, "createable": f.Createable, "custom": f.Custom, "dataTranslationEnabled": false,
		"defaultValue": f.DefaultValue, "defaultValueFormula": nil, "defaultedOnCreate": f.DefaultedOnCreate,
		"dependentPicklist": false, "deprecatedAndHidden": false, "digits": f.Digits, "displayLocationInDecimal": false,
		"encrypted": false, "externalId": f.ExternalID, "extraTypeInfo": extraTypeInfo(f), "filterable": filterable,
		"filteredLookupInfo": nil, "formulaTreatNullNumberAsZero": false, "groupable": filterable && f.Type != "double" && f.Type != "currency" && f.Type != "percent" && f.Type != "datetime",
		"highScaleNumber": false, "htmlFormatted": f.HTMLFormatted, "idLookup": f.IDLookup, "inlineHelpText": nil,
		"label": f.Label, "length": f.Length, "mask": nil, "maskType": nil, "name": f.Name, "nameField": f.NameField,
		"namePointing": len(f.ReferenceTo) > 1, "nillable": f.Nillable, "permissionable": f.Custom && f.Nillable,
		"picklistValues": picks, "polymorphicForeignKey": len(f.ReferenceTo) > 1, "precision": f.Precision,
		"queryByDistance": false, "referenceTargetField": nil, "referenceTo": refTo,
		"relationshipName": nilIfEmpty(f.RelationshipName), "relationshipOrder": relOrder, "restrictedDelete": false,
		"restrictedPicklist": f.RestrictedPicklist, "scale": f.Scale, "searchPrefilterable": false,
		"soapType": soapType(f.Type), "sortable": filterable, "type": f.Type, "unique": f.Unique,
		"updateable": f.Updateable, "writeRequiresMasterRead": false,
	}
}

func extraTypeInfo(f *Field) any {
	switch {
	case f.Type == "textarea" && f.Length > 255:
		return "plaintextarea"
	case f.Type == "reference" && len(f.ReferenceTo) > 0 && f.ReferenceTo[0] == "User" && f.Name == "OwnerId":
		return nil
	case f.Type == "address":
		return nil
	}
	return nil
}

func objURLs(ver, name string) map[string]string {
	p := "/services/data/v" + ver + "/sobjects/" + name
	return map[string]string{
		"sobject": p, "describe": p + "/describe", "rowTemplate": p + "/{ID}",
		"layouts": p + "/describe/layouts", "compactLayouts": p + "/describe/compactLayouts",
		"quickActions": p + "/quickActions", "listviews": p + "/listviews", "defaultValues": p + "/defaultValues?recordTypeId&fields",
		"uiDetailTemplate": "https://emulator.my.salesforce.com/{ID}", "uiEditTemplate": "https://emulator.my.salesforce.com/{ID}/e",
		"uiNewRecord": "https://emulator.my.salesforce.com/" + "new",
	}
}

// globalEntry is an object's describeGlobal entry.
func globalEntry(obj *Object, ver string) map[string]any {
	var prefix any = obj.KeyPrefix
	if obj.KeyPrefix == "" {
		prefix = nil
	}
	return map[string]any{
		"activateable": false, "associateEntityType": nil, "associateParentEntity": nil,
		"createable": obj.Createable, "custom": obj.Custom, "customSetting": false, "deepCloneable": false,
		"deletable": obj.Deletable, "deprecatedAndHidden": false, "feedEnabled": obj.FeedEnabled, "hasSubtypes": false,
		"isInterface": false, "isSubtype": false, "keyPrefix": prefix, "label": obj.Label, "labelPlural": obj.LabelPlural,
		"layoutable": obj.Layoutable, "mergeable": obj.Mergeable, "mruEnabled": obj.Layoutable, "name": obj.Name,
		"queryable": obj.Queryable, "replicateable": obj.Replicateable, "retrieveable": obj.Retrieveable,
		"searchable": obj.Searchable, "triggerable": obj.Triggerable, "undeletable": obj.Undeletable,
		"updateable": obj.Updateable, "urls": map[string]string{
			"sobject": "/services/data/v" + ver + "/sobjects/" + obj.Name, "describe": "/services/data/v" + ver + "/sobjects/" + obj.Name + "/describe",
			"rowTemplate": "/services/data/v" + ver + "/sobjects/" + obj.Name + "/{ID}",
		},
	}
}

func (o *Org) describeObject(st *objState, ver string) map[string]any {
	obj := st.obj
	m := globalEntry(obj, ver)
	fields := make([]map[string]any, 0, len(obj.Fields))
	for _, f := range obj.Fields {
		fields = append(fields, describeField(f))
	}
	children := []map[string]any{}
	for _, c := range obj.Children {
		children = append(children, map[string]any{
			"cascadeDelete": c.CascadeDelete, "childSObject": c.ChildSObject, "deprecatedAndHidden": false,
			"field": c.Field, "junctionIdListNames": []string{}, "junctionReferenceTo": []string{},
			"relationshipName": nilIfEmpty(c.RelationshipName), "restrictedDelete": c.RestrictedDelete,
		})
	}
	rts := []map[string]any{}
	if obj.Field("RecordTypeId") != nil {
		rst := o.state("RecordType")
		first := true
		for k, rt := range recordTypes {
			if rt.obj != obj.Name {
				continue
			}
			id := makeID(rst.obj.KeyPrefix, idCounter+int64(k))
			rts = append(rts, map[string]any{
				"active": true, "available": true, "defaultRecordTypeMapping": first, "developerName": rt.dev,
				"master": false, "name": rt.name, "recordTypeId": id,
				"urls": map[string]string{"layout": "/services/data/v" + ver + "/sobjects/" + obj.Name + "/describe/layouts/" + id},
			})
			first = false
		}
	}
	rts = append(rts, map[string]any{
		"active": true, "available": true, "defaultRecordTypeMapping": len(rts) == 0, "developerName": "Master",
		"master": true, "name": "Master", "recordTypeId": "012000000000000AAA",
		"urls": map[string]string{"layout": "/services/data/v" + ver + "/sobjects/" + obj.Name + "/describe/layouts/012000000000000AAA"},
	})
	m["fields"] = fields
	m["childRelationships"] = children
	m["recordTypeInfos"] = rts
	m["actionOverrides"] = []any{}
	m["compactLayoutable"] = obj.Layoutable
	m["defaultImplementation"] = nil
	m["extendedBy"] = nil
	m["extendsInterfaces"] = nil
	m["implementedBy"] = nil
	m["implementsInterfaces"] = nil
	m["listviewable"] = nil
	m["lookupLayoutable"] = nil
	m["namedLayoutInfos"] = []any{}
	m["networkScopeFieldName"] = nil
	m["searchLayoutable"] = obj.Searchable
	m["sobjectDescribeOption"] = "FULL"
	m["supportedScopes"] = []map[string]string{{"label": "All " + strings.ToLower(obj.LabelPlural), "name": "everything"}}
	m["urls"] = objURLs(ver, obj.Name)
	return m
}

// notModified answers 304 when If-Modified-Since is at or after modified.
func notModified(c *reqCtx, modified time.Time) bool {
	c.w.Header().Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	ims := c.r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	if !modified.Truncate(time.Second).After(t) {
		c.w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

func (o *Org) describeGlobal(c *reqCtx) {
	o.mu.RLock()
	var mod time.Time
	var list []map[string]any
	for _, st := range o.sortedObjs() {
		if st.obj.Modified.After(mod) {
			mod = st.obj.Modified
		}
		list = append(list, globalEntry(st.obj, c.ver))
	}
	o.mu.RUnlock()
	if notModified(c, mod) {
		return
	}
	writeJSON(c.w, 200, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
}
