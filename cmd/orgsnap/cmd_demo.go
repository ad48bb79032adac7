package main

import (
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
)

// The demo shows the repository at work with no setup: it makes a
// throwaway repository, snapshots a small generated data set, applies a
// day of churn, takes a synthetic snapshot and shows what changed.
//
// TODO(issue 4): run the snapshot engine against the embedded Salesforce
// emulator instead of writing generated records straight into the
// repository.
func newDemoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "see orgsnap work in a few seconds, with nothing to set up",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "records", Value: 20000, Usage: "records per object"},
			&cli.StringFlag{Name: "keep", Usage: "leave the demo repository in `DIR` instead of deleting it"},
		},
		Action: func(c *cli.Context) error {
			ctx := background(c)
			dir := c.String("keep")
			if dir == "" {
				tmp, err := os.MkdirTemp("", "orgsnap-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			out(c, "== creating an encrypted repository in %s\n", dir)
			r, err := repo.Init(ctx, dir, repo.Options{Password: []byte("demo"), KDF: keyParams(), Purpose: "orgsnap demo"})
			if err != nil {
				return err
			}
			defer r.Close()

			org := newDemoOrg(c.Int("records"))
			t0 := time.Now()
			w, err := r.NewWriter(ctx, repo.WriterOptions{Org: "00D5g000000DEMOEAA", Time: org.now})
			if err != nil {
				return err
			}
			for _, obj := range org.objects {
				if err := w.ReplaceObject(ctx, obj); err != nil {
					return err
				}
				for id, rec := range org.records[obj] {
					if err := w.PutRecord(ctx, obj, id, rec); err != nil {
						return err
					}
				}
			}
			full, err := w.Commit(ctx)
			if err != nil {
				return err
			}
			ws := r.WriteStats()
			out(c, "== full snapshot %s: %d records in %s, %s of records stored as %s on disk\n",
				full.ID.Short(), full.Records(), time.Since(t0).Round(time.Millisecond), human(ws.Bytes), human(ws.PackBytes))

			changes := org.churn()
			out(c, "== a day passes in the org: %d records created, updated or deleted\n", len(changes))
			t1 := time.Now()
			w, err = r.NewWriter(ctx, repo.WriterOptions{Parent: full, Org: "00D5g000000DEMOEAA", Time: org.now})
			if err != nil {
				return err
			}
			for _, ch := range changes {
				if ch.deleted {
					err = w.DeleteRecord(ctx, ch.object, ch.id)
				} else {
					err = w.PutRecord(ctx, ch.object, ch.id, org.records[ch.object][ch.id])
				}
				if err != nil {
					return err
				}
			}
			syn, err := w.Commit(ctx)
			if err != nil {
				return err
			}
			ws2 := r.WriteStats()
			out(c, "== synthetic snapshot %s (logically full: %d records) in %s, writing %s (%.1f%% of the first)\n",
				syn.ID.Short(), syn.Records(), time.Since(t1).Round(time.Millisecond), human(ws2.PackBytes-ws.PackBytes),
				100*float64(ws2.PackBytes-ws.PackBytes)/float64(ws.PackBytes))

			out(c, "== what changed (orgsnap diff %s %s), first lines:\n", full.ID.Short(), syn.ID.Short())
			shown, total := 0, 0
			err = r.Diff(ctx, full, syn, func(ch repo.Change) error {
				total++
				if shown < 8 {
					shown++
					switch ch.Kind {
					case repo.Added:
						out(c, "  + %s %s\n", ch.Object, ch.ID)
					case repo.Deleted:
						out(c, "  - %s %s\n", ch.Object, ch.ID)
					default:
						out(c, "  ~ %s %s: %s\n", ch.Object, ch.ID, fieldDiff(ch.Old, ch.New))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			out(c, "  … %d changes in all\n", total)
			rep, err := r.Check(ctx, true, nil)
			if err != nil {
				return err
			}
			out(c, "== orgsnap check --read-data: %d snapshots, %d packs, %d problems\n", rep.Snapshots, rep.Packs, len(rep.Problems))
			return nil
		},
	}
}

// demoOrg is a tiny deterministic stand-in for an org.
type demoOrg struct {
	rng     *rand.Rand
	now     time.Time
	objects []string
	prefix  map[string]string
	records map[string]map[string]record.Record
	next    int
}

type demoChange struct {
	object, id string
	deleted    bool
}

var demoNames = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"}
var demoCities = []string{"Paris", "Lyon", "Berlin", "Madrid", "Austin", "Denver", "Osaka", "Lagos", "Lima", "Oslo"}

func newDemoOrg(n int) *demoOrg {
	o := &demoOrg{rng: rand.New(rand.NewSource(1)), now: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC),
		objects: []string{"Account", "Contact"}, prefix: map[string]string{"Account": "001", "Contact": "003"},
		records: map[string]map[string]record.Record{}}
	for _, obj := range o.objects {
		o.records[obj] = map[string]record.Record{}
		for i := 0; i < n; i++ {
			o.create(obj)
		}
	}
	return o
}

func (o *demoOrg) create(obj string) string {
	o.next++
	id := fmt.Sprintf("%s5g%010dAAA", o.prefix[obj], o.next)
	o.records[obj][id] = o.record(obj, id)
	return id
}

// record makes a record's fields (the Id is the key, not a field), sorted
// by name as record.Record requires.
func (o *demoOrg) record(obj, id string) record.Record {
	name := demoNames[o.rng.Intn(len(demoNames))]
	city := demoCities[o.rng.Intn(len(demoCities))]
	str := func(n, v string) record.Field { return record.Field{Name: n, Kind: record.String, Value: v} }
	return record.Record{
		{Name: "AnnualRevenue", Kind: record.Number, Value: fmt.Sprint(o.rng.Intn(50) * 100000)},
		str("BillingCity", city),
		str("Description", fmt.Sprintf("%s customer since %d", strings.ToLower(name), 2000+o.rng.Intn(26))),
		str("Industry", []string{"Energy", "Retail", "Banking", "Media"}[o.rng.Intn(4)]),
		str("Name", fmt.Sprintf("%s %d", name, o.rng.Intn(1000))),
		str("Phone", fmt.Sprintf("+33 1 %02d %02d %02d %02d", o.rng.Intn(100), o.rng.Intn(100), o.rng.Intn(100), o.rng.Intn(100))),
		str("SystemModstamp", o.now.Format("2006-01-02T15:04:05.000Z")),
	}
}

// churn applies a day of changes to about 1% of the records.
func (o *demoOrg) churn() []demoChange {
	o.now = o.now.Add(24 * time.Hour)
	var out []demoChange
	for _, obj := range o.objects {
		ids := make([]string, 0, len(o.records[obj]))
		for id := range o.records[obj] {
			ids = append(ids, id)
		}
		n := len(ids) / 100
		for i := 0; i < n; i++ {
			id := ids[o.rng.Intn(len(ids))]
			switch o.rng.Intn(10) {
			case 0:
				delete(o.records[obj], id)
				out = append(out, demoChange{obj, id, true})
			case 1, 2:
				out = append(out, demoChange{obj, o.create(obj), false})
			default:
				o.records[obj][id] = o.record(obj, id)
				out = append(out, demoChange{obj, id, false})
			}
		}
	}
	return out
}

// fieldDiff shows which fields differ, shortly: Name: old → new.
func fieldDiff(a, b record.Record) string {
	var d []string
	show := func(f record.Field, ok bool) string {
		switch {
		case !ok:
			return "(absent)"
		case f.Kind == record.String:
			return fmt.Sprintf("%q", f.Value)
		case f.Kind == record.Null:
			return "null"
		}
		return f.Value
	}
	names := map[string]bool{}
	for _, f := range append(append(record.Record(nil), a...), b...) {
		names[f.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		fa, aok := a.Get(n)
		fb, bok := b.Get(n)
		if aok != bok || fa != fb {
			d = append(d, n+": "+show(fa, aok)+" → "+show(fb, bok))
		}
	}
	if len(d) > 2 {
		d = append(d[:2], "…")
	}
	return strings.Join(d, ", ")
}
