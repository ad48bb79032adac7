package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/orgsnap/orgsnap/chunker"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// A file (a ContentVersion, Attachment or Document body) is stored as
// content-defined chunks plus a file index blob listing them:
//
//	version=2 (1) | uvarint len(source) | source | uvarint size | uvarint nchunks |
//	nchunks × (chunk id (32) | uvarint length)
//
// (version 1 has no source).
//
// The file index blob carries, as its pack-trailer alias, the keyed hash of
// the Salesforce checksum, so a file already held is found without
// downloading it again (FileByChecksum), even after the index is rebuilt.
// An object's files tree maps record Id → file index blob id.

// FileInfo describes a stored file.
type FileInfo struct {
	ID     crypto.ID // the file index blob
	Size   int64
	Source string // the source's key for the body (SaveFile's checksum), "" if none
	Chunks []FileChunk
}

// FileChunk is one piece of a file.
type FileChunk struct {
	ID     crypto.ID
	Length uint32
}

// encodeFileIndex writes version 2: version 1 plus the source's key, so
// that two records with the same body but different keys (two attachments
// of one file) get an index blob each, each carrying its own alias.
func encodeFileIndex(fi *FileInfo) []byte {
	b := []byte{2}
	b = binary.AppendUvarint(b, uint64(len(fi.Source)))
	b = append(b, fi.Source...)
	b = binary.AppendUvarint(b, uint64(fi.Size))
	b = binary.AppendUvarint(b, uint64(len(fi.Chunks)))
	for _, c := range fi.Chunks {
		b = append(b, c.ID[:]...)
		b = binary.AppendUvarint(b, uint64(c.Length))
	}
	return b
}

func decodeFileIndex(id crypto.ID, b []byte) (*FileInfo, error) {
	bad := fmt.Errorf("file %s: %w: bad file index", id.Short(), pack.ErrCorrupt)
	if len(b) < 1 || (b[0] != 1 && b[0] != 2) {
		return nil, bad
	}
	version := b[0]
	b = b[1:]
	var source string
	if version == 2 {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, bad
		}
		source, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	size, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, bad
	}
	b = b[n:]
	nc, n := binary.Uvarint(b)
	if n <= 0 || nc > uint64(len(b)) {
		return nil, bad
	}
	b = b[n:]
	fi := &FileInfo{ID: id, Size: int64(size), Source: source}
	var total uint64
	for i := uint64(0); i < nc; i++ {
		if len(b) < 33 {
			return nil, bad
		}
		var c FileChunk
		copy(c.ID[:], b)
		l, n := binary.Uvarint(b[32:])
		if n <= 0 {
			return nil, bad
		}
		c.Length, b = uint32(l), b[32+n:]
		total += l
		fi.Chunks = append(fi.Chunks, c)
	}
	if total != size || len(b) != 0 {
		return nil, bad
	}
	return fi, nil
}

const checksumNamespace = "sf-file-checksum"

// FileByChecksum finds a stored file by the checksum Salesforce reports for
// it (ContentVersion.Checksum, the MD5 of the body).
func (r *Repository) FileByChecksum(checksum string) (crypto.ID, bool, error) {
	if err := r.writable(); err != nil {
		return crypto.ID{}, false, err
	}
	id, ok, err := r.idx.ResolveAlias(r.key.Alias(checksumNamespace, []byte(checksum)))
	if err != nil || !ok {
		return id, ok, err
	}
	// An alias whose blob prune erased must not bring the file back.
	has, err := r.HasBlob(id)
	return id, has, err
}

// SaveFile chunks rd into the repository and returns the file index blob
// id. checksum (optional) is the source's checksum, recorded for
// FileByChecksum.
func (r *Repository) SaveFile(ctx context.Context, group string, rd io.Reader, checksum string) (crypto.ID, int64, error) {
	ch, err := chunker.New(rd, chunker.Key(r.key.ChunkKey), r.chunkP)
	if err != nil {
		return crypto.ID{}, 0, err
	}
	fi := &FileInfo{Source: checksum}
	buf := make([]byte, r.chunkP.Max)
	for {
		c, err := ch.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return crypto.ID{}, 0, fmt.Errorf("read file: %w", err)
		}
		id, _, err := r.SaveBlob(ctx, pack.TypeFileChunk, group, c.Data, nil)
		if err != nil {
			return crypto.ID{}, 0, err
		}
		fi.Chunks = append(fi.Chunks, FileChunk{ID: id, Length: uint32(len(c.Data))})
		fi.Size += int64(len(c.Data))
	}
	var alias *crypto.ID
	if checksum != "" {
		a := r.key.Alias(checksumNamespace, []byte(checksum))
		alias = &a
	}
	id, _, err := r.SaveBlob(ctx, pack.TypeFileIndex, group, encodeFileIndex(fi), alias)
	return id, fi.Size, err
}

// PutFile stores a file body for a record.
func (w *Writer) PutFile(ctx context.Context, object, id string, rd io.Reader, checksum string) (crypto.ID, error) {
	fid, _, err := w.r.SaveFile(ctx, w.group(), rd, checksum)
	if err != nil {
		return fid, w.fail(err)
	}
	return fid, w.LinkFile(ctx, object, id, fid)
}

// LinkFile attaches an already stored file (see FileByChecksum) to a record.
func (w *Writer) LinkFile(ctx context.Context, object, id string, file crypto.ID) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	if err := checkRecordKey(id); err != nil {
		return err
	}
	w.fileEditor(ow).Put([]byte(id), file[:])
	return w.check(ow.files)
}

// DeleteFile detaches a record's file.
func (w *Writer) DeleteFile(ctx context.Context, object, id string) error {
	ow, err := w.object(ctx, object)
	if err != nil {
		return err
	}
	w.fileEditor(ow).Delete([]byte(id))
	return w.check(ow.files)
}

func (w *Writer) fileEditor(ow *objWriter) *tree.Editor {
	if ow.files == nil {
		ow.files = tree.NewEditor(nodeStore{r: w.r, group: w.group()}, ow.parent.Files, w.r.treeCfg)
	}
	return ow.files
}

// LoadFileInfo reads a file index blob.
func (r *Repository) LoadFileInfo(ctx context.Context, id crypto.ID) (*FileInfo, error) {
	b, err := r.LoadBlob(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeFileIndex(id, b)
}

// OpenFile streams a stored file's body.
func (r *Repository) OpenFile(ctx context.Context, id crypto.ID) (io.Reader, *FileInfo, error) {
	fi, err := r.LoadFileInfo(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return &fileReader{ctx: ctx, r: r, chunks: fi.Chunks}, fi, nil
}

type fileReader struct {
	ctx    context.Context
	r      *Repository
	chunks []FileChunk
	cur    *bytes.Reader
}

func (f *fileReader) Read(p []byte) (int, error) {
	for f.cur == nil || f.cur.Len() == 0 {
		if len(f.chunks) == 0 {
			return 0, io.EOF
		}
		b, err := f.r.LoadBlob(f.ctx, f.chunks[0].ID)
		if err != nil {
			return 0, err
		}
		f.cur, f.chunks = bytes.NewReader(b), f.chunks[1:]
	}
	return f.cur.Read(p)
}
