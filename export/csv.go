// Package export writes records of a snapshot out of the repository: as
// CSV that Salesforce Data Loader (and Bulk API ingest, and spreadsheets)
// read, or as the sObject Tree JSON that `sf data import tree` imports,
// with file bodies (ContentVersion, Attachment, Document) as files.
//
// Everything streams: records go from the record tree to the writer one at
// a time, so an object of any size is exported in constant memory (the
// tree format keeps the Ids of exported parents, to express references).
package export

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/orgsnap/orgsnap/repo/record"
)

// CSV is Data Loader's format: a header of field names (Id first), one row
// per record, a null as an empty field, RFC 4180 quoting (a field holding
// a comma, quote, CR or LF, or starting or ending with a space or tab, is
// quoted, quotes doubled), UTF-8 without a byte-order mark, CRLF line ends
// as RFC 4180 writes them. Values are the canonical text the snapshot holds
// (dates YYYY-MM-DD, datetimes YYYY-MM-DDTHH:MM:SS.sssZ, booleans
// true/false, numbers as plain decimals), which Data Loader reads as is.
//
// Rows are formatted straight into one buffer, handed to the writer in
// pieces of csvChunk bytes: no per-row copy and no per-record allocation.
type CSV struct {
	w      io.Writer
	fields []string
	sorted bool // fields are in record order (bytewise sorted): walk, not search
	extra  int
	buf    []byte // formatted rows not yet written
	err    error  // the first write error; later writes are refused
}

// csvChunk is how much formatted CSV is collected before a write: large
// enough that system calls cost nothing next to formatting.
const csvChunk = 256 << 10

// NewCSV writes the header: Id, the fields, then extra column names (such
// as a file body's path column). Rows are written with Write; Flush writes
// out what is buffered.
func NewCSV(w io.Writer, fields []string, extra ...string) (*CSV, error) {
	c := &CSV{w: w, fields: fields, extra: len(extra), sorted: true, buf: make([]byte, 0, csvChunk+csvChunk/4)}
	for i := 1; i < len(fields); i++ {
		if fields[i-1] >= fields[i] {
			c.sorted = false
		}
	}
	c.buf = appendField(c.buf, "Id")
	for _, f := range fields {
		c.buf = append(c.buf, ',')
		c.buf = appendField(c.buf, f)
	}
	for _, f := range extra {
		c.buf = append(c.buf, ',')
		c.buf = appendField(c.buf, f)
	}
	c.buf = append(c.buf, '\r', '\n')
	return c, c.writeIfFull()
}

// Write writes one record's row: its Id, the header's fields (empty where
// the record is null or lacks the field), then the extra values.
func (c *CSV) Write(id string, rec record.Record, extra ...string) error {
	if len(extra) != c.extra {
		return fmt.Errorf("export: CSV row with %d extra values, header has %d", len(extra), c.extra)
	}
	if c.err != nil {
		return c.err
	}
	b := appendField(c.buf, id)
	if c.sorted && sameNames(rec, c.fields) {
		// The common case: the record holds exactly the header's fields
		// (a repository's records share their names with FieldNames', so
		// the comparison stops at the pointers).
		for _, f := range rec {
			b = append(b, ',')
			if f.Kind != record.Null {
				b = appendField(b, f.Value)
			}
		}
	} else {
		j := 0
		for _, name := range c.fields {
			b = append(b, ',')
			var f record.Field
			var ok bool
			if c.sorted {
				for j < len(rec) && rec[j].Name < name {
					j++
				}
				if ok = j < len(rec) && rec[j].Name == name; ok {
					f = rec[j]
				}
			} else {
				f, ok = rec.Get(name)
			}
			if ok && f.Kind != record.Null {
				b = appendField(b, f.Value)
			}
		}
	}
	for _, v := range extra {
		b = append(b, ',')
		b = appendField(b, v)
	}
	c.buf = append(b, '\r', '\n')
	return c.writeIfFull()
}

// sameNames reports whether rec's fields are names, in order.
func sameNames(rec record.Record, names []string) bool {
	if len(rec) != len(names) {
		return false
	}
	for i, f := range rec {
		if f.Name != names[i] {
			return false
		}
	}
	return true
}

func (c *CSV) writeIfFull() error {
	if len(c.buf) < csvChunk {
		return nil
	}
	return c.Flush()
}

// Flush writes out what is buffered.
func (c *CSV) Flush() error {
	if c.err != nil {
		return c.err
	}
	if len(c.buf) > 0 {
		_, c.err = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
	return c.err
}

// csvSpecial marks the bytes that make a field need quotes anywhere in it.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	return false
}

func appendField(b []byte, s string) []byte {
	if !needsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// backgroundWriter writes to w on a goroutine of its own, so that the
// system calls of a large export overlap reading and formatting the next
// records. Write copies p (callers reuse their buffers) into one of two
// buffers in turn; Close waits for the last write and reports the first
// error, which later Writes also return.
type backgroundWriter struct {
	w     io.Writer
	todo  chan []byte
	free  chan []byte
	done  chan struct{}
	errMu sync.Mutex
	err   error
}

func newBackgroundWriter(w io.Writer) *backgroundWriter {
	bw := &backgroundWriter{w: w, todo: make(chan []byte, 1), free: make(chan []byte, 2), done: make(chan struct{})}
	bw.free <- nil
	bw.free <- nil
	go func() {
		defer close(bw.done)
		for b := range bw.todo {
			if bw.firstErr() == nil {
				if _, err := bw.w.Write(b); err != nil {
					bw.errMu.Lock()
					bw.err = err
					bw.errMu.Unlock()
				}
			}
			bw.free <- b[:0]
		}
	}()
	return bw
}

func (bw *backgroundWriter) firstErr() error {
	bw.errMu.Lock()
	defer bw.errMu.Unlock()
	return bw.err
}

func (bw *backgroundWriter) Write(p []byte) (int, error) {
	if err := bw.firstErr(); err != nil {
		return 0, err
	}
	b := append(<-bw.free, p...)
	bw.todo <- b
	return len(p), nil
}

// Close waits until everything handed over is written; it does not close
// w. It must be called once, after the last Write.
func (bw *backgroundWriter) Close() error {
	close(bw.todo)
	<-bw.done
	return bw.firstErr()
}

// ErrCSV reports malformed CSV.
var ErrCSV = errors.New("malformed CSV")

// ReadCSV reads RFC 4180 CSV strictly, calling fn with each row (the
// header first). Unlike encoding/csv it keeps a quoted field's bytes
// exactly, CR LF included, so what Write wrote reads back unchanged. The
// row passed to fn is reused: copy what you keep.
func ReadCSV(r io.Reader, fn func(row []string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var row []string
	var field []byte
	line := 1
	for {
		row = row[:0]
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		br.UnreadByte()
		for { // fields of one row
			field = field[:0]
			c, err = br.ReadByte()
			if err == nil && c == '"' {
				for {
					c, err = br.ReadByte()
					if err != nil {
						return fmt.Errorf("%w: line %d: quoted field not closed", ErrCSV, line)
					}
					if c == '\n' {
						line++
					}
					if c == '"' {
						if c2, err2 := br.ReadByte(); err2 == nil && c2 == '"' {
							field = append(field, '"')
							continue
						} else if err2 == nil {
							br.UnreadByte()
						}
						break
					}
					field = append(field, c)
				}
				c, err = br.ReadByte()
			} else {
				for err == nil && c != ',' && c != '\r' && c != '\n' {
					if c == '"' {
						return fmt.Errorf("%w: line %d: a quote inside an unquoted field", ErrCSV, line)
					}
					field = append(field, c)
					c, err = br.ReadByte()
				}
			}
			row = append(row, string(field))
			if err == io.EOF {
				return fn(row)
			}
			if err != nil {
				return err
			}
			if c == ',' {
				continue
			}
			if c == '\r' {
				if c, err = br.ReadByte(); err != nil || c != '\n' {
					return fmt.Errorf("%w: line %d: CR not followed by LF", ErrCSV, line)
				}
			}
			if c != '\n' {
				return fmt.Errorf("%w: line %d: unexpected %q after a quoted field", ErrCSV, line, c)
			}
			line++
			break
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}
