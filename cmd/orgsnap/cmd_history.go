package main

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

func newHistoryCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "every version of one record across the snapshots of a lineage",
		ArgsUsage: "ID (15 or 18 characters)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "object", Usage: "the record's `OBJECT` (default: found from the Id's key prefix)"},
			&cli.StringFlag{Name: "field", Usage: "only the values of `FIELD` over time"},
			&cli.StringFlag{Name: "rev", Value: repo.LatestRev, Usage: "follow the lineage of `REV` (its first parents)"},
			&cli.BoolFlag{Name: "reverse", Usage: "oldest first"},
		},
		Action: runHistory,
	}
}

// recordEvent is one version of a record: what a snapshot changed in it.
type recordEvent struct {
	Snapshot *repo.Snapshot
	// Kind is "created" (first seen), "changed", "deleted", or "undeleted"
	// (seen again under the same Id after a deletion).
	Kind   string
	Fields []fieldChange // changed, undeleted: the fields that differ from the last version seen
	Record record.Record // the version (nil when deleted)
	File   *[2]crypto.ID // the record's file changed: old, new (zero: none)
}

func runHistory(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("history needs one record Id (15 or 18 characters)")
	}
	id, err := sfapi.To18(c.Args().First())
	if err != nil {
		return usagef("%v", err)
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()
	ctx := background(c)
	tip, err := r.ResolveRevision(ctx, c.String("rev"))
	if err != nil {
		return err
	}
	object := c.String("object")
	if object == "" {
		if object, err = objectOfID(ctx, r, tip, id); err != nil {
			return err
		}
	}
	events, err := recordHistory(ctx, r, tip, object, id)
	if err != nil {
		return err
	}
	field := c.String("field")
	if field != "" {
		events = slices.DeleteFunc(events, func(e recordEvent) bool {
			return e.Kind == "changed" && !slices.ContainsFunc(e.Fields, func(f fieldChange) bool { return f.Name == field })
		})
	}
	if c.Bool("reverse") {
		slices.Reverse(events)
	}
	if c.Bool("json") {
		return printJSON(c, historyJSON(object, id, field, events))
	}
	if len(events) == 0 {
		out(c, "record %s (%s) is in no snapshot of the lineage of %s\n", id, object, tip.ID.Short())
		return nil
	}
	out(c, "record %s (%s): %d versions\n", id, object, len(events))
	for _, e := range events {
		s := e.Snapshot
		label := ""
		if e.Record != nil {
			label = " " + recordLabel(e.Record)
		}
		out(c, "%s %s  %s", s.ID.Short(), s.Time.UTC().Format("2006-01-02 15:04"), e.Kind)
		if field != "" {
			var v *record.Field
			if f, ok := e.Record.Get(field); ok {
				v = &f
			}
			out(c, "  %s: %s\n", field, showValue(v))
			continue
		}
		out(c, "%s\n", label)
		for _, f := range e.Fields {
			out(c, "    %s: %s → %s\n", f.Name, showValue(f.Old), showValue(f.New))
		}
		if e.File != nil {
			out(c, "    file: %s → %s\n", shortOrNone(e.File[0]), shortOrNone(e.File[1]))
		}
	}
	return nil
}

func shortOrNone(id crypto.ID) string {
	if id.IsZero() {
		return "(none)"
	}
	return id.Short()
}

// recordHistory returns the versions of one record along tip's lineage,
// newest first.
func recordHistory(ctx context.Context, r *repo.Repository, tip *repo.Snapshot, object, id string) ([]recordEvent, error) {
	states, err := r.RecordStates(ctx, tip, object, id)
	if err != nil {
		return nil, err
	}
	var events []recordEvent
	var last record.Record // the last version seen (survives a deletion)
	var lastFile crypto.ID
	present, seen := false, false
	for i := len(states) - 1; i >= 0; i-- {
		st := states[i]
		e := recordEvent{Snapshot: st.Snapshot, Record: st.Record}
		switch {
		case st.Record == nil && !present:
			continue
		case st.Record == nil:
			e.Kind, e.Record = "deleted", nil
			present = false
			events = append(events, e)
			continue
		case !present && !seen:
			e.Kind = "created"
		case !present:
			e.Kind = "undeleted"
			e.Fields = fieldChanges(last, st.Record)
		default:
			e.Fields = fieldChanges(last, st.Record)
			e.Kind = "changed"
			if len(e.Fields) == 0 && st.File == lastFile {
				continue
			}
		}
		if st.File != lastFile && (e.Kind != "created" || !st.File.IsZero()) {
			e.File = &[2]crypto.ID{lastFile, st.File}
		}
		present, seen, last, lastFile = true, true, st.Record, st.File
		events = append(events, e)
	}
	slices.Reverse(events)
	return events, nil
}

// objectOfID finds the object of a record Id: the object whose stored
// describe carries the Id's key prefix, else the object that holds the
// record in the snapshot.
func objectOfID(ctx context.Context, r *repo.Repository, s *repo.Snapshot, id string) (string, error) {
	objs, err := r.Objects(ctx, s)
	if err != nil {
		return "", err
	}
	prefix := sfapi.KeyPrefix(id)
	for _, o := range objs {
		if o.Schema.IsZero() {
			continue
		}
		b, err := r.LoadBlob(ctx, o.Schema)
		if err != nil {
			return "", err
		}
		var d struct {
			KeyPrefix string `json:"keyPrefix"`
		}
		if json.Unmarshal(b, &d) == nil && d.KeyPrefix == prefix {
			return o.Name, nil
		}
	}
	for _, o := range objs {
		if _, ok, err := r.Record(ctx, s, o.Name, id); err != nil {
			return "", err
		} else if ok {
			return o.Name, nil
		}
	}
	return "", usagef("no object of snapshot %s has key prefix %s: name it with --object", s.ID.Short(), prefix)
}

type historyEntry struct {
	Snapshot string          `json:"snapshot"`
	Time     time.Time       `json:"time"`
	Kind     string          `json:"kind"`
	Fields   []jsonField     `json:"fields,omitempty"`
	Record   record.Record   `json:"record,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"` // --field: its value in this version
	OldFile  string          `json:"old_file,omitempty"`
	NewFile  string          `json:"new_file,omitempty"`
}

func historyJSON(object, id, field string, events []recordEvent) any {
	list := make([]historyEntry, 0, len(events))
	for _, e := range events {
		h := historyEntry{Snapshot: e.Snapshot.ID.String(), Time: e.Snapshot.Time, Kind: e.Kind}
		if field != "" {
			var v *record.Field
			if f, ok := e.Record.Get(field); ok {
				v = &f
			}
			h.Value = jsonValue(v)
		} else {
			h.Record = e.Record
			for _, f := range e.Fields {
				h.Fields = append(h.Fields, jsonField{f.Name, jsonValue(f.Old), jsonValue(f.New)})
			}
			if e.File != nil {
				if !e.File[0].IsZero() {
					h.OldFile = e.File[0].String()
				}
				if !e.File[1].IsZero() {
					h.NewFile = e.File[1].String()
				}
			}
		}
		list = append(list, h)
	}
	return struct {
		Object   string         `json:"object"`
		ID       string         `json:"id"`
		Versions []historyEntry `json:"versions"`
	}{object, id, list}
}
