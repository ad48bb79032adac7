package restore

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// BenchmarkRestore restores the related records of a snapshot (Accounts
// with their parent-account self-lookups, Contacts with ReportsTo,
// Opportunities, Cases, Tasks on all of them, Projects with their parent
// projects, Invoices and their master-detail lines) into an empty org:
// every record is inserted and every reference re-pointed through the Id
// map, through Bulk API 2.0. ORGSNAP_BENCH_RECORDS sets the generated org's
// size (default 160,000, which gives about 100,000 records to restore).
//
//	go test ./restore -run '^$' -bench Restore -benchtime 1x
func BenchmarkRestore(b *testing.B) {
	n := 160000
	if s := os.Getenv("ORGSNAP_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	src := newEnv(b, sftest.Options{Seed: 21, Records: n})
	snap := src.snapshot()
	objects := []string{"Account", "Contact", "Opportunity", "Case", "Task", "Project__c", "Invoice__c", "Invoice_Line__c"}
	var want uint64
	targets := make([]Target, len(objects))
	for i, o := range objects {
		targets[i] = Target{Object: o}
		want += snap.Objects[o].Records
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := sftest.NewServer(sftest.Options{Seed: 22, APIDailyLimit: 1 << 40})
		e := &env{t: b, srv: dst, dir: src.dir}
		e.client = e.newClient()
		r := e.open()
		opts := Options{Snapshot: snap, Targets: targets, CrossOrg: true, NoParents: true, Fresh: true,
			FallbackOwner: dst.Org.AdminUserID(), TargetOrg: dst.Org.ID(), Now: dst.Org.Now,
			Poll: sfapi.PollOptions{Initial: time.Millisecond, Max: time.Millisecond}}
		b.StartTimer()
		start := time.Now()
		rep, err := Run(bg, r, e.client, opts)
		el := time.Since(start)
		b.StopTimer()
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		used, _ := dst.Org.APIUsage()
		inserted := 0
		for _, res := range rep.Results {
			if res.Action == "insert" && res.Status == "ok" {
				inserted++
			}
		}
		if uint64(inserted) < want*9/10 {
			b.Fatalf("%d of %d records inserted", inserted, want)
		}
		b.ReportMetric(float64(inserted), "records")
		b.ReportMetric(float64(inserted)/el.Seconds(), "records/s")
		b.ReportMetric(float64(used), "api-calls")
		b.ReportMetric(float64(rep.Plan.SecondPass), "second-pass-refs")
		dst.Close()
		_ = repo.KindFull
	}
}
