package repo

import (
	"strings"
	"testing"
)

// TestEraseRecords: a record carrying a unique marker, in the base of old
// snapshots and the delta of newer ones, plus a large record and a file,
// is erased: every snapshot is rewritten without it, refs move, and after
// prune no blob of any pack (every frame decrypted) and no file of the
// repository holds the marker; the rest reads back exactly.
func TestEraseRecords(t *testing.T) {
	r := newTestRepo(t, t.TempDir())
	defer func() { r.Close() }()
	const marker = "MARKER-e1a5e0d"
	s1, s2, _, m1, _ := markerHistory(t, r, marker)
	// s4: on top of s2 (the subject's records still there), more churn.
	s4, m4, err := workload(r, s2, 4, m1)
	must(t, err)
	must(t, r.SetRef(ctx, "main", s4.ID, ""))
	if got := plaintextHolding(t, r, marker); len(got) == 0 {
		t.Fatal("marker not stored")
	}
	sel := EraseSelection{"Contact": {"0035g00000Subject1", "0035g00000Subject2"}, "Attachment": {"00P5g00000Subject3"}}
	res, err := r.EraseRecords(ctx, sel, "ids", nil)
	must(t, err)
	if res.Detail.Records != 3 || res.Detail.Objects["Contact"] != 2 || len(res.RefsMoved) != 1 {
		t.Fatalf("erase: %+v", res)
	}
	if _, ok := res.Detail.Replaced[s1.ID.String()]; ok {
		t.Fatal("s1 never held the records but was rewritten")
	}
	proof, err := r.Prune(ctx, PruneOptions{Cause: "erase"})
	must(t, err)
	if !proof.Verified || proof.BlobsErased == 0 {
		t.Fatalf("prune: %+v", proof)
	}
	if got := plaintextHolding(t, r, marker); len(got) > 0 {
		t.Fatalf("marker survived the erase: %v", got)
	}
	rep, err := r.Check(ctx, true, nil)
	if err != nil || !rep.OK() || rep.Unreferenced != 0 {
		t.Fatalf("check: %v %+v", err, rep)
	}
	head, _, err := r.Ref(ctx, "main")
	must(t, err)
	s4n, err := r.LoadSnapshot(ctx, head)
	must(t, err)
	if s4n.Original == nil || *s4n.Original != s4.ID || s4n.Time != s4.Time {
		t.Fatalf("rewrite of s4: %+v", s4n)
	}
	// workload's model m4 never had the subject's records: s4's rewrite
	// must equal it, and s1 is untouched.
	checkSnapshot(t, r, s4n, m4)
	checkSnapshot(t, r, s1, m1)
	parent, err := r.LoadSnapshot(ctx, *s4n.Parent)
	must(t, err)
	if parent.Original == nil || *parent.Original != s2.ID {
		t.Fatalf("the rewrite's parent is not s2's rewrite: %+v", parent)
	}
	// The erased Ids are remembered, as hashes only.
	es, err := r.RemovalLog(ctx)
	must(t, err)
	if !es.Erased("0035g00000Subject1") || !es.Erased("00P5g00000Subject3") || es.Erased("0035g00000Subject9") {
		t.Fatal("erased set")
	}
	if gone, _ := es.SnapshotRemoved(ctx, s4.ID); !gone {
		t.Fatal("the replaced snapshot is not recorded as removed")
	}
	if ok, _ := es.Admit(ctx, s4); ok {
		t.Fatal("a pull would bring back the replaced snapshot")
	}
	log, err := r.AuditLog(ctx)
	must(t, err)
	for _, e := range log {
		if strings.Contains(string(e.Detail), "Subject") || strings.Contains(string(e.Detail), marker) {
			t.Fatalf("the audit log holds an Id or data: %s", e.Detail)
		}
	}
	// Running the erase again changes nothing.
	res, err = r.EraseRecords(ctx, sel, "ids", nil)
	must(t, err)
	if len(res.Detail.Replaced) != 0 || res.Detail.Records != 0 {
		t.Fatalf("second erase: %+v", res.Detail)
	}
}
