package restore

import (
	"bytes"
	"fmt"
	"io"

	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// fileObjects maps the objects whose records carry a body to the body
// field.
var fileObjects = map[string]string{"ContentVersion": "VersionData", "Attachment": "Body", "Document": "Body"}

func isFileObject(name string) bool { _, ok := fileObjects[name]; return ok }

// insertFiles inserts records with a body through the blob upload
// (multipart, one record a request), each journaled like any insert. The
// parent link comes with the record: Attachment.ParentId, and
// ContentVersion.FirstPublishLocationId (which makes Salesforce link the
// new document to that record), both re-pointed through the Id map. A
// ContentVersion is inserted without ContentDocumentId: it starts a new
// document (the old one is gone with its versions).
func (e *engine) insertFiles(os *objSet, chs []*change) error {
	op := e.oplan(os.name)
	blobField := fileObjects[os.name]
	for i := 0; i < len(chs); i++ { // chs grows by the records retried with the fallback owner
		ch := chs[i]
		if os.name == "ContentVersion" {
			ch.sent = without(ch.sent, "ContentDocumentId")
			ch.fields = names(ch.sent)
		}
		fid, ok, err := e.r.File(e.ctx, e.opts.Snapshot, os.name, ch.it.old)
		if err != nil {
			return err
		}
		if !ok {
			e.failed[ch.it.old] = "NO_FILE_BODY"
			e.result(Result{Object: os.name, OldID: ch.it.old, Action: "insert", Status: "failed", Error: "NO_FILE_BODY",
				Message: "the snapshot holds no body for this file (taken with --no-files or above --max-file-size)"})
			continue
		}
		rd, info, err := e.r.OpenFile(e.ctx, fid)
		if err != nil {
			return fmt.Errorf("%s %s: reading its file: %w", os.name, ch.it.old, err)
		}
		body, err := io.ReadAll(rd)
		if err != nil {
			return fmt.Errorf("%s %s: reading its file: %w", os.name, ch.it.old, err)
		}
		_ = info
		if err := e.brake(); err != nil {
			return err
		}
		b := e.j.next(os.name, e.opts.Now())
		b.Fields, b.Old, b.Keys = ch.fields, []string{ch.it.old}, []string{rowKey(ch.sent)}
		if err := e.j.save(e.ctx, b); err != nil {
			return err
		}
		name := fileName(os.name, ch.sent)
		id, err := e.org.UploadBlob(e.ctx, os.name, apiFields(ch.sent), blobField, name, bytes.NewReader(body))
		b.New = []string{id}
		b.Done = true
		if err != nil {
			var ae *sfapi.APIError
			if !asAPIError(err, &ae) || ae.StatusCode >= 500 {
				return fmt.Errorf("upload %s %s: %w", os.name, ch.it.old, err)
			}
			if err := e.j.save(e.ctx, b); err != nil {
				return err
			}
			if e.toFallbackOwner(os, ch, ae.ErrorCode) {
				chs = append(chs, ch)
				continue
			}
			e.failed[ch.it.old] = ae.ErrorCode
			e.result(Result{Object: os.name, OldID: ch.it.old, Action: "insert", Status: "failed", Error: ae.ErrorCode, Message: ae.Message})
			continue
		}
		if err := e.j.save(e.ctx, b); err != nil {
			return err
		}
		e.idmap[ch.it.old] = id
		op.Insert++
		op.Files++
		e.result(Result{Object: os.name, OldID: ch.it.old, NewID: id, Action: "insert", Status: "ok"})
		if len(ch.deferred) > 0 {
			e.deferred[os.name] = append(e.deferred[os.name], &deferral{it: ch.it, fields: ch.deferred})
		}
	}
	return nil
}

func fileName(object string, rec record.Record) string {
	for _, n := range []string{"PathOnClient", "Name", "Title"} {
		if f, ok := rec.Get(n); ok && f.Kind == record.String {
			return f.Value
		}
	}
	return object
}

func without(rec record.Record, name string) record.Record {
	out := rec[:0:0]
	for _, f := range rec {
		if f.Name != name {
			out = append(out, f)
		}
	}
	return out
}

func names(rec record.Record) []string {
	out := make([]string, len(rec))
	for i, f := range rec {
		out[i] = f.Name
	}
	return out
}
