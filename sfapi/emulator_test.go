package sfapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// emuClient returns a client for srv that refreshes through the emulator's
// OAuth endpoint, with instant backoff.
func emuClient(t testing.TB, srv *sftest.Server, log sfapi.Logger) (*sfapi.Client, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	clock.now = srv.Org.Now()
	cfg := sfapi.Config{
		Auth: &sfapi.RefreshTokenFlow{OAuth: sfapi.OAuth{LoginURL: srv.URL, ClientID: sftest.DefaultClientID,
			ClientSecret: sftest.DefaultClientSecret}, RefreshToken: sftest.DefaultRefreshToken},
		Clock:  clock,
		Rand:   fixedRand(0.5),
		Logger: log,
	}
	c, err := sfapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clock
}

// gap skips the test when err shows the emulator lacks what the client
// needs, naming the gap.
func gap(t *testing.T, what string, err error) {
	t.Helper()
	if sfapi.IsNotFound(err) || sfapi.ErrorCode(err) == "NOT_FOUND" {
		t.Skipf("emulator gap: %s: %v", what, err)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestEmulatorREST(t *testing.T) {
	srv := sftest.NewServer(sftest.Options{Seed: 1, Records: 2000})
	defer srv.Close()
	log := &recLogger{}
	c, clock := emuClient(t, srv, log)
	ctx := context.Background()

	t.Run("versions", func(t *testing.T) {
		vs, err := c.Versions(ctx)
		gap(t, "versions", err)
		found := false
		for _, v := range vs {
			found = found || v.Version == "62.0"
		}
		if !found {
			t.Fatalf("62.0 not listed: %v", vs)
		}
	})
	t.Run("limits", func(t *testing.T) {
		l, err := c.OrgLimits(ctx)
		gap(t, "limits", err)
		if l["DailyApiRequests"].Max <= 0 {
			t.Fatalf("limits %v", l)
		}
		if u := c.Limits().Usage(); u.Max <= 0 || u.Used <= 0 {
			t.Fatalf("usage not tracked: %+v", u)
		}
	})
	t.Run("describe", func(t *testing.T) {
		g, err := c.DescribeGlobal(ctx)
		gap(t, "describeGlobal", err)
		if g.KeyPrefixes()["001"] != "Account" {
			t.Fatalf("no Account prefix")
		}
		d1, err := c.Describe(ctx, "Account")
		gap(t, "describe", err)
		d2, err := c.Describe(ctx, "Account")
		if err != nil || d1 != d2 {
			t.Errorf("describe not reused from cache (304): %v", err)
		}
		if d1.Field("Id") == nil || d1.Field("Name") == nil {
			t.Fatalf("fields %d", len(d1.Fields))
		}
	})
	t.Run("query", func(t *testing.T) {
		it := c.Query(ctx, "SELECT Id, Name FROM Account", &sfapi.QueryOptions{BatchSize: 200})
		n := 0
		for it.Next() {
			if it.Record().Type != "Account" || sfapi.ValidateID(it.Record().ID) != nil {
				t.Fatalf("record %+v", it.Record())
			}
			n++
		}
		gap(t, "query", it.Err())
		if n != it.TotalSize() || n == 0 {
			t.Fatalf("%d records, totalSize %d", n, it.TotalSize())
		}
	})

	t.Run("crud", func(t *testing.T) {
		id, err := c.CreateRecord(ctx, "Account", sfapi.Fields{"Name": "sfapi crud"})
		gap(t, "create", err)
		if err := c.UpdateRecord(ctx, "Account", id, sfapi.Fields{"Name": "sfapi crud 2"}); err != nil {
			t.Fatal(err)
		}
		rec, err := c.GetRecord(ctx, "Account", id, "Id", "Name")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Name string }
		if rec.Decode(&v); v.Name != "sfapi crud 2" {
			t.Fatalf("name %q", v.Name)
		}
		if err := c.DeleteRecord(ctx, "Account", id); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetRecord(ctx, "Account", id); !sfapi.IsNotFound(err) {
			t.Fatalf("deleted record: %v", err)
		}
		res, err := c.Undelete(ctx, []string{id})
		gap(t, "undelete", err)
		if err := res[0].Err(); err != nil {
			t.Fatalf("undelete: %v", err)
		}
		if _, err := c.GetRecord(ctx, "Account", id, "Id"); err != nil {
			t.Fatalf("after undelete: %v", err)
		}
		if _, err := c.CreateRecord(ctx, "Account", sfapi.Fields{"Name": nil}); sfapi.ErrorCode(err) != "REQUIRED_FIELD_MISSING" {
			t.Errorf("required field: %v", err)
		}
	})
	t.Run("upsert", func(t *testing.T) {
		d, err := c.Describe(ctx, "Account")
		gap(t, "describe", err)
		var ext string
		for _, f := range d.Fields {
			if f.ExternalID && f.Type == "string" {
				ext = f.Name
			}
		}
		if ext == "" {
			t.Skip("emulator gap: Account has no external-id text field to upsert on")
		}
		r1, err := c.UpsertRecord(ctx, "Account", ext, "sfapi-up-1", sfapi.Fields{"Name": "up"})
		gap(t, "upsert", err)
		r2, err := c.UpsertRecord(ctx, "Account", ext, "sfapi-up-1", sfapi.Fields{"Name": "up2"})
		if err != nil || !r1.Created || r2.Created {
			t.Fatalf("upsert created %v then %v: %v", r1.Created, r2.Created, err)
		}
		res, err := c.UpsertRecords(ctx, "Account", ext, []sfapi.Fields{{ext: "sfapi-up-1", "Name": "up3"}, {ext: "sfapi-up-2", "Name": "new"}}, sfapi.CollectionOptions{})
		gap(t, "collections upsert", err)
		if len(res) != 2 || res[0].Created || !res[1].Created {
			t.Fatalf("collection upsert %+v %v", res, err)
		}
	})
	t.Run("collections", func(t *testing.T) {
		recs := make([]sfapi.Fields, 250)
		for i := range recs {
			recs[i] = sfapi.Fields{"LastName": fmt.Sprint("Coll", i)}
		}
		res, err := c.CreateRecords(ctx, "Contact", recs, sfapi.CollectionOptions{})
		gap(t, "collections create", err)
		ids := make([]string, len(res))
		for i, r := range res {
			if r.Err() != nil {
				t.Fatalf("record %d: %v", i, r.Err())
			}
			ids[i] = r.ID
		}
		upd := []sfapi.Fields{{"Id": ids[0], "LastName": "Changed"}, {"Id": ids[1], "LastName": nil}}
		ur, err := c.UpdateRecords(ctx, "Contact", upd, sfapi.CollectionOptions{})
		if err != nil || ur[0].Err() != nil || ur[1].Err() == nil {
			t.Fatalf("update %+v %v", ur, err)
		}
		got, err := c.RetrieveRecords(ctx, "Contact", []string{ids[0], "003000000000000AAA"}, []string{"Id", "LastName"})
		if err != nil || len(got) != 2 || got[0] == nil || !strings.Contains(string(got[0].Raw), "Changed") {
			t.Fatalf("retrieve %v %v", got, err)
		}
		if got[1] != nil {
			t.Errorf("missing id should retrieve as nil, got %s", got[1].Raw)
		}
		dr, err := c.DeleteRecords(ctx, ids, sfapi.CollectionOptions{})
		if err != nil || len(dr) != len(ids) || dr[0].Err() != nil {
			t.Fatalf("delete %v", err)
		}
		// allOrNone: one bad record rolls back the good one.
		res, err = c.CreateRecords(ctx, "Contact", []sfapi.Fields{{"LastName": "ok"}, {"FirstName": "no last name"}}, sfapi.CollectionOptions{AllOrNone: true})
		if err != nil || res[0].Success || res[1].Success {
			t.Fatalf("allOrNone %+v %v", res, err)
		}
	})
	t.Run("tree", func(t *testing.T) {
		tree := map[string]any{"records": []any{map[string]any{
			"attributes": map[string]string{"type": "Account", "referenceId": "ref1"},
			"Name":       "Tree Co",
			"Contacts": map[string]any{"records": []any{map[string]any{
				"attributes": map[string]string{"type": "Contact", "referenceId": "ref2"}, "LastName": "Leaf"}}},
		}}}
		tr, err := c.CreateTree(ctx, "Account", tree)
		gap(t, "tree", err)
		if tr.HasErrors || len(tr.Results) != 2 || sfapi.ValidateID(tr.Results[1].ID) != nil {
			t.Fatalf("tree %+v", tr)
		}
	})
	t.Run("replication", func(t *testing.T) {
		accID, err := c.CreateRecord(ctx, "Account", sfapi.Fields{"Name": "replicated"})
		gap(t, "create", err)
		srv.Org.Advance(2 * time.Minute) // the server ignores seconds: let the write's minute close
		now := srv.Org.Now()
		clock.mu.Lock()
		clock.now = now
		clock.mu.Unlock()
		up, err := c.GetUpdated(ctx, "Account", now.Add(-24*time.Hour), now.Add(time.Hour))
		gap(t, "getUpdated", err)
		found := false
		for _, id := range up.IDs {
			found = found || id == accID
		}
		if !found {
			t.Errorf("updated ids %d do not include the record changed above", len(up.IDs))
		}
		del, err := c.GetDeleted(ctx, "Contact", now.Add(-24*time.Hour), now.Add(time.Hour))
		gap(t, "getDeleted", err)
		if len(del.Records) == 0 {
			t.Errorf("no deleted Contacts after the collections delete")
		}
		if _, err := c.GetDeleted(ctx, "Contact", now.Add(-20*24*time.Hour), now); !errors.Is(err, sfapi.ErrWindowTooOld) {
			t.Errorf("old window: %v", err)
		}
	})
	t.Run("files", func(t *testing.T) {
		it := c.Query(ctx, "SELECT Id, Checksum, ContentSize, VersionData FROM ContentVersion LIMIT 5", nil)
		n := 0
		for it.Next() {
			var v struct {
				Id, Checksum, VersionData string
				ContentSize               int64
			}
			it.Record().Decode(&v)
			b, err := c.OpenBlobURL(ctx, v.VersionData)
			if err != nil {
				t.Fatal(err)
			}
			h := md5.New()
			sz, err := io.Copy(h, b)
			b.Close()
			if err != nil || sz != v.ContentSize || hex.EncodeToString(h.Sum(nil)) != v.Checksum {
				t.Fatalf("blob %s: %d bytes (want %d), md5 %x want %s: %v", v.Id, sz, v.ContentSize, h.Sum(nil), v.Checksum, err)
			}
			n++
		}
		gap(t, "query ContentVersion", it.Err())
		if n == 0 {
			t.Skip("emulator gap: no ContentVersion rows generated")
		}
		id, err := c.UploadBlob(ctx, "ContentVersion", sfapi.Fields{"Title": "up", "PathOnClient": "up.txt"}, "VersionData", "up.txt", strings.NewReader("hello file"))
		gap(t, "upload", err)
		b, err := c.DownloadBlob(ctx, "ContentVersion", id, "VersionData")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(b)
		b.Close()
		if string(got) != "hello file" {
			t.Fatalf("uploaded blob reads %q", got)
		}
	})
	t.Run("bulk", func(t *testing.T) {
		s, err := c.BulkQuery(ctx, "SELECT Id, Name FROM Account", &sfapi.BulkQueryOptions{MaxRecords: 100, DeleteJob: true})
		gap(t, "bulk query", err)
		n := 0
		for s.Next() {
			n++
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		p, err := c.QueryFirst(ctx, "SELECT Id FROM Account", nil)
		if err != nil || n != p.TotalSize || s.Pages() < 2 {
			t.Fatalf("bulk %d rows in %d pages, REST %d: %v", n, s.Pages(), p.TotalSize, err)
		}
		ps, err := c.BulkQuery(ctx, "SELECT Id, Name FROM Account", &sfapi.BulkQueryOptions{MaxRecords: 50, ParallelPages: 3})
		if err != nil {
			t.Fatal(err)
		}
		pn := 0
		for ps.Next() {
			pn++
		}
		if err := ps.Err(); err != nil || pn != n {
			t.Fatalf("parallel pages: %d rows (want %d): %v", pn, n, err)
		}
		ps.Close()
		if strings.Contains(log.String(), "resultPages not offered") {
			t.Errorf("the emulator offers resultPages but the client fell back")
		}
		if _, err := c.BulkQuery(ctx, "SELECT Id, BillingAddress FROM Account", nil); err == nil {
			t.Errorf("compound field accepted by Bulk")
		}
	})
	t.Run("ingest", func(t *testing.T) {
		job, res, err := c.Ingest(ctx, sfapi.IngestJobSpec{Object: "Contact", Operation: "insert"},
			[]byte("LastName,FirstName\nBulk1,A\n,NoLast\nBulk3,C\n"), sfapi.PollOptions{})
		gap(t, "ingest", err)
		if job.State != sfapi.JobComplete || len(res.Successful) != 2 || len(res.Failed) != 1 || !res.Successful[0].Created {
			t.Fatalf("job %+v results %+v", job, res)
		}
		if res.Failed[0].ErrorCode() != "REQUIRED_FIELD_MISSING" {
			t.Errorf("failed row error %q", res.Failed[0].Error)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		dm, err := c.DescribeMetadata(ctx)
		gap(t, "describeMetadata", err)
		if len(dm.MetadataObjects) == 0 {
			t.Fatal("no metadata types")
		}
		lm, err := c.ListMetadata(ctx, []sfapi.ListMetadataQuery{{Type: "CustomObject"}})
		gap(t, "listMetadata", err)
		rr, err := c.RetrieveZip(ctx, sfapi.RetrieveRequest{SinglePackage: true,
			Types: []sfapi.PackageTypeMembers{{Name: "CustomObject", Members: []string{"Account"}}}}, sfapi.PollOptions{})
		gap(t, "retrieve", err)
		if _, err := zip.NewReader(bytes.NewReader(rr.ZipFile), int64(len(rr.ZipFile))); err != nil {
			t.Fatalf("zip: %v (listMetadata gave %d)", err, len(lm))
		}
	})
	t.Run("expired session", func(t *testing.T) {
		srv.Org.ExpireSessions()
		if _, err := c.OrgLimits(ctx); err != nil {
			t.Fatalf("refresh after expiry: %v", err)
		}
		static, _ := sfapi.New(sfapi.Config{Auth: sfapi.StaticToken{AccessToken: "00D000000000001!stale", InstanceURL: srv.URL}, Clock: newFakeClock()})
		if _, err := static.OrgLimits(ctx); !sfapi.IsInvalidSession(err) {
			t.Fatalf("stale static token: %v", err)
		}
	})
	if strings.Contains(log.String(), "!") {
		t.Errorf("something token-like was logged")
	}
}

// readEverything reads every queryable object of the org: through Bulk
// where it works, REST otherwise. The answer maps object → Id → row.
func readEverything(t *testing.T, c *sfapi.Client, skip map[string]string, parallel int) (map[string]map[string]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	g, err := c.DescribeGlobal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	how := map[string]string{}
	for _, o := range g.SObjects {
		if !o.Queryable || skip[o.Name] != "" {
			continue
		}
		d, err := c.Describe(ctx, o.Name)
		if err != nil {
			t.Fatalf("describe %s: %v", o.Name, err)
		}
		var bulkCols, restCols []string
		for _, f := range d.Fields {
			switch f.Type {
			case "address", "location":
				continue
			case "base64":
				restCols = append(restCols, f.Name)
				continue
			}
			bulkCols = append(bulkCols, f.Name)
			restCols = append(restCols, f.Name)
		}
		rows := map[string]string{}
		s, err := c.BulkQuery(ctx, "SELECT "+strings.Join(bulkCols, ", ")+" FROM "+o.Name, &sfapi.BulkQueryOptions{All: true, MaxRecords: 500, ParallelPages: parallel})
		if err == nil {
			idCol := -1
			for i, h := range s.Header() {
				if strings.EqualFold(h, "Id") {
					idCol = i
				}
			}
			for s.Next() {
				rows[s.Record()[idCol]] = strings.Join(s.Record(), "\x1f")
			}
			err = s.Err()
			s.Close()
			if err != nil {
				t.Fatalf("bulk %s: %v", o.Name, err)
			}
			how[o.Name] = "bulk"
		} else if sfapi.IsTransient(err) || sfapi.IsLimitExceeded(err) {
			t.Fatalf("bulk %s: %v", o.Name, err)
		} else {
			it := c.Query(ctx, "SELECT "+strings.Join(restCols, ", ")+" FROM "+o.Name, &sfapi.QueryOptions{All: true, BatchSize: 200})
			for it.Next() {
				rows[it.Record().ID] = string(it.Record().Raw)
			}
			if err := it.Err(); err != nil {
				if sfapi.IsTransient(err) || sfapi.IsLimitExceeded(err) {
					t.Fatalf("query %s: %v", o.Name, err)
				}
				skip[o.Name] = err.Error()
				continue
			}
			how[o.Name] = "rest"
		}
		out[o.Name] = rows
	}
	return out, how
}

// TestAcceptanceFaults: with 5% of requests failing transiently, a full
// read of every object returns exactly the records of a fault-free read.
func TestAcceptanceFaults(t *testing.T) {
	srv := sftest.NewServer(sftest.Options{Seed: 42, Records: 20000})
	defer srv.Close()
	c, _ := emuClient(t, srv, nil)
	skip := map[string]string{}
	clean, how := readEverything(t, c, skip, 0)

	// Several fault sequences, so that every kind of fault gets drawn.
	all := map[sftest.FaultKind]int{}
	prev := srv.Org.FaultCounts() // the emulator's counts are cumulative
	for seed := int64(1); seed <= 4; seed++ {
		srv.Org.SetFaults(sftest.FaultOptions{Rate: 0.05, Seed: seed, SlowDelay: time.Millisecond})
		c2, _ := emuClient(t, srv, nil)
		// Odd seeds stream pages one by one, even seeds fetch three at once.
		faulty, how2 := readEverything(t, c2, skip, int(3*(1-seed%2)))
		cum := srv.Org.FaultCounts()
		counts := map[sftest.FaultKind]int{}
		for k, n := range cum {
			if n > prev[k] {
				counts[k] = n - prev[k]
			}
		}
		prev = cum
		srv.Org.SetFaults(sftest.FaultOptions{})
		compareReads(t, clean, faulty, how, how2)
		injected := 0
		for k, n := range counts {
			injected += n
			all[k] += n
		}
		t.Logf("seed %d: %d requests, %d faults injected: %v", seed, c2.Limits().Requests(), injected, counts)
	}
	total, nBulk := 0, 0
	for o, rows := range clean {
		total += len(rows)
		if how[o] == "bulk" {
			nBulk++
		}
	}
	t.Logf("%d objects (%d by Bulk), %d records; faults over all seeds: %v; skipped: %v", len(clean), nBulk, total, all, skipKeys(skip))
	if len(all) == 0 {
		t.Error("no faults were injected")
	}
}

func compareReads(t *testing.T, clean, faulty map[string]map[string]string, how, how2 map[string]string) {
	t.Helper()
	var objs []string
	for o := range clean {
		objs = append(objs, o)
	}
	sort.Strings(objs)
	for _, o := range objs {
		a, b := clean[o], faulty[o]
		if how[o] != how2[o] {
			t.Errorf("%s read by %s then %s", o, how[o], how2[o])
		}
		if len(a) != len(b) {
			t.Errorf("%s: %d records fault-free, %d with faults", o, len(a), len(b))
			continue
		}
		for id, row := range a {
			if b[id] != row {
				t.Errorf("%s %s differs:\n%s\n%s", o, id, row, b[id])
				break
			}
		}
	}
	if len(faulty) != len(clean) {
		t.Errorf("%d objects fault-free, %d with faults", len(clean), len(faulty))
	}
}

func skipKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// BenchmarkBulkQueryEmulator reads 1M generated Accounts (an org of 12.5M
// records, 8% Accounts, generated lazily) through the client's Bulk 2.0
// stream, and reports records/s and the peak heap in use.
func BenchmarkBulkQueryEmulator(b *testing.B) {
	srv := sftest.NewServer(sftest.Options{Seed: 1, Records: 12_500_000})
	defer srv.Close()
	c, _ := emuClient(b, srv, nil)
	ctx := context.Background()
	const soql = "SELECT Id, Name, Phone, BillingCity, BillingCountry, Industry, AnnualRevenue, OwnerId, CreatedDate, SystemModstamp FROM Account"
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	defer close(stop)
	b.ReportAllocs()
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		s, err := c.BulkQuery(ctx, soql, &sfapi.BulkQueryOptions{MaxRecords: 50000, DeleteJob: true})
		if err != nil {
			b.Fatal(err)
		}
		for s.Next() {
		}
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		rows += s.Rows()
		s.Close()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(rows)/float64(b.N), "records/op")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
