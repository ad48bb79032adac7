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

	"github.com/orgsnap/orgsnap/repo/record"
)

// CSV is Data Loader's format: a header of field names (Id first), one row
// per record, a null as an empty field, RFC 4180 quoting (a field holding
// a comma, quote, CR or LF, or starting or ending with a space or tab, is
// quoted, quotes doubled), UTF-8 without a byte-order mark, CRLF line ends
// as RFC 4180 writes them. Values are the canonical text the snapshot holds
// (dates YYYY-MM-DD, datetimes YYYY-MM-DDTHH:MM:SS.sssZ, booleans
// true/false, numbers as plain decimals), which Data Loader reads as is.
type CSV struct {
	w      *bufio.Writer
	fields []string
	sorted bool // fields are in record order (bytewise sorted): walk, not search
	extra  int
	buf    []byte
}

// NewCSV writes the header: Id, the fields, then extra column names (such
// as a file body's path column). Rows are written with Write.
func NewCSV(w io.Writer, fields []string, extra ...string) (*CSV, error) {
	c := &CSV{w: bufio.NewWriterSize(w, 64<<10), fields: fields, extra: len(extra), sorted: true}
	for i := 1; i < len(fields); i++ {
		if fields[i-1] >= fields[i] {
			c.sorted = false
		}
	}
	c.buf = appendField(c.buf[:0], "Id")
	for _, f := range fields {
		c.buf = append(c.buf, ',')
		c.buf = appendField(c.buf, f)
	}
	for _, f := range extra {
		c.buf = append(c.buf, ',')
		c.buf = appendField(c.buf, f)
	}
	c.buf = append(c.buf, '\r', '\n')
	_, err := c.w.Write(c.buf)
	return c, err
}

// Write writes one record's row: its Id, the header's fields (empty where
// the record is null or lacks the field), then the extra values.
func (c *CSV) Write(id string, rec record.Record, extra ...string) error {
	if len(extra) != c.extra {
		return fmt.Errorf("export: CSV row with %d extra values, header has %d", len(extra), c.extra)
	}
	b := appendField(c.buf[:0], id)
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
	for _, v := range extra {
		b = append(b, ',')
		b = appendField(b, v)
	}
	b = append(b, '\r', '\n')
	c.buf = b
	_, err := c.w.Write(b)
	return err
}

// Flush writes out what is buffered.
func (c *CSV) Flush() error { return c.w.Flush() }

func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
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
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
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
