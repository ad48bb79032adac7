package sfapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

const (
	nsPartner  = "urn:partner.soap.sforce.com"
	nsMetadata = "http://soap.sforce.com/2006/04/metadata"
)

// xmlText escapes s for element content.
func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// soapCall posts one SOAP operation. inner is the body content (already
// XML), ns the operation's namespace; the session header is filled in per
// attempt so a refreshed token is used after INVALID_SESSION_ID. out is
// decoded from the whole envelope (paths like "Body>xResponse>result").
func (c *Client) soapCall(ctx context.Context, path, ns, action, inner string, idempotent bool, out any) error {
	r := &call{family: FamilySOAP, method: http.MethodPost, path: path,
		contentType: "text/xml; charset=UTF-8", accept: "text/xml", idempotent: idempotent,
		header: http.Header{"Soapaction": {action}}}
	r.bodyFn = func(tok *Token) ([]byte, error) {
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
		b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="` + ns + `">`)
		b.WriteString(`<soapenv:Header><n:SessionHeader><n:sessionId>`)
		b.WriteString(xmlText(tok.AccessToken))
		b.WriteString(`</n:sessionId></n:SessionHeader>`)
		if c.client != "" && ns == nsPartner {
			b.WriteString(`<n:CallOptions><n:client>` + xmlText(c.client) + `</n:client></n:CallOptions>`)
		}
		b.WriteString(`</soapenv:Header><soapenv:Body>`)
		b.WriteString(inner)
		b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
		return b.Bytes(), nil
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return fmt.Errorf("SOAP %s: %w", action, err)
	}
	if f, ok := parseSOAPFault(resp.body); ok {
		return fmt.Errorf("SOAP %s: %w", action, &APIError{StatusCode: resp.status, ErrorCode: f.code, Message: redact(f.message), soap: true})
	}
	if err := xml.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("SOAP %s: decoding answer: %w", action, err)
	}
	return nil
}

// UndeleteResult is the outcome for one id.
type UndeleteResult struct {
	ID      string      `xml:"id"`
	Success bool        `xml:"success"`
	Errors  []ErrorItem `xml:"errors"`
}

// Err returns nil on success, else the first error as *APIError.
func (u UndeleteResult) Err() error {
	return SaveResult{ID: u.ID, Success: u.Success, Errors: u.Errors}.Err()
}

// Undelete restores records from the Recycle Bin (partner SOAP API, 200
// ids per call). Results are in input order.
func (c *Client) Undelete(ctx context.Context, ids []string) ([]UndeleteResult, error) {
	for _, id := range ids {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
	}
	out := make([]UndeleteResult, 0, len(ids))
	for start := 0; start < len(ids); start += MaxCollection {
		chunk := ids[start:min(start+MaxCollection, len(ids))]
		var b strings.Builder
		b.WriteString(`<n:undelete>`)
		for _, id := range chunk {
			b.WriteString(`<n:ids>` + id + `</n:ids>`)
		}
		b.WriteString(`</n:undelete>`)
		var env struct {
			Results []UndeleteResult `xml:"Body>undeleteResponse>result"`
		}
		// Undeleting twice only yields per-record errors, so a retry is safe.
		if err := c.soapCall(ctx, "/services/Soap/u/"+c.version, nsPartner, "undelete", b.String(), true, &env); err != nil {
			return out, err
		}
		if len(env.Results) != len(chunk) {
			return out, fmt.Errorf("undelete: %d results for %d ids", len(env.Results), len(chunk))
		}
		out = append(out, env.Results...)
	}
	return out, nil
}

// ErrorItem decodes from SOAP too: <errors><statusCode/><message/><fields/></errors>.
func (e *ErrorItem) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x struct {
		StatusCode string   `xml:"statusCode"`
		Message    string   `xml:"message"`
		Fields     []string `xml:"fields"`
	}
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	e.StatusCode, e.Message, e.Fields = x.StatusCode, x.Message, x.Fields
	return nil
}

func (c *Client) metadataPath() string { return "/services/Soap/m/" + c.version }

// MetadataObject is one metadata type from describeMetadata.
type MetadataObject struct {
	Name          string   `xml:"xmlName"` // the type name, e.g. CustomObject
	DirectoryName string   `xml:"directoryName"`
	Suffix        string   `xml:"suffix"`
	InFolder      bool     `xml:"inFolder"`
	MetaFile      bool     `xml:"metaFile"`
	ChildXMLNames []string `xml:"childXmlNames"`
}

// DescribeMetadataResult is the answer of describeMetadata.
type DescribeMetadataResult struct {
	MetadataObjects       []MetadataObject `xml:"metadataObjects"`
	OrganizationNamespace string           `xml:"organizationNamespace"`
	PartialSaveAllowed    bool             `xml:"partialSaveAllowed"`
	TestRequired          bool             `xml:"testRequired"`
}

// DescribeMetadata lists the org's metadata types.
func (c *Client) DescribeMetadata(ctx context.Context) (*DescribeMetadataResult, error) {
	var env struct {
		Result DescribeMetadataResult `xml:"Body>describeMetadataResponse>result"`
	}
	inner := `<n:describeMetadata><n:asOfVersion>` + c.version + `</n:asOfVersion></n:describeMetadata>`
	if err := c.soapCall(ctx, c.metadataPath(), nsMetadata, "describeMetadata", inner, true, &env); err != nil {
		return nil, err
	}
	return &env.Result, nil
}

// ListMetadataQuery names a type (and, for Report, Dashboard, Document and
// EmailTemplate, the folder) to list.
type ListMetadataQuery struct {
	Type   string
	Folder string
}

// FileProperties describes one metadata component.
type FileProperties struct {
	CreatedByID        string `xml:"createdById"`
	CreatedByName      string `xml:"createdByName"`
	CreatedDate        string `xml:"createdDate"`
	FileName           string `xml:"fileName"`
	FullName           string `xml:"fullName"`
	ID                 string `xml:"id"`
	LastModifiedByID   string `xml:"lastModifiedById"`
	LastModifiedByName string `xml:"lastModifiedByName"`
	LastModifiedDate   string `xml:"lastModifiedDate"`
	ManageableState    string `xml:"manageableState"`
	NamespacePrefix    string `xml:"namespacePrefix"`
	Type               string `xml:"type"`
}

// ListMetadata lists components of the given types (3 queries per call, as
// Salesforce allows).
func (c *Client) ListMetadata(ctx context.Context, queries []ListMetadataQuery) ([]FileProperties, error) {
	var out []FileProperties
	for start := 0; start < len(queries); start += 3 {
		var b strings.Builder
		b.WriteString(`<n:listMetadata>`)
		for _, q := range queries[start:min(start+3, len(queries))] {
			b.WriteString(`<n:queries>`)
			if q.Folder != "" {
				b.WriteString(`<n:folder>` + xmlText(q.Folder) + `</n:folder>`)
			}
			b.WriteString(`<n:type>` + xmlText(q.Type) + `</n:type></n:queries>`)
		}
		b.WriteString(`<n:asOfVersion>` + c.version + `</n:asOfVersion></n:listMetadata>`)
		var env struct {
			Results []FileProperties `xml:"Body>listMetadataResponse>result"`
		}
		if err := c.soapCall(ctx, c.metadataPath(), nsMetadata, "listMetadata", b.String(), true, &env); err != nil {
			return out, err
		}
		out = append(out, env.Results...)
	}
	return out, nil
}

// PackageTypeMembers is a <types> entry of package.xml.
type PackageTypeMembers struct {
	Name    string
	Members []string // "*" for all components of the type (not valid for every type)
}

// RetrieveRequest selects what to retrieve.
type RetrieveRequest struct {
	Types         []PackageTypeMembers
	PackageNames  []string
	SpecificFiles []string
	SinglePackage bool
}

// RetrieveMessage is a per-file problem reported by a retrieve.
type RetrieveMessage struct {
	FileName string `xml:"fileName"`
	Problem  string `xml:"problem"`
}

// RetrieveResult is the answer of checkRetrieveStatus. ZipFile is decoded
// from base64.
type RetrieveResult struct {
	Done            bool              `xml:"done"`
	ID              string            `xml:"id"`
	Status          string            `xml:"status"`
	Success         bool              `xml:"success"`
	ErrorMessage    string            `xml:"errorMessage"`
	ErrorStatusCode string            `xml:"errorStatusCode"`
	FileProperties  []FileProperties  `xml:"fileProperties"`
	Messages        []RetrieveMessage `xml:"messages"`
	ZipBase64       string            `xml:"zipFile"`
	ZipFile         []byte            `xml:"-"`
}

// Retrieve starts an asynchronous metadata retrieve and returns its id.
func (c *Client) Retrieve(ctx context.Context, req RetrieveRequest) (string, error) {
	var b strings.Builder
	b.WriteString(`<n:retrieve><n:retrieveRequest><n:apiVersion>` + c.version + `</n:apiVersion>`)
	for _, p := range req.PackageNames {
		b.WriteString(`<n:packageNames>` + xmlText(p) + `</n:packageNames>`)
	}
	fmt.Fprintf(&b, `<n:singlePackage>%v</n:singlePackage>`, req.SinglePackage)
	for _, f := range req.SpecificFiles {
		b.WriteString(`<n:specificFiles>` + xmlText(f) + `</n:specificFiles>`)
	}
	if len(req.Types) > 0 {
		b.WriteString(`<n:unpackaged>`)
		for _, t := range req.Types {
			b.WriteString(`<n:types>`)
			for _, m := range t.Members {
				b.WriteString(`<n:members>` + xmlText(m) + `</n:members>`)
			}
			b.WriteString(`<n:name>` + xmlText(t.Name) + `</n:name></n:types>`)
		}
		b.WriteString(`<n:version>` + c.version + `</n:version></n:unpackaged>`)
	}
	b.WriteString(`</n:retrieveRequest></n:retrieve>`)
	var env struct {
		Result struct {
			ID    string `xml:"id"`
			State string `xml:"state"`
			Done  bool   `xml:"done"`
		} `xml:"Body>retrieveResponse>result"`
	}
	if err := c.soapCall(ctx, c.metadataPath(), nsMetadata, "retrieve", b.String(), true, &env); err != nil {
		return "", err
	}
	if env.Result.ID == "" {
		return "", fmt.Errorf("metadata retrieve: answer has no id (state %q)", env.Result.State)
	}
	return env.Result.ID, nil
}

// CheckRetrieveStatus polls a retrieve once.
func (c *Client) CheckRetrieveStatus(ctx context.Context, id string, includeZip bool) (*RetrieveResult, error) {
	inner := fmt.Sprintf(`<n:checkRetrieveStatus><n:asyncProcessId>%s</n:asyncProcessId><n:includeZip>%v</n:includeZip></n:checkRetrieveStatus>`, xmlText(id), includeZip)
	var env struct {
		Result RetrieveResult `xml:"Body>checkRetrieveStatusResponse>result"`
	}
	if err := c.soapCall(ctx, c.metadataPath(), nsMetadata, "checkRetrieveStatus", inner, true, &env); err != nil {
		return nil, err
	}
	r := &env.Result
	if r.ZipBase64 != "" {
		z, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(r.ZipBase64), ""))
		if err != nil {
			return nil, fmt.Errorf("checkRetrieveStatus: zipFile is not base64: %w", err)
		}
		r.ZipFile, r.ZipBase64 = z, ""
	}
	return r, nil
}

// RetrieveZip runs a retrieve to completion: start, poll (without the zip)
// until done, then fetch the zip. A failed retrieve returns the result and
// an error carrying Salesforce's message.
func (c *Client) RetrieveZip(ctx context.Context, req RetrieveRequest, p PollOptions) (*RetrieveResult, error) {
	id, err := c.Retrieve(ctx, req)
	if err != nil {
		return nil, err
	}
	p = p.withDefaults()
	wait := p.Initial
	start := c.clock.Now()
	for {
		r, err := c.CheckRetrieveStatus(ctx, id, false)
		if err != nil {
			return nil, err
		}
		if r.Done {
			if ok := r.Status == "Succeeded" || r.Status == "" && r.Success; !ok {
				return r, fmt.Errorf("metadata retrieve %s %s: %s %s", id, r.Status, r.ErrorStatusCode, r.ErrorMessage)
			}
			if r.ZipFile == nil {
				if r, err = c.CheckRetrieveStatus(ctx, id, true); err != nil {
					return nil, err
				}
			}
			return r, nil
		}
		if p.Timeout > 0 && c.clock.Now().Sub(start) >= p.Timeout {
			return r, fmt.Errorf("metadata retrieve %s still %s after %v", id, r.Status, p.Timeout)
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil, ctxErr(err)
		}
		wait = min(wait*3/2, p.Max)
	}
}
