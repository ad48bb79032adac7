package restore

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText prints the plan for people: per object in the order written,
// what happens to how many records, which fields, and what is left alone.
func (p *Plan) WriteText(w io.Writer) {
	short := p.Snapshot
	if len(short) > 8 {
		short = short[:8]
	}
	fmt.Fprintf(w, "restore from snapshot %s (%s)", short, p.Time.UTC().Format("2006-01-02 15:04"))
	if p.TargetOrg != "" {
		fmt.Fprintf(w, " into org %s", p.TargetOrg)
	}
	if p.CrossOrg {
		fmt.Fprint(w, " (another org: records matched by external Id or inserted)")
	}
	fmt.Fprintln(w)
	if p.Window != "" {
		fmt.Fprintf(w, "changes of %s rolled back", p.Window)
		if p.LeftCreated > 0 {
			fmt.Fprintf(w, "; %d records created in that window are left (a restore never deletes)", p.LeftCreated)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "order: %s\n", strings.Join(p.Order, " → "))
	for _, op := range p.Objects {
		fmt.Fprintf(w, "\n%s: %d records", op.Object, op.Records)
		if op.Via != "" && op.Insert+op.Update > 0 {
			fmt.Fprintf(w, " (via %s)", op.Via)
		}
		fmt.Fprintln(w)
		if op.Undelete > 0 {
			fmt.Fprintf(w, "  undelete   %6d  from the Recycle Bin, Ids kept\n", op.Undelete)
		}
		if op.WithParent > 0 {
			fmt.Fprintf(w, "  undelete   %6d  with their master (cascade)\n", op.WithParent)
		}
		if op.Insert > 0 {
			fmt.Fprintf(w, "  insert     %6d  gone from the org: new Ids", op.Insert)
			if op.Files > 0 {
				fmt.Fprintf(w, " (%d with their file bodies)", op.Files)
			}
			fmt.Fprintln(w)
		}
		if op.Update > 0 {
			fmt.Fprintf(w, "  update     %6d  %s\n", op.Update, countList(op.UpdateFields))
		}
		if op.Unchanged > 0 {
			fmt.Fprintf(w, "  unchanged  %6d  equal to the snapshot, skipped\n", op.Unchanged)
		}
		if len(op.Repoint) > 0 {
			fmt.Fprintf(w, "  re-point   %s\n", countList(op.Repoint))
		}
		if op.FallbackOwner > 0 {
			fmt.Fprintf(w, "  owner      %6d  inactive owner replaced by the fallback owner\n", op.FallbackOwner)
		}
		if len(op.Deferred) > 0 {
			fmt.Fprintf(w, "  2nd pass   %s\n", countList(op.Deferred))
		}
		if len(op.NotCreateable) > 0 && op.Insert > 0 {
			fmt.Fprintf(w, "  not written on insert (not createable): %s\n", strings.Join(op.NotCreateable, ", "))
		}
		if len(op.NotUpdateable) > 0 && op.Update > 0 {
			fmt.Fprintf(w, "  not written on update (not updateable): %s\n", strings.Join(op.NotUpdateable, ", "))
		}
		if len(op.NotInTarget) > 0 {
			fmt.Fprintf(w, "  not in the target org: %s\n", strings.Join(op.NotInTarget, ", "))
		}
		for _, k := range sortedKeys(op.Skipped) {
			fmt.Fprintf(w, "  skipped    %6d  %s\n", op.Skipped[k], k)
		}
	}
	if p.SecondPass > 0 {
		fmt.Fprintf(w, "\nsecond pass: %d references set after every insert (self-lookups, cycles)\n", p.SecondPass)
	}
}

func countList(m map[string]int) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// ResultHeader is the header of the results CSV.
var ResultHeader = []string{"object", "old_id", "new_id", "action", "status", "fields", "error", "message"}

// WriteResultsCSV writes one row per record: what was done and how it
// ended (Salesforce's error code and message for failures).
func WriteResultsCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	cw.Write(ResultHeader)
	for _, r := range results {
		cw.Write([]string{r.Object, r.OldID, r.NewID, r.Action, r.Status, strings.Join(r.Fields, ";"), r.Error, r.Message})
	}
	cw.Flush()
	return cw.Error()
}

// WriteSummary prints the outcome of an executed restore.
func (r *Report) WriteSummary(w io.Writer) {
	byAction := map[string]int{}
	for _, res := range r.Results {
		if res.Status == "ok" {
			byAction[res.Action]++
		}
	}
	fmt.Fprintf(w, "restored: %d ok (%s), %d unchanged, %d failed\n", r.OK, countList(byAction), r.Unchanged, r.Failed)
	shown := 0
	for _, res := range r.Results {
		if res.Status != "failed" {
			continue
		}
		if shown == 10 {
			fmt.Fprintf(w, "  … %d more failures in the results\n", r.Failed-shown)
			break
		}
		fmt.Fprintf(w, "  %s %s %s: %s %s\n", res.Action, res.Object, res.OldID, res.Error, res.Message)
		shown++
	}
}
