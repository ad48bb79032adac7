package sfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// BlobReader streams a file body (ContentVersion.VersionData,
// Attachment.Body, Document.Body). If the connection breaks mid-file it
// asks for the rest with a Range request (guarded by If-Range on the
// ETag); a server that ignores Range sends the whole file again and the
// bytes already delivered are skipped. Either way the caller sees one
// uninterrupted stream, or an error.
type BlobReader struct {
	c    *Client
	ctx  context.Context
	path string

	body    io.ReadCloser
	off     int64
	size    int64 // -1 unknown
	etag    string
	ctype   string
	resumes int
	closed  bool
}

// DownloadBlob opens object/id/field for streaming. An open reader holds
// one of the Files family's concurrency slots until Close, so the number of
// files downloading at once is bounded by Concurrency.Files: close readers
// promptly, and do not open more at once than that limit from one goroutine.
func (c *Client) DownloadBlob(ctx context.Context, object, id, field string) (*BlobReader, error) {
	if err := checkName(object); err != nil {
		return nil, err
	}
	if err := checkName(field); err != nil {
		return nil, err
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return c.OpenBlobURL(ctx, c.dataPath("sobjects", object, id, field))
}

// OpenBlobURL opens a blob by the relative URL a REST query returns in the
// blob field ("/services/data/v62.0/sobjects/ContentVersion/068…/VersionData").
func (c *Client) OpenBlobURL(ctx context.Context, path string) (*BlobReader, error) {
	if !strings.HasPrefix(path, "/services/data/") {
		return nil, fmt.Errorf("sfapi: %q is not a blob URL of this instance", path)
	}
	b := &BlobReader{c: c, ctx: ctx, path: path, size: -1}
	if err := b.open(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *BlobReader) open() error {
	var h http.Header
	if b.off > 0 {
		h = http.Header{"Range": {fmt.Sprintf("bytes=%d-", b.off)}}
		if b.etag != "" {
			h.Set("If-Range", b.etag)
		}
	}
	resp, err := b.c.stream(b.ctx, &call{family: FamilyFiles, method: http.MethodGet, path: b.path, header: h,
		accept: "*/*", idempotent: true})
	if err != nil {
		return err
	}
	skip := int64(0)
	switch {
	case b.off == 0:
		b.etag = resp.Header.Get("ETag")
		b.ctype = resp.Header.Get("Content-Type")
		b.size = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != b.off {
			resp.Body.Close()
			return fmt.Errorf("resuming %s at byte %d: server sent range %q", pathOnly(b.path), b.off, resp.Header.Get("Content-Range"))
		}
	default:
		if b.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != b.size {
			resp.Body.Close()
			return fmt.Errorf("resuming %s: the file changed size (%d → %d bytes) while downloading", pathOnly(b.path), b.size, resp.ContentLength)
		}
		skip = b.off
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
			resp.Body.Close()
			return &transportError{op: "skipping to resume point", err: err, sent: true}
		}
	}
	b.body = resp.Body
	return nil
}

func contentRangeStart(v string) (int64, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "bytes ")
	a, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil
}

// Size returns the file size if the server announced it, else -1.
func (b *BlobReader) Size() int64 { return b.size }

// ContentType returns the MIME type Salesforce sent.
func (b *BlobReader) ContentType() string { return b.ctype }

// Resumes returns how many times the download was resumed.
func (b *BlobReader) Resumes() int { return b.resumes }

func (b *BlobReader) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("sfapi: read from closed blob")
	}
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == nil || err == io.EOF {
			if err == io.EOF && b.size >= 0 && b.off < b.size {
				err = io.ErrUnexpectedEOF
			} else {
				return n, err
			}
		}
		if b.ctx.Err() != nil {
			return n, ctxErr(b.ctx.Err())
		}
		if !IsTransient(err) || b.resumes >= b.c.retry.MaxAttempts {
			return n, fmt.Errorf("downloading %s at byte %d: %w", pathOnly(b.path), b.off, err)
		}
		b.body.Close()
		b.resumes++
		d := b.c.backoff(b.resumes)
		b.c.log.Warn("file download broke off, resuming", "path", pathOnly(b.path), "offset", b.off, "wait", d)
		if serr := b.c.clock.Sleep(b.ctx, d); serr != nil {
			return n, ctxErr(serr)
		}
		if oerr := b.open(); oerr != nil {
			b.body = io.NopCloser(strings.NewReader(""))
			return n, fmt.Errorf("resuming %s at byte %d: %w", pathOnly(b.path), b.off, oerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close releases the connection.
func (b *BlobReader) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.body.Close()
}

// UploadBlob inserts a ContentVersion, Attachment or Document with its
// body, as a multipart request: fields is the record (Title and
// PathOnClient for ContentVersion, ParentId and Name for Attachment, …),
// blobField the binary field (VersionData or Body). content is read from
// its start on each attempt. Returns the new record's Id.
func (c *Client) UploadBlob(ctx context.Context, object string, fields Fields, blobField, fileName string, content io.ReadSeeker) (string, error) {
	if err := checkName(object); err != nil {
		return "", err
	}
	if err := checkName(blobField); err != nil {
		return "", err
	}
	meta, err := json.Marshal(fields)
	if err != nil {
		return "", fmt.Errorf("encoding %s fields: %w", object, err)
	}
	boundary := multipart.NewWriter(io.Discard).Boundary()
	r := &call{family: FamilyFiles, method: http.MethodPost, path: c.dataPath("sobjects", object),
		contentType: "multipart/form-data; boundary=" + boundary}
	r.streamBody = func() (io.Reader, error) {
		if _, err := content.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewinding %s: %w", fileName, err)
		}
		pr, pw := io.Pipe()
		go func() {
			mw := multipart.NewWriter(pw)
			mw.SetBoundary(boundary)
			err := func() error {
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", `form-data; name="entity_content"`)
				h.Set("Content-Type", "application/json")
				part, err := mw.CreatePart(h)
				if err != nil {
					return err
				}
				if _, err := part.Write(meta); err != nil {
					return err
				}
				h = textproto.MIMEHeader{}
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, blobField, fileName))
				h.Set("Content-Type", "application/octet-stream")
				if part, err = mw.CreatePart(h); err != nil {
					return err
				}
				if _, err := io.Copy(part, content); err != nil {
					return err
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return "", fmt.Errorf("uploading %s %q: %w", object, fileName, err)
	}
	var sr SaveResult
	if err := decodeJSON(resp, r.path, &sr); err != nil {
		return "", err
	}
	if err := sr.Err(); err != nil {
		return "", err
	}
	return sr.ID, nil
}
