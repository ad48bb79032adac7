package retention

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// model is an independent statement of the policy, written differently
// from Apply: per rule, it computes the set of buckets that hold a
// snapshot, takes the most recent n of them, and keeps the newest snapshot
// of each (brute force over every snapshot; no walk, no running counter).
func model(snaps []Snapshot, p Policy, now time.Time) map[string]bool {
	kept := map[string]bool{}
	groups := map[string][]Snapshot{}
	for _, s := range snaps {
		groups[s.Group] = append(groups[s.Group], s)
	}
	// newer reports whether a comes before b in "newest first" order.
	newer := func(a, b Snapshot) bool {
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		return a.ID > b.ID
	}
	for _, g := range groups {
		var list, ckpts []Snapshot
		for _, s := range g {
			if s.Checkpoint {
				ckpts = append(ckpts, s)
			} else {
				list = append(list, s)
			}
		}
		// oldest snapshot of the group
		var oldest *Snapshot
		for i := range list {
			if oldest == nil || newer(*oldest, list[i]) {
				oldest = &list[i]
			}
		}
		byBucket := func(n int, key func(time.Time) string, withOldest bool) {
			if n == 0 {
				return
			}
			newestIn := map[string]Snapshot{}
			for _, s := range list {
				k := key(s.Time)
				if cur, ok := newestIn[k]; !ok || newer(s, cur) {
					newestIn[k] = s
				}
			}
			var buckets []Snapshot
			for _, s := range newestIn {
				buckets = append(buckets, s)
			}
			sort.Slice(buckets, func(i, j int) bool { return newer(buckets[i], buckets[j]) })
			take := len(buckets)
			if n > 0 && n < take {
				take = n
			}
			for _, s := range buckets[:take] {
				kept[s.ID] = true
			}
			if withOldest && oldest != nil && (n < 0 || len(buckets) < n) {
				kept[oldest.ID] = true
			}
		}
		// keep-last: each snapshot is its own bucket
		if p.Last != 0 {
			sorted := append([]Snapshot(nil), list...)
			sort.Slice(sorted, func(i, j int) bool { return newer(sorted[i], sorted[j]) })
			n := len(sorted)
			if p.Last > 0 && p.Last < n {
				n = p.Last
			}
			for _, s := range sorted[:n] {
				kept[s.ID] = true
			}
		}
		byBucket(p.Hourly, func(t time.Time) string { return t.UTC().Format("2006010215") }, true)
		byBucket(p.Daily, func(t time.Time) string { return t.UTC().Format("20060102") }, true)
		byBucket(p.Weekly, func(t time.Time) string { y, w := t.UTC().ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) }, true)
		byBucket(p.Monthly, func(t time.Time) string { return t.UTC().Format("200601") }, true)
		byBucket(p.Yearly, func(t time.Time) string { return t.UTC().Format("2006") }, true)

		if !p.Within.Zero() {
			var latest time.Time
			for _, s := range list {
				if !s.Time.After(now) && s.Time.After(latest) {
					latest = s.Time
				}
			}
			cut := latest.AddDate(-p.Within.Years, -p.Within.Months, -p.Within.Days).Add(time.Duration(-p.Within.Hours) * time.Hour)
			for _, s := range list {
				if s.Time.After(now) || (!latest.IsZero() && s.Time.After(cut)) {
					kept[s.ID] = true
				}
			}
		}
		if p.Periods != 0 {
			newestOf := map[string]Snapshot{}
			for _, s := range list {
				if cur, ok := newestOf[s.Period]; !ok || newer(s, cur) {
					newestOf[s.Period] = s
				}
			}
			var pers []Snapshot
			for _, s := range newestOf {
				pers = append(pers, s)
			}
			sort.Slice(pers, func(i, j int) bool { return newer(pers[i], pers[j]) })
			if p.Periods > 0 && p.Periods < len(pers) {
				pers = pers[:p.Periods]
			}
			in := map[string]bool{}
			for _, s := range pers {
				in[s.Period] = true
			}
			for _, s := range list {
				if in[s.Period] {
					kept[s.ID] = true
				}
			}
		}
		for _, s := range list {
			if len(s.Refs) > 0 {
				kept[s.ID] = true
			}
			for _, l := range p.Tags {
				all := true
				for _, t := range l {
					found := false
					for _, st := range s.Tags {
						found = found || st == t
					}
					all = all && found
				}
				if all {
					kept[s.ID] = true
				}
			}
		}
		for _, c := range ckpts {
			superseded := false
			for _, s := range list {
				if !s.Time.Before(c.Time) {
					superseded = true
				}
			}
			if !superseded {
				kept[c.ID] = true
			}
		}
	}
	return kept
}

func randomHistory(rng *rand.Rand, now time.Time) []Snapshot {
	n := rng.IntN(60)
	var out []Snapshot
	t := now.Add(-time.Duration(rng.IntN(5*24*365)) * time.Hour)
	tags := []string{"legal", "monthly", "pre-release"}
	groups := []string{"00Dprod/main", "00Dprod/nightly", "00Dsandbox/main"}
	for i := 0; i < n; i++ {
		// Steps from minutes to months, so that many snapshots share an
		// hour, a day, a week or a month, and some periods are empty.
		switch rng.IntN(5) {
		case 0:
			t = t.Add(time.Duration(rng.IntN(90)) * time.Minute)
		case 1:
			t = t.Add(time.Duration(rng.IntN(30)) * time.Hour)
		case 2:
			t = t.Add(time.Duration(rng.IntN(10)) * 24 * time.Hour)
		default:
			t = t.Add(time.Duration(rng.IntN(70)) * 24 * time.Hour)
		}
		s := Snapshot{
			ID:     fmt.Sprintf("%08x%02d", rng.Uint32(), i),
			Time:   t,
			Period: t.UTC().Format("0601"),
			Group:  groups[rng.IntN(len(groups))],
		}
		if rng.IntN(10) == 0 {
			s.Period = "legacy" // a custom period name
		}
		if rng.IntN(4) == 0 {
			s.Tags = append(s.Tags, tags[rng.IntN(len(tags))])
		}
		if rng.IntN(8) == 0 {
			s.Tags = append(s.Tags, tags[rng.IntN(len(tags))])
		}
		if rng.IntN(9) == 0 {
			s.Checkpoint = true
		}
		if !s.Checkpoint && rng.IntN(15) == 0 {
			s.Refs = []string{"main"}
		}
		if rng.IntN(12) == 0 && len(out) > 0 {
			s.Time = out[rng.IntN(len(out))].Time // equal times: the ID breaks ties
		}
		out = append(out, s)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func randomPolicy(rng *rand.Rand) Policy {
	var p Policy
	count := func() int {
		switch rng.IntN(6) {
		case 0, 1, 2:
			return 0
		case 3:
			return Unlimited
		}
		return 1 + rng.IntN(6)
	}
	for p.Empty() {
		p.Last, p.Hourly, p.Daily, p.Weekly = count(), count(), count(), count()
		p.Monthly, p.Yearly, p.Periods = count(), count(), count()
		if rng.IntN(3) == 0 {
			p.Within = Duration{Years: rng.IntN(2), Months: rng.IntN(13), Days: rng.IntN(40), Hours: rng.IntN(30)}
		}
		if rng.IntN(4) == 0 {
			p.Tags = [][]string{{"legal"}}
			if rng.IntN(2) == 0 {
				p.Tags = append(p.Tags, []string{"monthly", "pre-release"})
			}
		}
	}
	return p
}

// The kept set equals the independent model for generated histories and
// policies; every decision has a reason.
func TestApplyMatchesModel(t *testing.T) {
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 2026))
	for iter := 0; iter < 4000; iter++ {
		snaps := randomHistory(rng, now)
		p := randomPolicy(rng)
		got, err := Apply(snaps, p, now)
		if err != nil {
			t.Fatal(err)
		}
		want := model(snaps, p, now)
		for _, d := range got {
			if d.Keep != want[d.Snapshot.ID] {
				t.Fatalf("iteration %d, policy %s: snapshot %s (%s, period %s, group %s, tags %v, checkpoint %v): Apply keep=%v %v, model keep=%v",
					iter, p, d.Snapshot.ID, d.Snapshot.Time.Format(time.RFC3339), d.Snapshot.Period, d.Snapshot.Group,
					d.Snapshot.Tags, d.Snapshot.Checkpoint, d.Keep, d.Reasons, want[d.Snapshot.ID])
			}
			if len(d.Reasons) == 0 {
				t.Fatalf("snapshot %s decided without a reason", d.Snapshot.ID)
			}
		}
	}
}

func TestEmptyPolicyRefused(t *testing.T) {
	_, err := Apply([]Snapshot{{ID: "a", Time: time.Now()}}, Policy{}, time.Now())
	if !errors.Is(err, ErrEmptyPolicy) {
		t.Fatalf("empty policy: %v", err)
	}
	if _, err := Apply(nil, Policy{Daily: -2}, time.Now()); err == nil {
		t.Fatal("a count of -2 was accepted")
	}
}

// Restic's documented example semantics: daily counts days that have
// snapshots, and the newest snapshot of a day is the one kept.
func TestDailyKeepsNewestOfDaysWithSnapshots(t *testing.T) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	snaps := []Snapshot{
		{ID: "a", Time: at("2026-11-01T01:00:00Z")},
		{ID: "b", Time: at("2026-11-01T23:00:00Z")},
		{ID: "c", Time: at("2026-11-05T10:00:00Z")}, // days 2-4 have no snapshot
		{ID: "d", Time: at("2026-11-06T10:00:00Z")},
	}
	got, err := Apply(snaps, Policy{Daily: 3}, at("2026-11-07T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, d := range got {
		if d.Keep {
			kept = append(kept, d.Snapshot.ID+":"+strings.Join(d.Reasons, "+"))
		}
	}
	want := "b:daily snapshot c:daily snapshot d:daily snapshot"
	if strings.Join(kept, " ") != want {
		t.Fatalf("kept %v, want %s", kept, want)
	}
	// With budget left at the oldest, the oldest is kept too.
	got, _ = Apply(snaps, Policy{Daily: 5}, at("2026-11-07T00:00:00Z"))
	if !got[0].Keep || got[0].Reasons[0] != "oldest daily snapshot" {
		t.Fatalf("oldest: %+v", got[0])
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]Duration{
		"1y2m3d4h": {1, 2, 3, 4}, "90d": {Days: 90}, "18m": {Months: 18}, "30": {Days: 30}, "2y": {Years: 2},
		"3d1y": {Years: 1, Days: 3},
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %+v %v", in, back, err)
		}
	}
	for _, in := range []string{"", "1w", "y", "1y1y", "-3d", "5x", "1.5d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}
