// Package retention decides which snapshots a retention policy keeps. It is
// pure: it sees snapshots as (time, period, tags, group) and takes the clock
// as an argument, so the same inputs always give the same decisions.
//
// The bucket rules follow restic's semantics exactly, in UTC:
//
//   - Snapshots are grouped (by org and ref in orgsnap); the policy applies
//     to each group on its own. Within a group they are walked newest first.
//   - --keep-last n keeps the n newest snapshots.
//   - --keep-hourly/daily/weekly/monthly/yearly n map each snapshot time to a
//     bucket (YYYYMMDDHH, YYYYMMDD, ISO year and week, YYYYMM, YYYY). Walking
//     newest first, a snapshot is kept when its bucket differs from the
//     bucket of the last snapshot that rule kept and the rule's count is not
//     used up. So n counts the n most recent buckets that hold a snapshot
//     (not calendar buckets), and the newest snapshot of each is kept.
//   - When a bucket rule (keep-last included) still has count left at the
//     group's oldest snapshot, that snapshot is kept too ("oldest …"), which
//     keeps the longest history the counts allow.
//   - A count of -1 means unlimited.
//   - --keep-within d keeps every snapshot newer than the group's latest
//     snapshot minus d (the latest not in the future of the clock), so a
//     paused schedule does not age everything out. Snapshots in the future
//     are kept by it.
//   - --keep-periods n keeps every snapshot (not only the newest) of the n
//     most recent periods (Snapshot.Period, YYMM by default) that hold a
//     snapshot.
//   - --keep-tag keeps a snapshot carrying every tag of one of the lists.
//   - Rules are OR-ed: a snapshot is kept when any rule keeps it, and every
//     rule that keeps it is given as a reason.
//
// Two rules are orgsnap's own: a snapshot a ref names is always kept (the
// next run builds on it), and checkpoints (progress of an unfinished run)
// are not subject to the policy: one is garbage once a complete snapshot of
// its group is at least as new (that run finished or was superseded), and
// kept otherwise (a run may resume it).
package retention

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrEmptyPolicy is returned by Apply for a policy with no rule: it would
// remove every snapshot, which is never what a forgotten flag meant.
var ErrEmptyPolicy = errors.New("empty retention policy: give at least one --keep-* rule (or save a policy with --save-policy)")

// Unlimited is the count that keeps every bucket.
const Unlimited = -1

// Policy is a retention policy. The zero value is empty (keeps nothing, and
// Apply refuses it).
type Policy struct {
	Last    int `json:"last,omitempty"`
	Hourly  int `json:"hourly,omitempty"`
	Daily   int `json:"daily,omitempty"`
	Weekly  int `json:"weekly,omitempty"`
	Monthly int `json:"monthly,omitempty"`
	Yearly  int `json:"yearly,omitempty"`
	// Within keeps snapshots newer than the group's latest minus this.
	Within Duration `json:"within,omitzero"`
	// Periods keeps whole periods: the n most recent that hold snapshots.
	Periods int `json:"periods,omitempty"`
	// Tags: a snapshot carrying all tags of any one list is kept.
	Tags [][]string `json:"tags,omitempty"`
}

// Empty reports whether the policy has no rule.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 &&
		p.Yearly == 0 && p.Within.Zero() && p.Periods == 0 && len(p.Tags) == 0
}

// Validate rejects counts below -1 and empty tag lists.
func (p Policy) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly},
		{"monthly", p.Monthly}, {"yearly", p.Yearly}, {"periods", p.Periods}} {
		if c.n < Unlimited {
			return fmt.Errorf("--keep-%s %d: give a count ≥ 0, or -1 for unlimited", c.name, c.n)
		}
	}
	for _, l := range p.Tags {
		if len(l) == 0 {
			return errors.New("--keep-tag with an empty tag list")
		}
	}
	if p.Within.Years < 0 || p.Within.Months < 0 || p.Within.Days < 0 || p.Within.Hours < 0 {
		return errors.New("--keep-within: a duration cannot be negative")
	}
	return nil
}

// String describes the policy in flag syntax.
func (p Policy) String() string {
	var parts []string
	for _, c := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly},
		{"monthly", p.Monthly}, {"yearly", p.Yearly}, {"periods", p.Periods}} {
		if c.n != 0 {
			parts = append(parts, fmt.Sprintf("--keep-%s %d", c.name, c.n))
		}
	}
	if !p.Within.Zero() {
		parts = append(parts, "--keep-within "+p.Within.String())
	}
	for _, l := range p.Tags {
		parts = append(parts, "--keep-tag "+strings.Join(l, ","))
	}
	return strings.Join(parts, " ")
}

// Duration is a calendar duration: years, months, days and hours, applied
// with time.AddDate (so a month is a calendar month).
type Duration struct {
	Years  int `json:"y,omitempty"`
	Months int `json:"m,omitempty"`
	Days   int `json:"d,omitempty"`
	Hours  int `json:"h,omitempty"`
}

// Zero reports whether d is empty.
func (d Duration) Zero() bool { return d == Duration{} }

func (d Duration) String() string {
	var b strings.Builder
	for _, u := range []struct {
		n int
		c byte
	}{{d.Years, 'y'}, {d.Months, 'm'}, {d.Days, 'd'}, {d.Hours, 'h'}} {
		if u.n != 0 {
			b.WriteString(strconv.Itoa(u.n))
			b.WriteByte(u.c)
		}
	}
	if b.Len() == 0 {
		return "0d"
	}
	return b.String()
}

// Before returns t minus d.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

// ParseDuration reads "1y2m3d4h" (any subset, in any order, each unit at
// most once; m is months), or a plain number of days ("30" = 30d).
func ParseDuration(s string) (Duration, error) {
	var d Duration
	bad := func() (Duration, error) {
		return Duration{}, fmt.Errorf("duration %q: write it like 1y6m, 90d or 2y3m4d12h (y years, m months, d days, h hours)", s)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return bad()
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return Duration{Days: n}, nil
	}
	seen := map[byte]bool{}
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 6 {
			return bad()
		}
		n, _ := strconv.Atoi(s[:i])
		u := s[i]
		if seen[u] {
			return bad()
		}
		seen[u] = true
		switch u {
		case 'y':
			d.Years = n
		case 'm':
			d.Months = n
		case 'd':
			d.Days = n
		case 'h':
			d.Hours = n
		default:
			return bad()
		}
		s = s[i+1:]
	}
	return d, nil
}

// Snapshot is what the policy sees of a snapshot.
type Snapshot struct {
	ID     string
	Time   time.Time
	Period string
	Tags   []string
	// Group names the lineage the policy is applied to (org and ref).
	Group string
	// Checkpoint marks an unfinished run's progress (not subject to the
	// policy, see the package documentation).
	Checkpoint bool
	// Refs names the refs pointing at the snapshot: it is always kept.
	Refs []string
}

// Decision is the verdict on one snapshot, with every reason for it.
type Decision struct {
	Snapshot Snapshot
	Keep     bool
	Reasons  []string
}

type bucketRule struct {
	count  int
	bucket func(t time.Time, nr int) int
	reason string
}

func hourBucket(t time.Time, _ int) int {
	t = t.UTC()
	return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
}

func dayBucket(t time.Time, _ int) int {
	t = t.UTC()
	return t.Year()*10000 + int(t.Month())*100 + t.Day()
}

func weekBucket(t time.Time, _ int) int {
	y, w := t.UTC().ISOWeek()
	return y*100 + w
}

func monthBucket(t time.Time, _ int) int { t = t.UTC(); return t.Year()*100 + int(t.Month()) }
func yearBucket(t time.Time, _ int) int  { return t.UTC().Year() }
func eachSnapshot(_ time.Time, nr int) int {
	return nr
}

// Apply decides every snapshot. The result is in the order of snaps.
func Apply(snaps []Snapshot, p Policy, now time.Time) ([]Decision, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Empty() {
		return nil, ErrEmptyPolicy
	}
	out := make([]Decision, len(snaps))
	groups := map[string][]int{}
	var order []string
	for i, s := range snaps {
		out[i].Snapshot = s
		if _, ok := groups[s.Group]; !ok {
			order = append(order, s.Group)
		}
		groups[s.Group] = append(groups[s.Group], i)
	}
	for _, g := range order {
		applyGroup(snaps, groups[g], p, now, out)
	}
	return out, nil
}

// newestFirst orders snapshot indexes by time, newest first (ties by ID, so
// the order never depends on the input's).
func newestFirst(snaps []Snapshot, idx []int) []int {
	s := slices.Clone(idx)
	slices.SortStableFunc(s, func(a, b int) int {
		if c := snaps[b].Time.Compare(snaps[a].Time); c != 0 {
			return c
		}
		return strings.Compare(snaps[b].ID, snaps[a].ID)
	})
	return s
}

func applyGroup(snaps []Snapshot, idx []int, p Policy, now time.Time, out []Decision) {
	var list, ckpts []int
	for _, i := range newestFirst(snaps, idx) {
		if snaps[i].Checkpoint {
			ckpts = append(ckpts, i)
		} else {
			list = append(list, i)
		}
	}
	keep := func(i int, reason string) {
		out[i].Keep = true
		out[i].Reasons = append(out[i].Reasons, reason)
	}

	// The latest snapshot not in the future anchors --keep-within.
	var latest time.Time
	for _, i := range list {
		if t := snaps[i].Time; !t.After(now) && t.After(latest) {
			latest = t
		}
	}
	// --keep-periods: the n most recent periods holding a snapshot.
	keptPeriods := map[string]bool{}
	if p.Periods != 0 {
		for _, i := range list {
			per := snaps[i].Period
			if !keptPeriods[per] && (p.Periods == Unlimited || len(keptPeriods) < p.Periods) {
				keptPeriods[per] = true
			}
		}
	}
	rules := []bucketRule{
		{p.Last, eachSnapshot, "last snapshot"},
		{p.Hourly, hourBucket, "hourly snapshot"},
		{p.Daily, dayBucket, "daily snapshot"},
		{p.Weekly, weekBucket, "weekly snapshot"},
		{p.Monthly, monthBucket, "monthly snapshot"},
		{p.Yearly, yearBucket, "yearly snapshot"},
	}
	last := make([]int, len(rules))
	for i := range last {
		last[i] = -1 // no bucket value is negative
	}
	for nr, i := range list {
		s := snaps[i]
		for _, ref := range s.Refs {
			keep(i, "named by ref "+ref)
		}
		for _, l := range p.Tags {
			if hasAll(s.Tags, l) {
				keep(i, "has tags "+strings.Join(l, ","))
			}
		}
		if !p.Within.Zero() {
			switch {
			case s.Time.After(now):
				keep(i, "in the future")
			case !latest.IsZero() && s.Time.After(p.Within.Before(latest)):
				keep(i, "within "+p.Within.String())
			}
		}
		if keptPeriods[s.Period] {
			keep(i, "period "+s.Period)
		}
		oldest := nr == len(list)-1
		for r := range rules {
			if rules[r].count == 0 {
				continue
			}
			v := rules[r].bucket(s.Time, nr)
			if v == last[r] && !oldest {
				continue
			}
			reason := rules[r].reason
			if v == last[r] {
				reason = "oldest " + reason
			}
			keep(i, reason)
			last[r] = v
			if rules[r].count > 0 {
				rules[r].count--
			}
		}
		if !out[i].Keep {
			out[i].Reasons = append(out[i].Reasons, "no rule keeps it")
		}
	}

	// Checkpoints: garbage once a complete snapshot is at least as new.
	var newest *Snapshot
	if len(list) > 0 {
		newest = &snaps[list[0]]
	}
	for _, i := range ckpts {
		if newest != nil && !snaps[i].Time.After(newest.Time) {
			out[i].Reasons = append(out[i].Reasons, "checkpoint of a run superseded by snapshot "+short(newest.ID))
			continue
		}
		keep(i, "checkpoint of an unfinished run (it may be resumed)")
	}
}

func hasAll(tags, want []string) bool {
	for _, w := range want {
		if !slices.Contains(tags, w) {
			return false
		}
	}
	return true
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
