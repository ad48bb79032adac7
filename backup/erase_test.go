package backup

import (
	"errors"
	"testing"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi/sftest"
)

var errFirst = errors.New("first")

// TestErasedRecordsNeverReturn: a Contact erased from the repository is
// not backed up again, although the org still has it, by a full run or by
// a synthetic run after it changed.
func TestErasedRecordsNeverReturn(t *testing.T) {
	e := newEnv(t, sftest.Options{Seed: 5, Records: 300})
	res := e.mustRun(Options{})
	r := e.open()
	var victim string
	err := r.EachRecord(bg, res.Snapshot, "Contact", "", func(id string, _ record.Record) error {
		victim = id
		return errFirst
	})
	if !errors.Is(err, errFirst) || victim == "" {
		t.Fatalf("no Contact to erase: %v", err)
	}
	if _, err := r.EraseRecords(bg, repo.EraseSelection{"Contact": {victim}}, "ids", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prune(bg, repo.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	for _, full := range []bool{false, true} {
		e.srv.Org.Churn(sftest.ChurnOptions{Seed: 9, Rate: 0.5})
		res := e.mustRun(Options{Full: full})
		r := e.open()
		_, ok, err := r.Record(bg, res.Snapshot, "Contact", victim)
		r.Close()
		if err != nil || ok {
			t.Fatalf("full=%v: the erased Contact is back (%v, %v)", full, ok, err)
		}
	}
}
