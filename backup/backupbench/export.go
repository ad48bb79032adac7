package backupbench

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/orgsnap/orgsnap/sfapi"
)

// Export is one CSV export of the org: a file per object in Dir.
type Export struct {
	Dir      string
	Objects  []ObjectExport // exported objects, by name
	Skipped  []ObjectExport // objects Bulk API 2.0 refused (Err says why)
	Records  int64
	Bytes    int64
	Duration time.Duration
}

// ObjectExport is one object of an export.
type ObjectExport struct {
	Object string
	File   string // path of the CSV file (header + Rows rows)
	Fields int
	Rows   int64
	Bytes  int64
	Err    string // for a skipped object
}

// Object returns the named object's entry, or nil.
func (e *Export) Object(name string) *ObjectExport {
	for i := range e.Objects {
		if e.Objects[i].Object == name {
			return &e.Objects[i]
		}
	}
	return nil
}

// CSVExport exports every queryable object of the org through Bulk API 2.0
// to one CSV file per object: all fields from describe except base64 and
// compound (address, location) fields, which Bulk queries cannot select
// (the compound fields' components are exported). It is the "csv export"
// row of the table and the input of the restic and git contenders.
//
// As a backup on its own, a daily export keeps a full copy each day: its
// incremental step's new bytes are the whole export again.
type CSVExport struct {
	Parallel int // objects exported at once; 0 ⇒ 4
	last     *Export
	total    int64
}

func (e *CSVExport) Name() string { return "csv export" }

// Last returns the most recent export.
func (e *CSVExport) Last() *Export { return e.last }

func (e *CSVExport) Full(ctx context.Context, env *Env) (Measure, error) { return e.step(ctx, env) }
func (e *CSVExport) Incremental(ctx context.Context, env *Env) (Measure, error) {
	return e.step(ctx, env)
}

func (e *CSVExport) step(ctx context.Context, env *Env) (Measure, error) {
	x, err := ExportCSV(ctx, env.Client, filepath.Join(env.Scratch, "csv"), e.Parallel, env.Log)
	if err != nil {
		return Measure{}, err
	}
	e.last = x
	e.total += x.Bytes
	detail := fmt.Sprintf("%d objects, %d skipped by Bulk", len(x.Objects), len(x.Skipped))
	if env.Step == Incremental {
		detail += "; a full copy each day"
	}
	return Measure{Duration: x.Duration, NewBytes: x.Bytes, TotalBytes: e.total, Records: x.Records, Detail: detail}, nil
}

// bulkPoll polls Bulk jobs quickly: the emulator completes a query job at
// once, so the client's default first wait (500 ms) would only measure
// sleeping. Every contender reading the org should use the same.
var bulkPoll = sfapi.PollOptions{Initial: 20 * time.Millisecond, Max: 2 * time.Second}

// ExportCSV exports the org into dir (emptied first), parallel objects at
// a time.
func ExportCSV(ctx context.Context, c *sfapi.Client, dir string, parallel int, log io.Writer) (*Export, error) {
	if parallel <= 0 {
		parallel = 4
	}
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g, err := c.DescribeGlobal(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range g.SObjects {
		if o.Queryable && o.Retrieveable && !o.DeprecatedAndHidden {
			names = append(names, o.Name)
		}
	}
	sort.Strings(names)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]ObjectExport, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = exportObject(ctx, c, dir, names[i])
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range names {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	x := &Export{Dir: dir}
	for _, r := range results {
		if r.Err != "" {
			x.Skipped = append(x.Skipped, r)
			continue
		}
		x.Objects = append(x.Objects, r)
		x.Records += r.Rows
		x.Bytes += r.Bytes
	}
	x.Duration = time.Since(start)
	fmt.Fprintf(log, "  exported %d records of %d objects (%s) in %.1f s\n", x.Records, len(x.Objects), mib(x.Bytes), x.Duration.Seconds())
	return x, nil
}

// exportObject writes one object's records to dir/<object>.csv.
func exportObject(ctx context.Context, c *sfapi.Client, dir, object string) (ObjectExport, error) {
	oe := ObjectExport{Object: object, File: filepath.Join(dir, object+".csv")}
	d, err := c.Describe(ctx, object)
	if err != nil {
		return oe, err
	}
	var fields []string
	for _, f := range d.Fields {
		switch f.Type {
		case "base64", "address", "location":
			continue
		}
		fields = append(fields, f.Name)
	}
	oe.Fields = len(fields)
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + object
	s, err := c.BulkQuery(ctx, soql, &sfapi.BulkQueryOptions{DeleteJob: true, Poll: bulkPoll})
	if code := sfapi.ErrorCode(err); code == "INVALIDENTITY" || code == "INVALID_TYPE_FOR_OPERATION" {
		oe.Err = err.Error()
		return oe, nil
	}
	if err != nil {
		return oe, fmt.Errorf("export %s: %w", object, err)
	}
	defer s.Close()
	f, err := os.Create(oe.File)
	if err != nil {
		return oe, err
	}
	defer f.Close()
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(s.Header()); err != nil {
		return oe, err
	}
	for s.Next() {
		if err := w.Write(s.Record()); err != nil {
			return oe, err
		}
		oe.Rows++
	}
	if err := s.Err(); err != nil {
		return oe, fmt.Errorf("export %s: %w", object, err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return oe, err
	}
	if err := bw.Flush(); err != nil {
		return oe, err
	}
	oe.Bytes = cw.n
	return oe, f.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// CSVZstd compresses each day's export, file by file, with zstd at level
// 3 (klauspost/compress at its default level, its equivalent of `zstd -3`,
// as repo/repobench does) and keeps every day's files: the "export to CSV,
// compress, keep" routine. Its time includes the export.
type CSVZstd struct{ total int64 }

func (z *CSVZstd) Name() string { return "csv export + zstd -3" }

func (z *CSVZstd) Full(ctx context.Context, env *Env) (Measure, error) { return z.step(ctx, env) }
func (z *CSVZstd) Incremental(ctx context.Context, env *Env) (Measure, error) {
	return z.step(ctx, env)
}

func (z *CSVZstd) step(ctx context.Context, env *Env) (Measure, error) {
	if env.Export == nil {
		return Measure{}, fmt.Errorf("%w: no CSV export", ErrUnavailable)
	}
	start := time.Now()
	out := filepath.Join(env.Scratch, fmt.Sprintf("day%d", env.Step+1))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Measure{}, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return Measure{}, err
	}
	defer enc.Close()
	var n int64
	for _, o := range env.Export.Objects {
		if err := ctx.Err(); err != nil {
			return Measure{}, err
		}
		m, err := compressFile(enc, o.File, filepath.Join(out, filepath.Base(o.File)+".zst"))
		if err != nil {
			return Measure{}, err
		}
		n += m
	}
	took := time.Since(start)
	z.total += n
	return Measure{
		Duration: env.Export.Duration + took, NewBytes: n, TotalBytes: z.total, Records: env.Export.Records,
		Detail: fmt.Sprintf("export %.1f s + zstd %.1f s; %.2f× smaller than the CSV", env.Export.Duration.Seconds(), took.Seconds(),
			float64(env.Export.Bytes)/float64(max(n, 1))),
	}, nil
}

func compressFile(enc *zstd.Encoder, src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cw := &countingWriter{w: out}
	enc.Reset(cw)
	if _, err := io.Copy(enc, in); err != nil {
		return 0, err
	}
	if err := enc.Close(); err != nil {
		return 0, err
	}
	return cw.n, out.Close()
}
