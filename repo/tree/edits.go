package tree

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// edit is one pending change. Its slices stay valid until the source that
// produced it advances.
type edit struct {
	key, val []byte
	del      bool
}

// editSource yields edits in strictly increasing key order (one per key).
type editSource interface {
	cur() (edit, bool) // the current edit; false at the end
	next() error
}

// bufEdit is a buffered edit: key and value live in the Editor's arena.
type bufEdit struct {
	koff, voff, seq uint32
	klen, vlen      uint16
	del             bool
}

// memRun is a sorted, deduplicated in-memory buffer.
type memRun struct {
	arena []byte
	ents  []bufEdit
	i     int
}

func (m *memRun) cur() (edit, bool) {
	if m.i >= len(m.ents) {
		return edit{}, false
	}
	e := &m.ents[m.i]
	return edit{
		key: m.arena[e.koff : e.koff+uint32(e.klen)],
		val: m.arena[e.voff : e.voff+uint32(e.vlen)],
		del: e.del,
	}, true
}

func (m *memRun) next() error { m.i++; return nil }

// sortDedupe sorts ents by key and keeps the latest edit of each key.
func sortDedupe(arena []byte, ents []bufEdit) []bufEdit {
	key := func(e *bufEdit) []byte { return arena[e.koff : e.koff+uint32(e.klen)] }
	slices.SortFunc(ents, func(a, b bufEdit) int {
		if c := bytes.Compare(key(&a), key(&b)); c != 0 {
			return c
		}
		return int(a.seq) - int(b.seq)
	})
	out := ents[:0]
	for i := range ents {
		if i+1 < len(ents) && bytes.Equal(key(&ents[i]), key(&ents[i+1])) {
			continue // a later edit of the same key follows
		}
		out = append(out, ents[i])
	}
	return out
}

// Spill files hold a sorted run of edits, one record per key:
//
//	op byte (0 put, 1 delete) | uvarint key length | key | put only: uvarint value length | value
//
// They are private to one Editor and removed when it commits or closes.
const (
	opPut = 0
	opDel = 1
)

// writeRun writes the edits of src to a new file at path.
func writeRun(path string, src editSource) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("tree: spill edits: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("tree: spill edits: %w", cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	var hdr []byte
	for {
		e, ok := src.cur()
		if !ok {
			break
		}
		hdr = hdr[:0]
		if e.del {
			hdr = append(hdr, opDel)
			hdr = binary.AppendUvarint(hdr, uint64(len(e.key)))
			hdr = append(hdr, e.key...)
		} else {
			hdr = append(hdr, opPut)
			hdr = binary.AppendUvarint(hdr, uint64(len(e.key)))
			hdr = append(hdr, e.key...)
			hdr = binary.AppendUvarint(hdr, uint64(len(e.val)))
			hdr = append(hdr, e.val...)
		}
		if _, err := w.Write(hdr); err != nil {
			return fmt.Errorf("tree: spill edits: %w", err)
		}
		if err := src.next(); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("tree: spill edits: %w", err)
	}
	return nil
}

// fileRun reads a spill file.
type fileRun struct {
	f        *os.File
	r        *bufio.Reader
	key, val []byte
	del, ok  bool
}

func openRun(path string) (*fileRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tree: read spilled edits: %w", err)
	}
	fr := &fileRun{f: f, r: bufio.NewReaderSize(f, 64<<10)}
	if err := fr.next(); err != nil {
		f.Close()
		return nil, err
	}
	return fr, nil
}

func (fr *fileRun) cur() (edit, bool) { return edit{key: fr.key, val: fr.val, del: fr.del}, fr.ok }

func (fr *fileRun) next() error {
	op, err := fr.r.ReadByte()
	if err == io.EOF {
		fr.ok = false
		return nil
	}
	bad := func(err error) error {
		return fmt.Errorf("tree: read spilled edits %s: %w", fr.f.Name(), err)
	}
	if err != nil {
		return bad(err)
	}
	if op != opPut && op != opDel {
		return bad(fmt.Errorf("bad op %d", op))
	}
	read := func(buf []byte, max uint64) ([]byte, error) {
		n, err := binary.ReadUvarint(fr.r)
		if err != nil {
			return nil, err
		}
		if n > max {
			return nil, fmt.Errorf("length %d above %d", n, max)
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		_, err = io.ReadFull(fr.r, buf)
		return buf, err
	}
	if fr.key, err = read(fr.key, MaxKeyLen); err != nil {
		return bad(err)
	}
	fr.del, fr.val = op == opDel, fr.val[:0]
	if !fr.del {
		if fr.val, err = read(fr.val, MaxValueLen); err != nil {
			return bad(err)
		}
	}
	fr.ok = true
	return nil
}

func (fr *fileRun) close() error { return fr.f.Close() }

// mergeRuns merges sources; for equal keys the source with the highest
// index (the newest) wins and the others are skipped.
type mergeRuns struct {
	srcs []editSource
	h    []int // heap of indices into srcs with a current edit
	kbuf []byte
}

func newMergeRuns(srcs []editSource) *mergeRuns {
	m := &mergeRuns{srcs: srcs}
	for i, s := range srcs {
		if _, ok := s.cur(); ok {
			m.h = append(m.h, i)
		}
	}
	for i := len(m.h)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

func (m *mergeRuns) less(a, b int) bool {
	ea, _ := m.srcs[a].cur()
	eb, _ := m.srcs[b].cur()
	if c := bytes.Compare(ea.key, eb.key); c != 0 {
		return c < 0
	}
	return a > b
}

func (m *mergeRuns) down(i int) {
	h := m.h
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && m.less(h[r], h[l]) {
			j = r
		}
		if !m.less(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// advanceTop moves the top source on and restores the heap.
func (m *mergeRuns) advanceTop() error {
	if err := m.srcs[m.h[0]].next(); err != nil {
		return err
	}
	if _, ok := m.srcs[m.h[0]].cur(); !ok {
		last := len(m.h) - 1
		m.h[0] = m.h[last]
		m.h = m.h[:last]
	}
	m.down(0)
	return nil
}

func (m *mergeRuns) cur() (edit, bool) {
	if len(m.h) == 0 {
		return edit{}, false
	}
	return m.srcs[m.h[0]].cur()
}

func (m *mergeRuns) next() error {
	if len(m.h) == 0 {
		return nil
	}
	e, _ := m.cur()
	m.kbuf = append(m.kbuf[:0], e.key...)
	for len(m.h) > 0 {
		if e, _ := m.cur(); !bytes.Equal(e.key, m.kbuf) {
			break
		}
		if err := m.advanceTop(); err != nil {
			return err
		}
	}
	return nil
}

// errClosed is returned by an Editor used after Close.
var errClosed = errors.New("tree: editor is closed")
