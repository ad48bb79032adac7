package sftest

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// SOAP: the partner API's undelete, and the Metadata API calls a backup
// needs (describeMetadata, listMetadata, retrieve, checkRetrieveStatus).
// Elements are matched by local name, whatever their namespace prefixes
// (simple-salesforce sends some un-prefixed), and SOAPAction is ignored.

type xnode struct {
	name string
	text string
	kids []*xnode
}

func parseXML(r io.Reader) (*xnode, error) {
	dec := xml.NewDecoder(r)
	root := &xnode{}
	stack := []*xnode{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local}
			top := stack[len(stack)-1]
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			stack[len(stack)-1].text += string(t)
		}
	}
}

// find returns the first descendant with the given path of local names.
func (n *xnode) find(path ...string) *xnode {
	if n == nil || len(path) == 0 {
		return n
	}
	for _, k := range n.kids {
		if k.name == path[0] {
			if r := k.find(path[1:]...); r != nil {
				return r
			}
		}
	}
	for _, k := range n.kids {
		if r := k.find(path...); r != nil && len(path) == 1 {
			return r
		}
	}
	return nil
}

func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

func (n *xnode) val(name string) string {
	if k := n.find(name); k != nil {
		return strings.TrimSpace(k.text)
	}
	return ""
}

func xmlEsc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func soapFault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(500)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>` + code + `</faultcode><faultstring>` + xmlEsc(msg) + `</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`))
}

// soapRequest parses the envelope and checks the SessionHeader.
func (o *Org) soapRequest(c *reqCtx) (body *xnode, ok bool) {
	env, err := parseXML(io.LimitReader(c.r.Body, 16<<20))
	if err != nil {
		soapFault(c.w, "soapenv:Client", "Unable to parse the request: "+err.Error())
		return nil, false
	}
	if !o.validToken(env.val("sessionId")) {
		soapFault(c.w, "sf:INVALID_SESSION_ID", "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session")
		return nil, false
	}
	b := env.find("Envelope", "Body")
	if b == nil || len(b.kids) == 0 {
		soapFault(c.w, "soapenv:Client", "No operation in the SOAP Body")
		return nil, false
	}
	return b.kids[0], true
}

func (o *Org) soapReply(c *reqCtx, ns, body string) {
	used, limit := o.APIUsage()
	c.w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	c.w.WriteHeader(200)
	fmt.Fprintf(c.w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="%s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><LimitInfoHeader><limitInfo><current>%d</current><limit>%d</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>`, ns, used, limit, body)
}

// soapPartner serves /services/Soap/u (and /c): undelete.
func (o *Org) soapPartner(c *reqCtx) {
	op, ok := o.soapRequest(c)
	if !ok {
		return
	}
	ns := "urn:partner.soap.sforce.com"
	if strings.Contains(c.r.URL.Path, "/Soap/c/") {
		ns = "urn:enterprise.soap.sforce.com"
	}
	if op.name != "undelete" {
		soapFault(c.w, "sf:INVALID_OPERATION", "INVALID_OPERATION: operation "+op.name+" is not supported by this emulator")
		return
	}
	var ids []string
	for _, n := range op.all("ids") {
		ids = append(ids, strings.TrimSpace(n.text))
	}
	if len(ids) > 200 {
		soapFault(c.w, "sf:EXCEEDED_ID_LIMIT", "EXCEEDED_ID_LIMIT: record limit reached. cannot submit more than 200 records into this call")
		return
	}
	o.mu.Lock()
	t := o.beginWrite()
	var b strings.Builder
	b.WriteString("<undeleteResponse>")
	for _, id := range ids {
		var err *Error
		st, idx, found := o.locate(id)
		if !found {
			err = saveErr("INVALID_ID_FIELD", "invalid record id")
		} else {
			err = o.undeleteRec(st, idx, t)
		}
		if err != nil {
			fmt.Fprintf(&b, `<result><errors><message>%s</message><statusCode>%s</statusCode></errors><id xsi:nil="true"/><success>false</success></result>`, xmlEsc(err.Message), err.Code)
			continue
		}
		fmt.Fprintf(&b, `<result><id>%s</id><success>true</success></result>`, makeID(st.obj.KeyPrefix, idCounter+idx))
	}
	b.WriteString("</undeleteResponse>")
	o.endWrite(t)
	o.mu.Unlock()
	o.soapReply(c, ns, b.String())
}

// ---- Metadata API ----

type retrieveJob struct {
	types  map[string][]string // type → members
	single bool
	checks int
}

var metaTypes = []struct {
	xmlName, dir, suffix string
	meta                 bool
	kids                 []string
}{
	{"ApexClass", "classes", "cls", true, nil},
	{"ApexTrigger", "triggers", "trigger", true, nil},
	{"CustomObject", "objects", "object", false, []string{"CustomField", "ValidationRule", "RecordType", "ListView"}},
	{"Layout", "layouts", "layout", false, nil},
}

var apexClasses = map[string]string{
	"AccountService":    "public with sharing class AccountService {\n    public static List<Account> topAccounts(Integer n) {\n        return [SELECT Id, Name, AnnualRevenue FROM Account ORDER BY AnnualRevenue DESC NULLS LAST LIMIT :n];\n    }\n}\n",
	"InvoiceBatch":      "public class InvoiceBatch implements Database.Batchable<SObject> {\n    public Database.QueryLocator start(Database.BatchableContext bc) {\n        return Database.getQueryLocator('SELECT Id, Status__c FROM Invoice__c WHERE Status__c = \\'Sent\\'');\n    }\n    public void execute(Database.BatchableContext bc, List<Invoice__c> scope) {}\n    public void finish(Database.BatchableContext bc) {}\n}\n",
	"ProjectController": "public with sharing class ProjectController {\n    @AuraEnabled(cacheable=true)\n    public static List<Project__c> children(Id parentId) {\n        return [SELECT Id, Name FROM Project__c WHERE Parent_Project__c = :parentId];\n    }\n}\n",
}

// members lists the components of a metadata type.
func (o *Org) members(typ string) []string {
	var out []string
	switch typ {
	case "ApexClass":
		for n := range apexClasses {
			out = append(out, n)
		}
	case "ApexTrigger":
		out = []string{"InvoiceTrigger"}
	case "CustomObject":
		for _, st := range o.objs {
			out = append(out, st.obj.Name)
		}
	case "Layout":
		for _, st := range o.objs {
			if st.obj.Layoutable && st.obj.Createable {
				out = append(out, st.obj.Name+"-"+st.obj.Label+" Layout")
			}
		}
	}
	sort.Strings(out)
	return out
}

func (o *Org) soapMetadata(c *reqCtx) {
	op, ok := o.soapRequest(c)
	if !ok {
		return
	}
	const ns = "http://soap.sforce.com/2006/04/metadata"
	var b strings.Builder
	switch op.name {
	case "describeMetadata":
		b.WriteString("<describeMetadataResponse><result>")
		for _, mt := range metaTypes {
			b.WriteString("<metadataObjects>")
			for _, k := range mt.kids {
				b.WriteString("<childXmlNames>" + k + "</childXmlNames>")
			}
			fmt.Fprintf(&b, "<directoryName>%s</directoryName><inFolder>false</inFolder><metaFile>%v</metaFile><suffix>%s</suffix><xmlName>%s</xmlName></metadataObjects>", mt.dir, mt.meta, mt.suffix, mt.xmlName)
		}
		b.WriteString("<organizationNamespace></organizationNamespace><partialSaveAllowed>true</partialSaveAllowed><testRequired>false</testRequired></result></describeMetadataResponse>")
	case "listMetadata":
		b.WriteString("<listMetadataResponse>")
		o.mu.RLock()
		for _, q := range op.all("queries") {
			typ := q.val("type")
			for _, m := range o.members(typ) {
				b.WriteString("<result>" + o.fileProps(typ, m) + "</result>")
			}
		}
		o.mu.RUnlock()
		b.WriteString("</listMetadataResponse>")
	case "retrieve":
		req := op.find("retrieveRequest")
		job := &retrieveJob{types: map[string][]string{}, single: req.val("singlePackage") == "true"}
		if u := req.find("unpackaged"); u != nil {
			for _, tnode := range u.all("types") {
				name := tnode.val("name")
				for _, m := range tnode.all("members") {
					job.types[name] = append(job.types[name], strings.TrimSpace(m.text))
				}
			}
		}
		o.api.mu.Lock()
		o.api.asyncSeq++
		id := makeID("09S", idCounter+o.api.asyncSeq)
		o.api.retrieves[id] = job
		o.api.mu.Unlock()
		fmt.Fprintf(&b, "<retrieveResponse><result><done>false</done><id>%s</id><state>Queued</state></result></retrieveResponse>", id)
	case "checkRetrieveStatus":
		id := op.val("asyncProcessId")
		if id == "" {
			id = op.val("id")
		}
		o.api.mu.Lock()
		job := o.api.retrieves[id]
		o.api.mu.Unlock()
		if job == nil {
			soapFault(c.w, "sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Retrieve result has been deleted.")
			return
		}
		includeZip := op.val("includeZip") != "false"
		o.mu.RLock()
		zipData, props := o.retrieveZip(job)
		o.mu.RUnlock()
		b.WriteString("<checkRetrieveStatusResponse><result><done>true</done>")
		for _, p := range props {
			b.WriteString("<fileProperties>" + p + "</fileProperties>")
		}
		fmt.Fprintf(&b, "<id>%s</id><status>Succeeded</status><success>true</success>", id)
		if includeZip {
			b.WriteString("<zipFile>" + base64.StdEncoding.EncodeToString(zipData) + "</zipFile>")
		}
		b.WriteString("</result></checkRetrieveStatusResponse>")
	default:
		soapFault(c.w, "sf:INVALID_OPERATION", "INVALID_OPERATION: "+op.name+" is not supported by this emulator")
		return
	}
	o.soapReply(c, ns, b.String())
}

func (o *Org) metaFile(typ, member string) string {
	for _, mt := range metaTypes {
		if mt.xmlName == typ {
			return mt.dir + "/" + member + "." + mt.suffix
		}
	}
	return ""
}

func (o *Org) fileProps(typ, member string) string {
	ts := time.UnixMilli(o.baseMs - historyMs).UTC().Format("2006-01-02T15:04:05.000Z")
	mod := ts
	if typ == "CustomObject" {
		if st := o.state(member); st != nil {
			mod = st.obj.Modified.UTC().Format("2006-01-02T15:04:05.000Z")
		}
	}
	h := mix(o.seed ^ uint64(len(member))*31 ^ uint64(member[0]))
	prefix := map[string]string{"ApexClass": "01p", "ApexTrigger": "01q", "CustomObject": "01I", "Layout": "00h"}[typ]
	return fmt.Sprintf("<createdById>%s</createdById><createdByName>Orgsnap Admin</createdByName><createdDate>%s</createdDate><fileName>%s</fileName><fullName>%s</fullName><id>%s</id><lastModifiedById>%s</lastModifiedById><lastModifiedByName>Orgsnap Admin</lastModifiedByName><lastModifiedDate>%s</lastModifiedDate><manageableState>unmanaged</manageableState><type>%s</type>",
		o.AdminUserID(), ts, xmlEsc(o.metaFile(typ, member)), xmlEsc(member), makeID(prefix, idCounter+int64(h%100000)), o.AdminUserID(), mod, typ)
}

// retrieveZip builds the retrieve zip: package.xml and one file per
// component (plus -meta.xml files for Apex).
func (o *Org) retrieveZip(job *retrieveJob) ([]byte, []string) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root := "unpackaged/"
	if job.single {
		root = ""
	}
	mtime := time.UnixMilli(o.baseMs).UTC()
	put := func(name, content string) {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: root + name, Method: zip.Deflate, Modified: mtime})
		io.WriteString(w, content)
	}
	var props []string
	var pkg strings.Builder
	pkg.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Package xmlns="http://soap.sforce.com/2006/04/metadata">` + "\n")
	var types []string
	for t := range job.types {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, typ := range types {
		members := job.types[typ]
		if len(members) == 1 && members[0] == "*" {
			members = o.members(typ)
		}
		pkg.WriteString("    <types>\n")
		for _, m := range members {
			pkg.WriteString("        <members>" + xmlEsc(m) + "</members>\n")
			content, ok := o.component(typ, m)
			if !ok {
				continue
			}
			file := o.metaFile(typ, m)
			put(file, content)
			if typ == "ApexClass" || typ == "ApexTrigger" {
				tag := typ
				put(file+"-meta.xml", `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<`+tag+` xmlns="http://soap.sforce.com/2006/04/metadata">`+"\n    <apiVersion>"+LatestVersion+"</apiVersion>\n    <status>Active</status>\n</"+tag+">\n")
			}
			props = append(props, o.fileProps(typ, m))
		}
		pkg.WriteString("        <name>" + typ + "</name>\n    </types>\n")
	}
	pkg.WriteString("    <version>" + LatestVersion + "</version>\n</Package>\n")
	put("package.xml", pkg.String())
	zw.Close()
	return buf.Bytes(), props
}

// component renders one metadata component's file.
func (o *Org) component(typ, member string) (string, bool) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	switch typ {
	case "ApexClass":
		s, ok := apexClasses[member]
		return s, ok
	case "ApexTrigger":
		if member != "InvoiceTrigger" {
			return "", false
		}
		return "trigger InvoiceTrigger on Invoice__c (before insert, before update) {\n    for (Invoice__c inv : Trigger.new) {\n        if (inv.Status__c == null) inv.Status__c = 'Draft';\n    }\n}\n", true
	case "CustomObject":
		st := o.state(member)
		if st == nil {
			return "", false
		}
		var b strings.Builder
		b.WriteString(head + `<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">` + "\n")
		for _, f := range st.obj.Fields {
			if !f.Custom {
				continue
			}
			fmt.Fprintf(&b, "    <fields>\n        <fullName>%s</fullName>\n        <label>%s</label>\n", f.Name, xmlEsc(f.Label))
			typ := map[string]string{"string": "Text", "textarea": "LongTextArea", "picklist": "Picklist", "multipicklist": "MultiselectPicklist",
				"boolean": "Checkbox", "currency": "Currency", "percent": "Percent", "double": "Number", "int": "Number", "date": "Date",
				"datetime": "DateTime", "time": "Time", "url": "Url", "email": "Email", "phone": "Phone", "location": "Location", "reference": "Lookup"}[f.Type]
			if f.CascadeDelete {
				typ = "MasterDetail"
			}
			if f.Calculated {
				fmt.Fprintf(&b, "        <formula>%s</formula>\n", xmlEsc(f.Formula))
			}
			if len(f.ReferenceTo) > 0 {
				fmt.Fprintf(&b, "        <referenceTo>%s</referenceTo>\n        <relationshipName>%s</relationshipName>\n", f.ReferenceTo[0], strings.TrimSuffix(f.RelationshipName, "__r"))
			}
			if f.Type == "string" || f.Type == "textarea" {
				fmt.Fprintf(&b, "        <length>%d</length>\n", f.Length)
			}
			if f.ExternalID {
				b.WriteString("        <externalId>true</externalId>\n")
			}
			fmt.Fprintf(&b, "        <type>%s</type>\n    </fields>\n", typ)
		}
		fmt.Fprintf(&b, "    <label>%s</label>\n    <pluralLabel>%s</pluralLabel>\n", xmlEsc(st.obj.Label), xmlEsc(st.obj.LabelPlural))
		if st.obj.Custom {
			b.WriteString("    <deploymentStatus>Deployed</deploymentStatus>\n    <sharingModel>ReadWrite</sharingModel>\n")
		}
		b.WriteString("</CustomObject>\n")
		return b.String(), true
	case "Layout":
		obj, _, _ := strings.Cut(member, "-")
		st := o.state(obj)
		if st == nil {
			return "", false
		}
		var b strings.Builder
		b.WriteString(head + `<Layout xmlns="http://soap.sforce.com/2006/04/metadata">` + "\n    <layoutSections>\n        <label>Information</label>\n        <layoutColumns>\n")
		for _, f := range st.obj.Fields {
			if f.Createable || f.Updateable {
				behavior := "Edit"
				if !f.Nillable {
					behavior = "Required"
				}
				fmt.Fprintf(&b, "            <layoutItems>\n                <behavior>%s</behavior>\n                <field>%s</field>\n            </layoutItems>\n", behavior, f.Name)
			}
		}
		b.WriteString("        </layoutColumns>\n        <style>TwoColumnsTopToBottom</style>\n    </layoutSections>\n</Layout>\n")
		return b.String(), true
	}
	return "", false
}
