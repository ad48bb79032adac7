package sfapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
)

func TestIngest(t *testing.T) {
	var uploaded string
	polls := 0
	job := jobID(7)
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/services/data/v62.0/jobs/ingest")
		switch {
		case p == "" && r.Method == "POST":
			var body map[string]string
			json.NewDecoder(r.Body).Decode(&body)
			if body["operation"] != "upsert" || body["externalIdFieldName"] != "Legacy_Id__c" {
				t.Errorf("create %v", body)
			}
			writeJSON(w, 200, `{"id":"`+job+`","state":"Open","contentUrl":"services/data/v62.0/jobs/ingest/`+job+`/batches"}`)
		case p == "/"+job+"/batches" && r.Method == "PUT":
			b, _ := io.ReadAll(r.Body)
			uploaded = string(b)
			w.WriteHeader(201)
		case p == "/"+job && r.Method == "PATCH":
			writeJSON(w, 200, `{"id":"`+job+`","state":"UploadComplete"}`)
		case p == "/"+job && r.Method == "GET":
			polls++
			state := "InProgress"
			if polls > 1 {
				state = "JobComplete"
			}
			writeJSON(w, 200, `{"id":"`+job+`","state":"`+state+`","numberRecordsProcessed":3,"numberRecordsFailed":1,"apiVersion":"62.0"}`)
		case p == "/"+job+"/successfulResults/":
			io.WriteString(w, "\"sf__Id\",\"sf__Created\",Name,Legacy_Id__c\n\"001R000000abcdeIAA\",\"true\",Acme,L-0001\n\"001R000000abcdfIAA\",false,Beta,L-0002\n")
		case p == "/"+job+"/failedResults/":
			io.WriteString(w, "\"sf__Id\",\"sf__Error\",Name,Legacy_Id__c\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --\",,L-0003\n")
		case p == "/"+job+"/unprocessedrecords/":
			io.WriteString(w, "Name,Legacy_Id__c\n")
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	csvData := "Name,Legacy_Id__c\nAcme,L-0001\nBeta,L-0002\n,L-0003\n"
	j, res, err := env.c.Ingest(context.Background(), sfapi.IngestJobSpec{Object: "Account", Operation: "upsert", ExternalIDFieldName: "Legacy_Id__c"}, []byte(csvData), sfapi.PollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if uploaded != csvData || j.NumberRecordsFailed != 1 || string(j.APIVersion) != "62.0" {
		t.Fatalf("uploaded %q job %+v", uploaded, j)
	}
	if len(res.Successful) != 2 || !res.Successful[0].Created || res.Successful[1].Created || res.Successful[1].Values[0] != "Beta" {
		t.Fatalf("successful %+v", res.Successful)
	}
	if len(res.Failed) != 1 || res.Failed[0].ErrorCode() != "REQUIRED_FIELD_MISSING" || res.Failed[0].Values[1] != "L-0003" {
		t.Fatalf("failed %+v", res.Failed)
	}
	if len(res.Header) != 2 || len(res.Unprocessed) != 0 {
		t.Fatalf("header %v unprocessed %v", res.Header, res.Unprocessed)
	}
	if _, err := env.c.CreateIngestJob(context.Background(), sfapi.IngestJobSpec{Object: "Account", Operation: "merge"}); err == nil {
		t.Fatal("bad operation accepted")
	}
}

func TestReplicationSplit(t *testing.T) {
	var calls []string
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, _ := time.Parse(time.RFC3339, r.URL.Query().Get("start"))
		end, _ := time.Parse(time.RFC3339, r.URL.Query().Get("end"))
		calls = append(calls, r.URL.Path+" "+r.URL.Query().Get("start")+" "+r.URL.Query().Get("end"))
		if end.Sub(start) > 6*time.Hour {
			writeJSON(w, 400, `[{"errorCode":"EXCEEDED_ID_LIMIT","message":"too many ids"}]`)
			return
		}
		latest := end.Format("2006-01-02T15:04:05.000-0700")
		id := fmt.Sprintf("001%015d", start.Hour())
		if strings.HasSuffix(r.URL.Path, "/updated") {
			writeJSON(w, 200, fmt.Sprintf(`{"ids":[%q,"001000000000000999"],"latestDateCovered":%q}`, id, latest))
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"deletedRecords":[{"id":%q,"deletedDate":"2026-03-01T01:02:03.000+0000"}],"earliestDateAvailable":"2026-02-20T00:00:00.000+0000","latestDateCovered":%q}`, id, latest))
	}))
	ctx := context.Background()
	now := env.clock.Now() // 2026-03-01T12:00Z
	up, err := env.c.GetUpdated(ctx, "Account", now.Add(-24*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// 24h → 4 windows of 6h; the shared id is deduplicated.
	if len(up.IDs) != 5 || !up.LatestDateCovered.Equal(now) {
		t.Fatalf("ids %v latest %v calls %v", up.IDs, up.LatestDateCovered, calls)
	}
	del, err := env.c.GetDeleted(ctx, "Account", now.Add(-12*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(del.Records) != 2 || del.Records[0].DeletedDate.Second() != 3 || del.EarliestDateAvailable.Day() != 20 {
		t.Fatalf("deleted %+v", del)
	}
	if _, err := env.c.GetDeleted(ctx, "Account", now.Add(-16*24*time.Hour), now); !errors.Is(err, sfapi.ErrWindowTooOld) {
		t.Fatalf("16 days back: %v", err)
	}
	if !strings.HasSuffix(calls[0], "updated 2026-02-28T12:00:00Z 2026-03-01T12:00:00Z") {
		t.Fatalf("window not normalised: %s", calls[0])
	}
}

func TestBlobDownloadResume(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	var gets atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/data/v62.0/sobjects/ContentVersion/068D00000000pgOIAQ/VersionData" {
			t.Errorf("path %s", r.URL.Path)
		}
		n := gets.Add(1)
		w.Header().Set("ETag", `"v1"`)
		switch n {
		case 1:
			hijackTruncated(w, http.Header{"Content-Type": {"application/pdf"}, "Etag": {`"v1"`}}, string(content), 50000)
		case 2:
			// Range honoured.
			if r.Header.Get("Range") != "bytes=50000-" || r.Header.Get("If-Range") != `"v1"` {
				t.Errorf("range %q if-range %q", r.Header.Get("Range"), r.Header.Get("If-Range"))
			}
			rest := content[50000:]
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 50000-%d/%d", len(content)-1, len(content)))
			w.Header().Set("Content-Length", strconv.Itoa(len(rest)))
			w.WriteHeader(206)
			w.Write(rest[:40000])
			hj, _, _ := w.(http.Hijacker).Hijack()
			hj.Close()
		default:
			// Range ignored: the whole file again.
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			w.Write(content)
		}
	}))
	b, err := env.c.DownloadBlob(context.Background(), "ContentVersion", "068D00000000pgOIAQ", "VersionData")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) || b.Resumes() != 2 || b.ContentType() != "application/pdf" {
		t.Fatalf("got %d bytes, resumes %d, type %q", len(got), b.Resumes(), b.ContentType())
	}
}

func TestBlobUpload(t *testing.T) {
	var n atomic.Int32
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "multipart/form-data" {
			t.Errorf("content type %q", mt)
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		p1, _ := mr.NextPart()
		meta, _ := io.ReadAll(p1)
		p2, _ := mr.NextPart()
		data, _ := io.ReadAll(p2)
		if p1.FormName() != "entity_content" || !strings.Contains(string(meta), `"PathOnClient":"q1.pdf"`) ||
			p2.FormName() != "VersionData" || p2.FileName() != "q1.pdf" || string(data) != "PDFDATA" {
			t.Errorf("parts %q %q %q %q", p1.FormName(), meta, p2.FormName(), data)
		}
		if n.Add(1) == 1 {
			writeJSON(w, 503, `[{"errorCode":"SERVER_UNAVAILABLE","message":"try later"}]`)
			return
		}
		writeJSON(w, 201, `{"id":"068D00000000pgOIAQ","errors":[],"success":true}`)
	}))
	id, err := env.c.UploadBlob(context.Background(), "ContentVersion", sfapi.Fields{"Title": "Q1", "PathOnClient": "q1.pdf"},
		"VersionData", "q1.pdf", strings.NewReader("PDFDATA"))
	if err != nil || id != "068D00000000pgOIAQ" || n.Load() != 2 {
		t.Fatalf("id %q err %v attempts %d", id, err, n.Load())
	}
}

func TestSOAP(t *testing.T) {
	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	f, _ := zw.Create("package.xml")
	f.Write([]byte("<Package/>"))
	zw.Close()
	checks := 0
	src := &countingSource{}
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := string(body)
		if !strings.Contains(s, "<n:sessionId>00D000000000001!tok") {
			t.Errorf("no session in %s", s)
		}
		if strings.Contains(s, "!tok1<") {
			w.WriteHeader(500)
			io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
			return
		}
		env := func(inner string) {
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:x"><soapenv:Body>`+inner+`</soapenv:Body></soapenv:Envelope>`)
		}
		switch {
		case strings.Contains(s, "<n:undelete>"):
			if r.URL.Path != "/services/Soap/u/62.0" {
				t.Errorf("path %s", r.URL.Path)
			}
			env(`<undeleteResponse><result><id>001D000000IqhSLIAZ</id><success>true</success></result><result><errors><message>Entity type is not undeletable</message><statusCode>CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY</statusCode></errors><id xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><success>false</success></result></undeleteResponse>`)
		case strings.Contains(s, "<n:describeMetadata>"):
			env(`<describeMetadataResponse><result><metadataObjects><childXmlNames>CustomField</childXmlNames><directoryName>objects</directoryName><inFolder>false</inFolder><metaFile>false</metaFile><suffix>object</suffix><xmlName>CustomObject</xmlName></metadataObjects><organizationNamespace></organizationNamespace><partialSaveAllowed>true</partialSaveAllowed><testRequired>false</testRequired></result></describeMetadataResponse>`)
		case strings.Contains(s, "<n:listMetadata>"):
			env(`<listMetadataResponse><result><fileName>classes/Foo.cls</fileName><fullName>Foo</fullName><type>ApexClass</type></result></listMetadataResponse>`)
		case strings.Contains(s, "<n:retrieve>"):
			if !strings.Contains(s, "<n:members>*</n:members><n:name>ApexClass</n:name>") {
				t.Errorf("retrieve body %s", s)
			}
			env(`<retrieveResponse><result><done>false</done><id>09S5e00000ABCDEFGH</id><state>Queued</state></result></retrieveResponse>`)
		case strings.Contains(s, "<n:checkRetrieveStatus>"):
			checks++
			if checks < 3 {
				env(`<checkRetrieveStatusResponse><result><done>false</done><id>09S5e00000ABCDEFGH</id><status>InProgress</status></result></checkRetrieveStatusResponse>`)
				return
			}
			zipPart := ""
			if strings.Contains(s, "<n:includeZip>true") {
				zipPart = "<zipFile>" + base64.StdEncoding.EncodeToString(zipBuf.Bytes()) + "</zipFile>"
			}
			env(`<checkRetrieveStatusResponse><result><done>true</done><fileProperties><fileName>classes/Foo.cls</fileName><fullName>Foo</fullName><type>ApexClass</type></fileProperties><id>09S5e00000ABCDEFGH</id><status>Succeeded</status><success>true</success>` + zipPart + `</result></checkRetrieveStatusResponse>`)
		default:
			t.Errorf("unexpected %s", s)
		}
	}), func(c *sfapi.Config) { c.Auth = src })
	src.instance = env.srv.URL
	ctx := context.Background()
	res, err := env.c.Undelete(ctx, []string{"001D000000IqhSLIAZ", "001D000000IRFmaIAH"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Success || sfapi.ErrorCode(res[1].Err()) != "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" || src.Calls() != 2 {
		t.Fatalf("undelete %+v (token fetches %d)", res, src.Calls())
	}
	dm, err := env.c.DescribeMetadata(ctx)
	if err != nil || len(dm.MetadataObjects) != 1 || dm.MetadataObjects[0].Name != "CustomObject" || !dm.PartialSaveAllowed {
		t.Fatalf("describeMetadata %+v %v", dm, err)
	}
	lm, err := env.c.ListMetadata(ctx, []sfapi.ListMetadataQuery{{Type: "ApexClass"}})
	if err != nil || len(lm) != 1 || lm[0].FullName != "Foo" {
		t.Fatalf("listMetadata %+v %v", lm, err)
	}
	rr, err := env.c.RetrieveZip(ctx, sfapi.RetrieveRequest{SinglePackage: true, Types: []sfapi.PackageTypeMembers{{Name: "ApexClass", Members: []string{"*"}}}}, sfapi.PollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(rr.ZipFile), int64(len(rr.ZipFile)))
	if err != nil || zr.File[0].Name != "package.xml" || len(rr.FileProperties) != 1 {
		t.Fatalf("zip %v %v", zr, err)
	}
}

func TestOAuthFlows(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var lastForm map[string][]string
	var basic string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/oauth2/token" {
			t.Errorf("path %s", r.URL.Path)
		}
		r.ParseForm()
		lastForm = r.PostForm
		basic = r.Header.Get("Authorization")
		switch r.PostForm.Get("grant_type") {
		case "password":
			if r.PostForm.Get("password") != "pw+tok" {
				writeJSON(w, 400, `{"error":"invalid_grant","error_description":"authentication failure"}`)
				return
			}
		case "refresh_token":
			if r.PostForm.Get("refresh_token") == "expired" {
				writeJSON(w, 400, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`)
				return
			}
			writeJSON(w, 200, `{"access_token":"00D000000000001!fromrefresh","instance_url":"https://x.my.salesforce.com","refresh_token":"rotated","issued_at":"1278448832702","id":"https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA"}`)
			return
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			parts := strings.Split(r.PostForm.Get("assertion"), ".")
			h, _ := base64.RawURLEncoding.DecodeString(parts[0])
			c, _ := base64.RawURLEncoding.DecodeString(parts[1])
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			if string(h) != `{"alg":"RS256"}` || rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
				t.Errorf("bad JWT header %s or signature", h)
			}
			var claims map[string]any
			json.Unmarshal(c, &claims)
			if claims["iss"] != "CK" || claims["sub"] != "u@x.com" || claims["aud"] != "https://test.salesforce.com" || claims["exp"].(float64) != 1772366580 {
				t.Errorf("claims %v", claims)
			}
		case "client_credentials":
		default:
			writeJSON(w, 400, `{"error":"unsupported_grant_type","error_description":"grant type not supported"}`)
			return
		}
		writeJSON(w, 200, `{"access_token":"00D000000000001!ok","instance_url":"https://x.my.salesforce.com","token_type":"Bearer","issued_at":"1278448832702"}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	o := sfapi.OAuth{LoginURL: srv.URL, ClientID: "CK", ClientSecret: "CS3cret"}

	tok, err := (&sfapi.PasswordFlow{OAuth: o, Username: "u@x.com", Password: "pw+tok"}).Token(ctx)
	if err != nil || tok.AccessToken != "00D000000000001!ok" || tok.IssuedAt.Year() != 2010 {
		t.Fatalf("password: %v %v", tok, err)
	}
	_, err = (&sfapi.PasswordFlow{OAuth: o, Username: "u@x.com", Password: "wrongSECRETpw"}).Token(ctx)
	if sfapi.ErrorCode(err) != "invalid_grant" || strings.Contains(err.Error(), "wrongSECRETpw") {
		t.Fatalf("bad password: %v", err)
	}

	var rotated string
	rf := &sfapi.RefreshTokenFlow{OAuth: o, RefreshToken: "r1", OnRotate: func(s string) { rotated = s }}
	tok, err = rf.Token(ctx)
	if err != nil || rotated != "rotated" || rf.RefreshToken != "rotated" || tok.OrgID() != "00D000000000001EAA" || tok.UserID() != "005000000000001AAA" {
		t.Fatalf("refresh: %v %v %q", tok, err, rotated)
	}
	if _, err := (&sfapi.RefreshTokenFlow{OAuth: o, RefreshToken: "expired"}).Token(ctx); sfapi.ErrorCode(err) != "invalid_grant" {
		t.Fatalf("expired refresh: %v", err)
	}

	jf := &sfapi.JWTFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: "CK"}, Username: "u@x.com", Key: key,
		Audience: "https://test.salesforce.com", Now: func() time.Time { return time.Unix(1772366400, 0) }}
	if _, err := jf.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if lastForm["client_secret"] != nil {
		t.Fatal("JWT flow must not send a secret")
	}

	cc := &sfapi.ClientCredentialsFlow{OAuth: o, BasicAuth: true}
	if _, err := cc.Token(ctx); err != nil || !strings.HasPrefix(basic, "Basic ") || lastForm["client_secret"] != nil {
		t.Fatalf("client credentials: %v basic %q form %v", err, basic, lastForm)
	}
	if _, err := (&sfapi.ClientCredentialsFlow{OAuth: sfapi.OAuth{LoginURL: "https://login.salesforce.com"}}).Token(ctx); err == nil || !strings.Contains(err.Error(), "My Domain") {
		t.Fatalf("client credentials on login host: %v", err)
	}

	// Secrets never print.
	for _, v := range []any{o, cc, rf, *tok} {
		if s := fmt.Sprint(v) + fmt.Sprintf("%+v %#v", v, v); strings.Contains(s, "CS3cret") || strings.Contains(s, "00D000000000001!") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestParseKeys(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	p1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, p := range [][]byte{p1, append([]byte("junk\n"), p8...)} {
		k, err := sfapi.ParseRSAPrivateKey(p)
		if err != nil || !k.Equal(key) {
			t.Fatalf("parse: %v", err)
		}
	}
	if _, err := sfapi.ParseRSAPrivateKey([]byte("nope")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestSFCLI(t *testing.T) {
	var gotArgs []string
	ok := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		gotArgs = append([]string{name}, args...)
		return []byte(`{"status":0,"result":{"id":"00D000000000001EAA","accessToken":"00D000000000001!cli","instanceUrl":"https://x.my.salesforce.com","username":"u@x.com"},"warnings":[]}`), nil
	}
	tok, err := (&sfapi.SFCLI{TargetOrg: "prod", Run: ok}).Token(context.Background())
	if err != nil || tok.AccessToken != "00D000000000001!cli" || tok.InstanceURL != "https://x.my.salesforce.com" {
		t.Fatalf("%v %v", tok, err)
	}
	if strings.Join(gotArgs, " ") != "sf org display --json --target-org prod" {
		t.Fatalf("args %v", gotArgs)
	}
	bad := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return []byte(`{"status":1,"name":"NamedOrgNotFoundError","message":"No authorization information found for prod."}`), errors.New("exit status 1")
	}
	if _, err := (&sfapi.SFCLI{TargetOrg: "prod", Run: bad}).Token(context.Background()); err == nil || !strings.Contains(err.Error(), "sf org login") {
		t.Fatalf("err %v", err)
	}
}

func TestSOAPLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/services/Soap/u/62.0" || r.Header.Get("SOAPAction") != "login" {
			t.Errorf("%s %q", r.URL.Path, r.Header.Get("SOAPAction"))
		}
		if !strings.Contains(string(b), "<urn:password>p&amp;wTOKEN</urn:password>") {
			w.WriteHeader(500)
			io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
			return
		}
		io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result><serverUrl>https://x.my.salesforce.com/services/Soap/u/62.0/00D000000000001</serverUrl><sessionId>00D000000000001!soap</sessionId><userId>005000000000001AAA</userId><userInfo><organizationId>00D000000000001EAA</organizationId></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>`)
	}))
	defer srv.Close()
	tok, err := (&sfapi.SOAPLogin{LoginURL: srv.URL, Username: "u", Password: "p&wTOKEN"}).Token(context.Background())
	if err != nil || tok.AccessToken != "00D000000000001!soap" || tok.InstanceURL != "https://x.my.salesforce.com" || tok.OrgID() != "00D000000000001EAA" {
		t.Fatalf("%v %v", tok, err)
	}
	_, err = (&sfapi.SOAPLogin{LoginURL: srv.URL, Username: "u", Password: "wrong"}).Token(context.Background())
	if sfapi.ErrorCode(err) != "INVALID_LOGIN" {
		t.Fatalf("err %v", err)
	}
}
