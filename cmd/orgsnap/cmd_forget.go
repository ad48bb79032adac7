package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/retention"
)

// policySetting is the sealed setting holding the repository's retention
// policy (docs/FORMAT.md §11), used by `forget` when no --keep-* flag is given.
const policySetting = "retention/policy"

func newForgetCommand() *cli.Command {
	return &cli.Command{
		Name:  "forget",
		Usage: "remove snapshots a retention policy does not keep (then `prune` erases their data)",
		Description: "Snapshots are grouped by org and ref; the policy applies to each group. Rules are\n" +
			"OR-ed, times are UTC, and counts count periods that hold snapshots (restic's rules).\n" +
			"A snapshot a ref names is always kept. With no --keep-* flag the policy saved with\n" +
			"--save-policy is used, so a scheduled `orgsnap forget --prune` needs no flags.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep-last", Usage: "keep the `N` newest snapshots (-1: all)"},
			&cli.IntFlag{Name: "keep-hourly", Usage: "keep the newest snapshot of each of the last `N` hours that have one"},
			&cli.IntFlag{Name: "keep-daily", Usage: "keep the newest snapshot of each of the last `N` days that have one"},
			&cli.IntFlag{Name: "keep-weekly", Usage: "keep the newest snapshot of each of the last `N` ISO weeks that have one"},
			&cli.IntFlag{Name: "keep-monthly", Usage: "keep the newest snapshot of each of the last `N` months that have one"},
			&cli.IntFlag{Name: "keep-yearly", Usage: "keep the newest snapshot of each of the last `N` years that have one"},
			&cli.StringFlag{Name: "keep-within", Usage: "keep snapshots newer than the latest one minus `DURATION` (e.g. 1y6m, 90d, 2y3m4d12h)"},
			&cli.IntFlag{Name: "keep-periods", Usage: "keep every snapshot of the last `N` periods (YYMM) that have snapshots"},
			&cli.StringSliceFlag{Name: "keep-tag", Usage: "keep snapshots carrying all of `TAG[,TAG…]` (repeatable: any one list)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "only print what would be kept and removed, and why"},
			&cli.BoolFlag{Name: "save-policy", Usage: "store the given --keep-* rules as the repository's policy (nothing is removed)"},
			&cli.BoolFlag{Name: "clear-policy", Usage: "delete the stored policy"},
			&cli.BoolFlag{Name: "prune", Usage: "run `orgsnap prune` afterwards, erasing the data of removed snapshots"},
		},
		Action: runForget,
	}
}

// policyFromFlags builds a policy from the --keep-* flags; set reports
// whether any was given.
func policyFromFlags(c *cli.Context) (p retention.Policy, set bool, err error) {
	for _, f := range []struct {
		name string
		dst  *int
	}{{"keep-last", &p.Last}, {"keep-hourly", &p.Hourly}, {"keep-daily", &p.Daily}, {"keep-weekly", &p.Weekly},
		{"keep-monthly", &p.Monthly}, {"keep-yearly", &p.Yearly}, {"keep-periods", &p.Periods}} {
		if c.IsSet(f.name) {
			*f.dst, set = c.Int(f.name), true
		}
	}
	if c.IsSet("keep-within") {
		if p.Within, err = retention.ParseDuration(c.String("keep-within")); err != nil {
			return p, true, usagef("--keep-within: %v", err)
		}
		set = true
	}
	for _, l := range c.StringSlice("keep-tag") {
		var tags []string
		for _, t := range strings.Split(l, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		p.Tags, set = append(p.Tags, tags), true
	}
	if err := p.Validate(); err != nil {
		return p, set, usagef("%v", err)
	}
	return p, set, nil
}

// forgetResult is the --json output of forget.
type forgetResult struct {
	Policy    string           `json:"policy"`
	DryRun    bool             `json:"dry_run"`
	Decisions []forgetDecision `json:"snapshots"`
	Removed   int              `json:"removed"`
	Kept      int              `json:"kept"`
	Prune     *repo.PruneProof `json:"prune,omitempty"`
}

type forgetDecision struct {
	ID      string   `json:"id"`
	Time    string   `json:"time"`
	Period  string   `json:"period"`
	Group   string   `json:"group"`
	Kind    string   `json:"kind"`
	Keep    bool     `json:"keep"`
	Reasons []string `json:"reasons"`
}

func runForget(c *cli.Context) error {
	ctx := background(c)
	p, set, err := policyFromFlags(c)
	if err != nil {
		return err
	}
	if c.Bool("save-policy") && !set {
		return usagef("--save-policy needs the --keep-* rules to save")
	}
	r, err := openRepo(c, false)
	if err != nil {
		return err
	}
	defer r.Close()

	switch {
	case c.Bool("clear-policy"):
		if err := r.DeleteSetting(ctx, policySetting); err != nil && !errors.Is(err, repo.ErrNotFound) {
			return err
		}
		out(c, "stored retention policy deleted\n")
		return nil
	case c.Bool("save-policy"):
		if p.Empty() {
			return emptyPolicyError{}
		}
		data, _ := json.Marshal(p)
		if err := r.SaveSetting(ctx, policySetting, data); err != nil {
			return err
		}
		out(c, "saved retention policy: %s\n`orgsnap forget` without --keep-* flags now applies it\n", p)
		return nil
	case !set:
		data, err := r.LoadSetting(ctx, policySetting)
		if errors.Is(err, repo.ErrNotFound) {
			return emptyPolicyError{}
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("stored retention policy is unreadable (%v): save it again with --save-policy", err)
		}
	}
	if p.Empty() {
		return emptyPolicyError{}
	}

	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return err
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return err
	}
	refsOf := map[string][]string{}
	for name, id := range refs {
		refsOf[id.String()] = append(refsOf[id.String()], name)
	}
	byID := map[string]*repo.Snapshot{}
	var in []retention.Snapshot
	for _, s := range snaps {
		id := s.ID.String()
		byID[id] = s
		rs := refsOf[id]
		sort.Strings(rs)
		in = append(in, retention.Snapshot{
			ID: id, Time: s.Time, Period: s.Period, Tags: s.Tags,
			Group: snapshotGroup(s), Checkpoint: s.Kind == repo.KindCheckpoint, Refs: rs,
		})
	}
	decisions, err := retention.Apply(in, p, now())
	if err != nil {
		return usagef("%v", err)
	}
	// Show newest first, group by group.
	sort.SliceStable(decisions, func(i, j int) bool {
		a, b := decisions[i].Snapshot, decisions[j].Snapshot
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Time.After(b.Time)
	})

	res := forgetResult{Policy: p.String(), DryRun: c.Bool("dry-run"), Decisions: []forgetDecision{}}
	for _, d := range decisions {
		s := byID[d.Snapshot.ID]
		res.Decisions = append(res.Decisions, forgetDecision{
			ID: d.Snapshot.ID, Time: s.Time.UTC().Format("2006-01-02T15:04:05Z"), Period: s.Period,
			Group: d.Snapshot.Group, Kind: s.Kind, Keep: d.Keep, Reasons: d.Reasons,
		})
		if d.Keep {
			res.Kept++
		} else {
			res.Removed++
		}
	}
	if !c.Bool("json") {
		out(c, "policy: %s\n", res.Policy)
		group := "\x00"
		for _, d := range res.Decisions {
			if d.Group != group {
				group = d.Group
				out(c, "\n%s\n", groupLabel(group))
			}
			verb := "keep  "
			if !d.Keep {
				verb = "remove"
			}
			out(c, "  %s %s %s %-10s %-6s %s\n", verb, d.ID[:8], strings.Replace(d.Time[:16], "T", " ", 1), d.Kind, d.Period, strings.Join(d.Reasons, ", "))
		}
		out(c, "\n")
	}
	if !res.DryRun && res.Removed > 0 {
		// The audit log first: push and pull honour it (a remote's copy of
		// a forgotten snapshot must not come back).
		var removed []string
		for _, d := range res.Decisions {
			if !d.Keep {
				removed = append(removed, d.ID)
			}
		}
		if _, err := r.AppendAudit(ctx, "forget", forgetAudit{Policy: res.Policy, Removed: removed}); err != nil {
			return err
		}
		for _, id := range removed {
			if err := r.RemoveSnapshot(ctx, byID[id].ID); err != nil {
				return fmt.Errorf("remove snapshot %s: %w (run forget again: removal is idempotent)", id[:8], err)
			}
		}
	}
	if !c.Bool("json") {
		switch {
		case res.DryRun:
			out(c, "would keep %d snapshots and remove %d (dry run: nothing was changed)\n", res.Kept, res.Removed)
		default:
			out(c, "kept %d snapshots, removed %d\n", res.Kept, res.Removed)
		}
	}
	if c.Bool("prune") && !res.DryRun {
		proof, err := pruneAndReport(c, r)
		if err != nil {
			return err
		}
		res.Prune = proof
	} else if !c.Bool("json") && res.Removed > 0 && !res.DryRun {
		out(c, "their data stays in the repository until `orgsnap prune` erases it\n")
	}
	if c.Bool("json") {
		return printJSON(c, res)
	}
	return nil
}

// forgetAudit is forget's audit log entry: the policy and the snapshots it
// removed (ids only).
type forgetAudit struct {
	Policy  string   `json:"policy"`
	Removed []string `json:"removed"`
}

// snapshotGroup is the lineage a policy applies to: the org and the ref
// the snapshot's run was for.
func snapshotGroup(s *repo.Snapshot) string { return s.Org + "/" + s.LineageRef() }

func groupLabel(g string) string {
	org, ref, _ := strings.Cut(g, "/")
	if org == "" {
		org = "(no org)"
	}
	if ref == "" {
		ref = "(no ref: partial or imported snapshots)"
	}
	return "org " + org + ", ref " + ref + ":"
}

// emptyPolicyError: forget was run with no rule and none is stored.
type emptyPolicyError struct{}

func (emptyPolicyError) Error() string {
	return retention.ErrEmptyPolicy.Error() + "; nothing was removed"
}

func (emptyPolicyError) Unwrap() error { return retention.ErrEmptyPolicy }
