package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orgsnap/orgsnap/sfapi"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

// widen gives Contact enough long-named custom fields that its SELECT is
// several times the REST URI limit, and values in some of them.
func widen(t *testing.T, o *sftest.Org, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("Extremely_Long_Custom_Field_Name_For_Width_%03d__c", i)
		if err := o.AddField("Contact", name, "string", 80); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	ids := liveIDs(t, o, "Contact")
	for k, id := range ids[:min(40, len(ids))] {
		if err := o.Update(id, map[string]any{names[k%n]: fmt.Sprintf("v%d", k), names[(k*7)%n]: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// TestWideObjectREST: an object whose field list is too long for one REST
// URI is read in parts merged by Id — full and synthetic — and the
// snapshot equals the org field for field. The emulator refuses long URIs
// as Salesforce does, so an unsplit query would fail.
func TestWideObjectREST(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 21, Records: 1500})
	names := widen(t, e.srv.Org, 600)
	soql := "SELECT Id, " + strings.Join(names, ", ") + " FROM Contact"
	if _, err := e.client.QueryFirst(bg, soql, nil); !errors.Is(err, sfapi.ErrURITooLong) {
		t.Fatalf("a %d-byte query: %v, want ErrURITooLong", len(soql), err)
	}
	src := &splitCounter{Source: e.client}
	res, err := e.runSrc(src, Options{NoBulk: true})
	if err != nil {
		t.Fatal(err)
	}
	if src.parts.Load() < 3 {
		t.Fatalf("only %d part queries: the read was not split", src.parts.Load())
	}
	e.verify(res.Snapshot)

	// A day of changes, some to the wide fields: the synthetic read
	// (REST for a few changes) is split too.
	e.srv.Org.Churn(sftest.ChurnOptions{Seed: 4, Rate: 0.03})
	ids := liveIDs(t, e.srv.Org, "Contact")
	for k, id := range ids[len(ids)-25:] {
		if err := e.srv.Org.Update(id, map[string]any{names[len(names)-1-k]: "late"}); err != nil {
			t.Fatal(err)
		}
	}
	before := src.parts.Load()
	res2, err := e.runSrc(src, Options{NoBulk: true})
	if err != nil {
		t.Fatal(err)
	}
	if src.parts.Load() == before {
		t.Fatal("the synthetic read was not split")
	}
	if res2.Changed == 0 {
		t.Fatal("the synthetic snapshot counts no change")
	}
	e.verify(res2.Snapshot)
}

// TestWideObjectChangesMidRead: records updated and deleted between the
// parts of a split read come out as one version each (read again by Id),
// never as a mix of two, and deleted ones are not kept.
func TestWideObjectChangesMidRead(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 22, Records: 1200})
	names := widen(t, e.srv.Org, 600)
	ids := liveIDs(t, e.srv.Org, "Contact")
	var hits atomic.Int32
	src := &splitCounter{Source: e.client, between: func() {
		// After the first part of the first split read: change records the
		// first part already returned, and delete one.
		if hits.Add(1) != 1 {
			return
		}
		for k, id := range ids[:10] {
			if err := e.srv.Org.Update(id, map[string]any{names[len(names)-1]: fmt.Sprintf("mid-%d", k), "LastName": "Changed"}); err != nil {
				t.Error(err)
			}
		}
		if err := e.srv.Org.Delete(ids[10]); err != nil {
			t.Error(err)
		}
	}}
	res, err := e.runSrc(src, Options{NoBulk: true, Objects: []string{"Contact"}})
	if err != nil {
		t.Fatal(err)
	}
	if src.rereads.Load() == 0 {
		t.Fatal("no record was read again: the mid-read changes went unnoticed")
	}
	e.verify(res.Snapshot)
}

// splitCounter counts the part queries of split reads (they order by Id)
// and the re-reads by Id, and can act between the first and second part.
type splitCounter struct {
	Source
	parts, rereads atomic.Int64
	between        func()
}

func (s *splitCounter) Query(ctx context.Context, soql string, opts *sfapi.QueryOptions) *sfapi.QueryIter {
	if strings.HasSuffix(soql, " ORDER BY Id") {
		if s.parts.Add(1) == 2 && s.between != nil {
			s.between()
		}
		if strings.Contains(soql, " WHERE Id IN (") {
			s.rereads.Add(1)
		}
	}
	return s.Source.Query(ctx, soql, opts)
}
