package restore

import (
	"bytes"
	"io"
	"math/rand"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// TestFilesRestored: a ContentVersion, two Attachments and a Document,
// hard-deleted with the Account one Attachment and the ContentVersion
// belong to, come back with bodies equal byte for byte to what was
// uploaded, and with their parent links on the right records: the
// re-inserted Account (new Id), the live Account, the folder.
func TestFilesRestored(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 9, Records: 1200})
	org, c := e.srv.Org, e.client
	rng := rand.New(rand.NewSource(1))
	body := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	acct, err := org.Insert("Account", map[string]any{"Name": "Files Parent"})
	if err != nil {
		t.Fatal(err)
	}
	live, err := org.Insert("Account", map[string]any{"Name": "Stays"})
	if err != nil {
		t.Fatal(err)
	}
	acct, live = to18(t, acct), to18(t, live)
	type file struct {
		object, field, parentField, parent string
		fields                             sfapi.Fields
		body                               []byte
		id                                 string
	}
	files := []*file{
		{object: "ContentVersion", field: "VersionData", parentField: "FirstPublishLocationId", parent: acct,
			fields: sfapi.Fields{"Title": "Q3 report", "PathOnClient": "q3-report.pdf"}, body: body(70_000)},
		{object: "Attachment", field: "Body", parentField: "ParentId", parent: acct,
			fields: sfapi.Fields{"Name": "notes.bin"}, body: body(5_000)},
		{object: "Attachment", field: "Body", parentField: "ParentId", parent: live,
			fields: sfapi.Fields{"Name": "kept-parent.bin"}, body: append(body(3_000), 0, '\r', '\n')},
		{object: "Document", field: "Body", parentField: "FolderId", parent: org.AdminUserID(),
			fields: sfapi.Fields{"Name": "logo", "DeveloperName": "Logo_Restore", "Type": "png"}, body: body(20_000)},
	}
	for _, f := range files {
		f.fields[f.parentField] = f.parent
		id, err := c.UploadBlob(bg, f.object, f.fields, f.field, "upload", bytes.NewReader(f.body))
		if err != nil {
			t.Fatalf("upload %s: %v", f.object, err)
		}
		f.id = to18(t, id)
	}
	s := e.snapshot()
	var targets []Target
	for _, f := range files {
		if err := org.Purge(f.id); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, Target{Object: f.object, IDs: []string{f.id}})
	}
	if err := org.Purge(acct); err != nil {
		t.Fatal(err)
	}
	rep, err := e.restore(Options{Snapshot: s, Targets: targets})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	ids := resultMap(rep)
	newAcct := ids[acct]
	if newAcct == "" || newAcct == acct {
		t.Fatalf("the purged Account was not inserted as the files' parent: %v", ids)
	}
	for _, f := range files {
		nid := ids[f.id]
		if nid == "" {
			t.Errorf("%s %s not restored", f.object, f.id)
			continue
		}
		got, ok := org.Get(nid)
		if !ok || got.Deleted {
			t.Errorf("%s %s: no live record %s", f.object, f.id, nid)
			continue
		}
		wantParent := f.parent
		if wantParent == acct {
			wantParent = newAcct
		}
		if p, _ := got.Fields[f.parentField].(string); p != wantParent {
			t.Errorf("%s %s: %s = %s, want %s", f.object, nid, f.parentField, p, wantParent)
		}
		rd, err := c.DownloadBlob(bg, f.object, nid, f.field)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rd)
		rd.Close()
		if err != nil || !bytes.Equal(b, f.body) {
			t.Errorf("%s %s: body of %d bytes (%v), uploaded %d", f.object, nid, len(b), err, len(f.body))
		}
	}
	// The new ContentVersion's document is linked to the new Account.
	cv, _ := org.Get(ids[files[0].id])
	doc, _ := cv.Fields["ContentDocumentId"].(string)
	linked := records(t, org, "ContentDocumentLink", func(r sftest.Record) bool {
		return r.Fields["ContentDocumentId"] == doc && r.Fields["LinkedEntityId"] == newAcct
	})
	if doc == "" || len(linked) != 1 {
		t.Errorf("document %q of the restored version: %d links to the new Account", doc, len(linked))
	}
}

func to18(t *testing.T, id string) string {
	t.Helper()
	id18, err := sfapi.To18(id)
	if err != nil {
		t.Fatal(err)
	}
	return id18
}
