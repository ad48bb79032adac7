package sftest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// ChurnOptions describes one simulated day of activity.
type ChurnOptions struct {
	Seed int64
	// Rate is the fraction of the org's records touched during the day
	// (e.g. 0.01); the counts below override the derived ones when set.
	Rate                                         float64
	Creates, Updates, Deletes, Undeletes, Purges int
	// NewFields adds this many custom text fields (schema changes).
	NewFields int
	// Day is the simulated span; zero ⇒ 24h. The org clock ends at its end.
	Day time.Duration
}

// ChurnStats reports what a Churn call did.
type ChurnStats struct {
	Created, Updated, Deleted, Undeleted, Purged, BinEmptied int
	NewFields                                                []string // Object.Field
}

// churnObjects are the objects users change day to day, with weights.
var churnObjects = []struct {
	name string
	w    float64
}{
	{"Account", 0.10}, {"Contact", 0.18}, {"Lead", 0.10}, {"Opportunity", 0.12}, {"OpportunityLineItem", 0.06},
	{"Case", 0.12}, {"Task", 0.16}, {"Event", 0.04}, {"Invoice__c", 0.05}, {"Invoice_Line__c", 0.03},
	{"Project__c", 0.02}, {"Note", 0.02},
}

// Churn applies a day of changes: creates, updates, soft deletes, undeletes,
// hard deletes (purges) and schema changes, spread over the day with the
// org clock moving to each change's time (a ManualClock ends the day at
// start+Day). The same org state, options and seed give the same changes.
// Soft-deleted records older than 15 days are purged, as the Recycle Bin
// empties itself.
func (o *Org) Churn(opts ChurnOptions) ChurnStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	day := opts.Day
	if day == 0 {
		day = 24 * time.Hour
	}
	var total int64
	for _, co := range churnObjects {
		total += o.state(co.name).n
	}
	n := float64(total) * opts.Rate
	counts := []int{opts.Creates, opts.Updates, opts.Deletes, opts.Undeletes, opts.Purges}
	for k, share := range []float64{0.2, 0.65, 0.1, 0.03, 0.02} {
		if counts[k] == 0 {
			counts[k] = int(math.Round(n * share))
		}
	}
	type event struct{ kind int }
	var events []event
	for k, c := range counts {
		for i := 0; i < c; i++ {
			events = append(events, event{k})
		}
	}
	r := mix(uint64(opts.Seed) ^ o.seed ^ uint64(o.nowMs()))
	next := func() uint64 { r = mix(r + 0x9e3779b97f4a7c15); return r }
	// Shuffle so kinds interleave through the day.
	for i := len(events) - 1; i > 0; i-- {
		j := int(next() % uint64(i+1))
		events[i], events[j] = events[j], events[i]
	}
	start := o.Now()
	mc, manual := o.clock.(*ManualClock)
	var stats ChurnStats
	pickObj := func() *objState {
		u := float64(next()>>11) / (1 << 53)
		for _, co := range churnObjects {
			if u < co.w {
				return o.state(co.name)
			}
			u -= co.w
		}
		return o.state("Task")
	}
	for i, ev := range events {
		if manual {
			mc.Set(start.Add(time.Duration(int64(day) * int64(i+1) / int64(len(events)+1))).Truncate(time.Second))
		}
		t := o.beginWrite()
		ok := false
		switch ev.kind {
		case 0:
			ok = o.churnCreate(pickObj(), next, t)
			if ok {
				stats.Created++
			}
		case 1, 2:
			st := pickObj()
			for try := 0; try < 8 && !ok && st.n > 0; try++ {
				idx := int64(next() % uint64(st.n))
				v, exists := st.at(idx, latest)
				if !exists || v != nil && v.deleted {
					continue
				}
				if ev.kind == 1 {
					ok = o.churnUpdate(st, idx, next, t)
					if ok {
						stats.Updated++
					}
				} else {
					ok = o.deleteRec(st, idx, t, "") == nil
					if ok {
						stats.Deleted++
					}
				}
			}
		case 3, 4:
			bin := o.recycleBin()
			if len(bin) == 0 {
				break
			}
			b := bin[next()%uint64(len(bin))]
			if ev.kind == 3 {
				ok = o.undeleteRec(b.st, b.idx, t) == nil
				if ok {
					stats.Undeleted++
				}
			} else {
				o.purgeRec(b.st, b.idx, t)
				ok = true
				stats.Purged++
			}
		}
		if ok {
			o.seq = t.seq
		}
	}
	for k := 0; k < opts.NewFields; k++ {
		st := pickObj()
		name := fmt.Sprintf("Churn_%s_%d__c", o.Now().Format("20060102"), k)
		if st.obj.Field(name) == nil {
			o.addFieldLocked(st, newField(name, "string").length(100))
			stats.NewFields = append(stats.NewFields, st.obj.Name+"."+name)
		}
	}
	if manual {
		mc.Set(start.Add(day))
	}
	// The Recycle Bin keeps records 15 days.
	cutoff := o.nowMs() - 15*dayMs
	t := o.beginWrite()
	for _, b := range o.recycleBin() {
		if v := b.st.recs[b.idx]; v.deletedMs < cutoff && v.cascade == "" {
			o.purgeRec(b.st, b.idx, t)
			stats.BinEmptied++
		}
	}
	if stats.BinEmptied > 0 {
		o.seq = t.seq
	}
	return stats
}

type binEntry struct {
	st  *objState
	idx int64
}

// recycleBin lists soft-deleted records in a deterministic order.
func (o *Org) recycleBin() []binEntry {
	var out []binEntry
	for _, st := range o.objs {
		var idxs []int64
		for idx, v := range st.recs {
			if v.deleted && !v.purged {
				idxs = append(idxs, idx)
			}
		}
		sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
		for _, idx := range idxs {
			out = append(out, binEntry{st, idx})
		}
	}
	return out
}

// churnCreate inserts a record modelled on a random generated one.
func (o *Org) churnCreate(st *objState, next func() uint64, t wtx) bool {
	if st.genN == 0 || !st.obj.Createable {
		return false
	}
	model := int64(next() % uint64(st.genN))
	vals := o.materialize(st, model)
	for _, f := range st.obj.Fields {
		if !f.Createable && f.calc == nil && !strings.HasSuffix(f.Name, "Id") || f.AutoNumber {
			vals[f.pos] = null
		}
		if f.Type == "reference" && !vals[f.pos].IsNull() {
			if _, err := o.checkRef(f, vals[f.pos].S); err != nil {
				vals[f.pos] = null // the model's parent is gone
			}
		}
	}
	idx := st.n
	st.n++
	if f := st.obj.Field("OwnerId"); f != nil {
		vals[f.pos] = vStr(t.user)
	}
	o.autoFields(st, idx, vals)
	o.setAudit(st.obj, vals, t, true)
	if o.checkRecord(st, idx, vals, true) != nil {
		st.n--
		return false
	}
	o.applyInsert(&pendingInsert{st, idx, vals}, t)
	return true
}

// churnUpdate changes one or two ordinary fields of a record.
func (o *Org) churnUpdate(st *objState, idx int64, next func() uint64, t wtx) bool {
	var cands []*Field
	for _, f := range st.obj.Fields {
		if f.Updateable && f.calc == nil && f.Type != "reference" && f.Type != "base64" && f.CompoundName == "" && !f.ExternalID && !f.NameField && f.Nillable {
			cands = append(cands, f)
		}
	}
	if len(cands) == 0 {
		return false
	}
	vals := o.materialize(st, idx)
	for k := 0; k < 1+int(next()%2); k++ {
		f := cands[next()%uint64(len(cands))]
		r := next()
		var v Value
		switch kindOf(f.Type) {
		case KBool:
			v = vBool(r%2 == 0)
		case KInt:
			v = vInt(int64(r % 10000))
		case KFloat:
			v = vFloat(float64(r%1000000) / 100)
		case KDate:
			v = Value{K: KDate, I: floorDiv(t.stamp, dayMs) + int64(r%60)}
		case KDateTime:
			v = Value{K: KDateTime, I: t.stamp}
		default:
			if len(f.Picklist) > 0 {
				v = vStr(f.Picklist[r%uint64(len(f.Picklist))])
			} else {
				v = vStr(words(r, 2, min(8, max(2, f.Length/8))))
				if len(v.S) > f.Length {
					v.S = v.S[:f.Length]
				}
			}
		}
		vals[f.pos] = v
	}
	o.setAudit(st.obj, vals, t, false)
	if o.checkRecord(st, idx, vals, false) != nil {
		return false
	}
	st.commit(idx, &version{vals: vals}, t.seq)
	return true
}

// AddField adds a custom field to an object (a schema change): existing
// records have it null, describe shows it, Last-Modified moves.
func (o *Org) AddField(object, name, typ string, length int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.state(object)
	if st == nil {
		return fmt.Errorf("sftest: no object %q", object)
	}
	if !strings.HasSuffix(name, "__c") {
		return fmt.Errorf("sftest: custom field %q must end in __c", name)
	}
	if st.obj.Field(name) != nil {
		return fmt.Errorf("sftest: %s.%s exists", object, name)
	}
	f := newField(name, typ)
	if length > 0 {
		f.Length = length
	}
	o.addFieldLocked(st, f)
	return nil
}

func (o *Org) addFieldLocked(st *objState, f *Field) {
	st.obj.add(f)
	st.obj.Modified = o.Now()
}
