package restore

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var errKilled = errors.New("killed")

// killer is the target org of a process that dies at its at-th call:
// before the request leaves (after=false) or after the org has done it but
// before the answer is used (after=true).
type killer struct {
	Org
	n, at int
	after bool
}

func (k *killer) die() bool { k.n++; return k.n == k.at }

func kill[T any](k *killer, call func() (T, error)) (T, error) {
	var zero T
	if !k.die() {
		return call()
	}
	if k.after {
		call()
	}
	return zero, errKilled
}

func (k *killer) RetrieveRecords(ctx context.Context, object string, ids, fields []string) ([]*sfapi.Record, error) {
	return kill(k, func() ([]*sfapi.Record, error) { return k.Org.RetrieveRecords(ctx, object, ids, fields) })
}
func (k *killer) Undelete(ctx context.Context, ids []string) ([]sfapi.UndeleteResult, error) {
	return kill(k, func() ([]sfapi.UndeleteResult, error) { return k.Org.Undelete(ctx, ids) })
}
func (k *killer) CreateRecords(ctx context.Context, object string, recs []sfapi.Fields, o sfapi.CollectionOptions) ([]sfapi.SaveResult, error) {
	return kill(k, func() ([]sfapi.SaveResult, error) { return k.Org.CreateRecords(ctx, object, recs, o) })
}
func (k *killer) UpdateRecords(ctx context.Context, object string, recs []sfapi.Fields, o sfapi.CollectionOptions) ([]sfapi.SaveResult, error) {
	return kill(k, func() ([]sfapi.SaveResult, error) { return k.Org.UpdateRecords(ctx, object, recs, o) })
}
func (k *killer) CreateIngestJob(ctx context.Context, spec sfapi.IngestJobSpec) (*sfapi.BulkJob, error) {
	return kill(k, func() (*sfapi.BulkJob, error) { return k.Org.CreateIngestJob(ctx, spec) })
}
func (k *killer) UploadIngestData(ctx context.Context, id string, data []byte) error {
	_, err := kill(k, func() (int, error) { return 0, k.Org.UploadIngestData(ctx, id, data) })
	return err
}
func (k *killer) CloseIngestJob(ctx context.Context, id string) (*sfapi.BulkJob, error) {
	return kill(k, func() (*sfapi.BulkJob, error) { return k.Org.CloseIngestJob(ctx, id) })
}
func (k *killer) IngestResults(ctx context.Context, id string) (*sfapi.IngestResults, error) {
	return kill(k, func() (*sfapi.IngestResults, error) { return k.Org.IngestResults(ctx, id) })
}
func (k *killer) UploadBlob(ctx context.Context, object string, fields sfapi.Fields, blobField, name string, content io.ReadSeeker) (string, error) {
	return kill(k, func() (string, error) { return k.Org.UploadBlob(ctx, object, fields, blobField, name, content) })
}

// TestKilledRestoreResumes: a restore of hard-deleted hierarchies killed
// at random calls, before or after the org acted, and run again until it
// finishes, creates no duplicate and ends complete — through sObject
// Collections and through Bulk API 2.0.
func TestKilledRestoreResumes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold int
		span      int // kills land among the first span calls of a run
	}{{"collections", 2000, 14}, {"bulk", 3, 40}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sftest.Options{Seed: 9, Records: 3000})
			s1, roots, deleted := deleteHierarchy(e, 4, -1)
			opts := Options{Snapshot: s1, Targets: []Target{{Object: "Account", IDs: roots}}, WithChildren: true, Depth: 3, BulkThreshold: tc.threshold}
			rnd := rand.New(rand.NewSource(int64(tc.threshold)))
			runs, kills := 0, 0
			var rep *Report
			for {
				runs++
				if runs > 12 {
					t.Fatal("an unkilled run did not finish")
				}
				r := e.open()
				o := opts
				o.Now, o.TargetOrg = e.srv.Org.Now, e.srv.Org.ID()
				o.Poll = sfapi.PollOptions{Initial: 1, Max: 1}
				// Ten runs die at a random call; then one runs to the end.
				k := &killer{Org: e.client, at: 1 + rnd.Intn(tc.span), after: rnd.Intn(2) == 0}
				if runs > 10 {
					k.at = 0
				}
				var err error
				rep, err = Run(bg, r, k, o)
				r.Close()
				if err == nil {
					break
				}
				if !errors.Is(err, errKilled) {
					t.Fatalf("run %d: %v", runs, err)
				}
				kills++
			}
			t.Logf("%d runs, %d killed", runs, kills)
			if kills < 3 {
				t.Fatalf("only %d runs were killed", kills)
			}
			// The last run's results hold only its own work; the Id map of
			// the whole restore is in the journal.
			r := e.open()
			j := &journal{r: r, run: rep.Run}
			if err := j.load(bg, false); err != nil {
				t.Fatal(err)
			}
			r.Close()
			idmap := map[string]string{}
			for _, b := range j.batches {
				if !b.Done {
					t.Fatalf("journal entry %d not done", b.Seq)
				}
				for i, n := range b.New {
					if n != "" {
						idmap[b.Old[i]] = n
					}
				}
			}
			e.checkRestored(s1, deleted, idmap)
			s2 := e.snapshot()
			for _, obj := range []string{"Account", "Contact", "Opportunity", "OpportunityLineItem", "Case", "Task", "Invoice__c", "Invoice_Line__c"} {
				if s1.Objects[obj].Records != s2.Objects[obj].Records {
					t.Errorf("%s: %d records before, %d after the restore", obj, s1.Objects[obj].Records, s2.Objects[obj].Records)
				}
			}
		})
	}
}

// TestCrossOrgSeed: Accounts and their Contacts restored into another
// (empty) org: Accounts matched by their external Id where the target has
// them, the rest inserted; Contacts re-pointed to the target's Accounts;
// masked fields replaced; owners without a match get the fallback owner.
func TestCrossOrgSeed(t *testing.T) {
	src := newEnv(t, sftest.Options{Seed: 4, Records: 1500})
	snap := src.snapshot()
	dst := sftest.NewServer(sftest.Options{Seed: 40, Records: 100})
	t.Cleanup(dst.Close)
	e := &env{t: t, srv: dst, dir: src.dir}
	e.client = e.newClient()
	existing := records(t, dst.Org, "Account", func(sftest.Record) bool { return true })
	r := e.open()
	rep, err := Run(bg, r, e.client, Options{Snapshot: snap, Targets: []Target{{Object: "Account"}, {Object: "Contact"}},
		CrossOrg: true, NoParents: true, FallbackOwner: dst.Org.AdminUserID(), Mask: []string{"Contact.Email"},
		TargetOrg: dst.Org.ID(), Now: dst.Org.Now})
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	idmap := resultMap(rep)
	byLegacy := map[string]string{}
	for _, a := range existing {
		byLegacy[str(a.Fields["Legacy_Id__c"])] = a.ID
	}
	accounts := records(t, src.srv.Org, "Account", func(sftest.Record) bool { return true })
	matched := 0
	for _, a := range accounts {
		n := idmap[a.ID]
		if want, ok := byLegacy[str(a.Fields["Legacy_Id__c"])]; ok {
			matched++
			if n != want {
				t.Errorf("account %s: restored to %s, the target's record with its external Id is %s", a.ID, n, want)
			}
		}
		got, ok := dst.Org.Get(n)
		if !ok || got.Fields["Name"] != a.Fields["Name"] {
			t.Fatalf("account %s not in the target (%s)", a.ID, n)
		}
	}
	if matched == 0 {
		t.Fatal("no account was matched by external Id")
	}
	for _, c := range records(t, src.srv.Org, "Contact", func(sftest.Record) bool { return true }) {
		got, ok := dst.Org.Get(idmap[c.ID])
		if !ok {
			t.Fatalf("contact %s not restored", c.ID)
		}
		if acc := str(c.Fields["AccountId"]); acc != "" && got.Fields["AccountId"] != idmap[acc] {
			t.Errorf("contact %s: AccountId %v, want %s", c.ID, got.Fields["AccountId"], idmap[acc])
		}
		if e := str(got.Fields["Email"]); c.Fields["Email"] != nil && (e == c.Fields["Email"] || !strings.HasSuffix(e, "@example.invalid")) {
			t.Errorf("contact %s: Email %q not masked", c.ID, e)
		}
		if got.Fields["LastName"] != c.Fields["LastName"] {
			t.Errorf("contact %s: LastName %v, want %v", c.ID, got.Fields["LastName"], c.Fields["LastName"])
		}
	}
}
