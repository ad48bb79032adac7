package sftest

import (
	"net/http"
	"strings"
)

// DuplicateRule is a duplicate rule with an exact matching rule: an insert
// or update of Object whose Fields (every one non-null; text compared
// without regard to case) equal those of another live record of Object
// fails with DUPLICATES_DETECTED. A rule whose action is Allow with an
// alert (Block false) lets the write through when the request carries
// Sforce-Duplicate-Rule-Header: allowSave=true; a blocking rule never
// does. Rules apply to REST writes (single records, Collections, Tree,
// upserts, file uploads) and to Org.Insert and Org.Update; Bulk API ingest
// has no such header and is checked as without allowSave (unconfirmed).
type DuplicateRule struct {
	Object, Name string
	Fields       []string
	Block        bool
}

// DuplicateRuleHeader is the request header that carries allowSave.
const DuplicateRuleHeader = "Sforce-Duplicate-Rule-Header"

// allowSave reads allowSave=true from the duplicate rule header
// ("allowSave=true; includeRecordDetails=false; …").
func allowSave(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(DuplicateRuleHeader), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "allowSave") && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// duplicateMessage is the message of a duplicate rule's alert as the API
// returns it (reference §7.2's example).
const duplicateMessage = "Use one of these records?"

// checkWriteRules runs the rules of an API write beyond the record's own
// checks: the owner it sets must be active (Options.RejectInactiveOwners),
// and no duplicate rule may match. idx is the record written (an insert's
// new index), vals its values after the write, sets what the write assigns.
func (o *Org) checkWriteRules(st *objState, idx int64, vals []Value, sets []setVal, in input) *Error {
	if o.opts.RejectInactiveOwners {
		for _, s := range sets {
			if s.f.Name == "OwnerId" && !s.v.IsNull() && !o.userActive(s.v.S) {
				return saveErr("INACTIVE_OWNER_OR_USER", "operation performed with inactive user ["+s.v.S+"] as owner of "+strings.ToLower(st.obj.Name), "OwnerId")
			}
		}
	}
	for _, dr := range o.opts.DuplicateRules {
		if !strings.EqualFold(dr.Object, st.obj.Name) || len(dr.Fields) == 0 || in.allowSave && !dr.Block {
			continue
		}
		if o.duplicateOf(st, idx, vals, dr.Fields) {
			return saveErr("DUPLICATES_DETECTED", duplicateMessage)
		}
	}
	return nil
}

// userActive reports whether id is a User whose IsActive is true.
func (o *Org) userActive(id string) bool {
	st, idx, ok := o.locate(To18(id))
	if !ok || st.obj.Name != "User" {
		return false
	}
	v, ok := st.at(idx, latest)
	if !ok || v != nil && v.deleted {
		return false
	}
	var r row
	r.reset(o, st, idx, v)
	a := r.get("IsActive")
	return a.K == KBool && a.I != 0
}

// duplicateOf reports whether another live record of st has the values of
// vals in every field of names (none of them null).
func (o *Org) duplicateOf(st *objState, idx int64, vals []Value, names []string) bool {
	var fields []*Field
	var want []string
	for _, n := range names {
		f := st.obj.Field(n)
		if f == nil || f.pos >= len(vals) || vals[f.pos].IsNull() {
			return false
		}
		fields = append(fields, f)
		want = append(want, string(vals[f.pos].appendCSV(nil)))
	}
	var r row
	for i := int64(0); i < st.n; i++ {
		if i == idx {
			continue
		}
		v, ok := st.at(i, latest)
		if !ok || v != nil && v.deleted {
			continue
		}
		r.reset(o, st, i, v)
		same := true
		for j, f := range fields {
			if x := r.val(f); x.IsNull() || !strings.EqualFold(string(x.appendCSV(nil)), want[j]) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}
