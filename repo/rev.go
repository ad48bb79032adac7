package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// Revisions name snapshots the way git names commits:
//
//	ID prefix      at least 4 hex digits of a snapshot ID, unique among all snapshots
//	REF            a ref (lineage) name
//	REMOTE/REF     a remote-tracking ref: REF as last seen on REMOTE by push,
//	               pull or clone (needs Options.RemoteRefs)
//	latest         the newest snapshot by time, checkpoints excluded
//	X~N, X^        the N-th (first) parent of X: X~0 is X, X^^ is X~2
//	X@{DATE}       the newest snapshot of X's lineage (X and its first
//	               parents) taken at or before DATE; @{DATE} alone is latest@{DATE}
//
// DATE is UTC unless it says otherwise: 2026-11-01 (00:00 that day),
// 2026-11-01T12:00Z, 2026-11-01T12:00:05Z, or RFC 3339 with an offset.
// A ref or latest never names a checkpoint (an unfinished run's progress);
// an ID prefix may. The forms combine left to right: main@{2026-11-01}~2.
//
// A range A..B (for diff and log) is two revisions; an empty side means
// latest, so A.. is A..latest.

// Sentinel errors of revision parsing; both wrap ErrNotFound or are usage
// errors the CLI reports with the candidates.
var (
	// ErrUnknownRevision: no snapshot has that name. It wraps ErrNotFound.
	ErrUnknownRevision error = &wrapped{"unknown revision", ErrNotFound}
	// ErrAmbiguousRevision: an ID prefix matches several snapshots; the
	// error is an *AmbiguousError listing them.
	ErrAmbiguousRevision = errors.New("ambiguous snapshot id prefix")
	// ErrBadRevision: the revision is malformed (a bad ~N or date).
	ErrBadRevision = errors.New("malformed revision")
)

// wrapped is a sentinel error that is also another one.
type wrapped struct {
	msg string
	is  error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.is }

// AmbiguousError lists the snapshots an ambiguous prefix matches.
type AmbiguousError struct {
	Prefix     string
	Candidates []crypto.ID // in ID order
	// Snapshots holds the candidates that could be read, by ID (an
	// unreadable one is still listed: it still makes the prefix ambiguous).
	Snapshots map[crypto.ID]*Snapshot
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot id prefix %q is ambiguous: it matches %d snapshots; give more characters:", e.Prefix, len(e.Candidates))
	for _, id := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s", id.String()[:16])
		if s := e.Snapshots[id]; s != nil {
			fmt.Fprintf(&b, " %s %s", s.Time.UTC().Format("2006-01-02 15:04"), s.Kind)
		} else {
			b.WriteString(" (unreadable: see `orgsnap check`)")
		}
	}
	return b.String()
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguousRevision }

// RemoteRefs looks up remote-tracking refs: the refs last seen on a
// remote, which the remote package records (repo cannot import it; the
// CLI installs its implementation through Options.RemoteRefs). found is
// false when the remote or the ref is unknown.
type RemoteRefs interface {
	RemoteRef(ctx context.Context, r *Repository, remote, ref string) (id crypto.ID, found bool, err error)
}

// LatestRev names the newest snapshot.
const LatestRev = "latest"

// ResolveRevision returns the snapshot rev names (syntax above).
func (r *Repository) ResolveRevision(ctx context.Context, rev string) (*Snapshot, error) {
	return (&resolver{r: r}).resolve(ctx, rev)
}

// ResolveRange resolves "A..B" to its two ends (an empty side is latest).
// A revision without ".." is returned as (nil, B): the caller decides what
// a single revision means (diff: against its parent; log: its lineage).
func (r *Repository) ResolveRange(ctx context.Context, spec string) (from, to *Snapshot, err error) {
	rs := &resolver{r: r}
	a, b, isRange := SplitRange(spec)
	if !isRange {
		to, err = rs.resolve(ctx, spec)
		return nil, to, err
	}
	if from, err = rs.resolve(ctx, orLatest(a)); err != nil {
		return nil, nil, err
	}
	if to, err = rs.resolve(ctx, orLatest(b)); err != nil {
		return nil, nil, err
	}
	return from, to, nil
}

// SplitRange splits "A..B" into its sides; isRange is false without "..".
func SplitRange(spec string) (a, b string, isRange bool) {
	return strings.Cut(spec, "..")
}

func orLatest(rev string) string {
	if rev == "" {
		return LatestRev
	}
	return rev
}

// FirstParents calls fn for s and each of its first parents in turn,
// newest first, until fn returns false or the lineage ends. A parent that
// no longer exists (pruned) ends the lineage.
func (r *Repository) FirstParents(ctx context.Context, s *Snapshot, fn func(*Snapshot) bool) error {
	for s != nil && fn(s) {
		if s.Parent == nil {
			return nil
		}
		p, err := r.LoadSnapshot(ctx, *s.Parent)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		s = p
	}
	return nil
}

// resolver caches the snapshot list across the lookups of one revision or
// range.
type resolver struct {
	r     *Repository
	snaps []*Snapshot
}

func (rs *resolver) all(ctx context.Context) ([]*Snapshot, error) {
	if rs.snaps == nil {
		s, err := rs.r.Snapshots(ctx, nil)
		if err != nil {
			return nil, err
		}
		rs.snaps = s
	}
	return rs.snaps, nil
}

func (rs *resolver) resolve(ctx context.Context, rev string) (*Snapshot, error) {
	if rev == "" {
		return nil, fmt.Errorf("%w: empty revision", ErrBadRevision)
	}
	// Split the base from its suffixes (@{…}, ~N, ^).
	end := strings.IndexAny(rev, "~^@")
	if end < 0 {
		end = len(rev)
	}
	base, rest := rev[:end], rev[end:]
	if base == "" {
		if !strings.HasPrefix(rest, "@{") {
			return nil, fmt.Errorf("%w %q: nothing before %q", ErrBadRevision, rev, rest[:1])
		}
		base = LatestRev
	}
	s, err := rs.base(ctx, base)
	if err != nil {
		return nil, err
	}
	for rest != "" {
		switch rest[0] {
		case '@':
			close := strings.IndexByte(rest, '}')
			if !strings.HasPrefix(rest, "@{") || close < 0 {
				return nil, fmt.Errorf("%w %q: write a date as @{2026-11-01} or @{2026-11-01T12:00Z}", ErrBadRevision, rev)
			}
			t, err := ParseRevisionTime(rest[2:close])
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrBadRevision, rev, err)
			}
			rest = rest[close+1:]
			if s, err = rs.at(ctx, s, t, rev); err != nil {
				return nil, err
			}
		case '~', '^':
			n := 1
			op := rest[0]
			rest = rest[1:]
			if op == '~' {
				i := 0
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					i++
				}
				if i > 0 {
					v, err := strconv.Atoi(rest[:i])
					if err != nil {
						return nil, fmt.Errorf("%w %q: %v", ErrBadRevision, rev, err)
					}
					n = v
				}
				rest = rest[i:]
			}
			if s, err = rs.ancestor(ctx, s, n, rev); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w %q: unexpected %q (use ~N, ^ or @{DATE})", ErrBadRevision, rev, rest)
		}
	}
	return s, nil
}

// base resolves latest, a ref, or an ID prefix.
func (rs *resolver) base(ctx context.Context, name string) (*Snapshot, error) {
	if name == LatestRev {
		snaps, err := rs.all(ctx)
		if err != nil {
			return nil, err
		}
		for i := len(snaps) - 1; i >= 0; i-- {
			if snaps[i].Kind != KindCheckpoint {
				return snaps[i], nil
			}
		}
		return nil, fmt.Errorf("%w %q: the repository has no snapshots yet (run `orgsnap snapshot`)", ErrUnknownRevision, name)
	}
	if id, _, err := rs.r.Ref(ctx, name); err == nil {
		return rs.r.LoadSnapshot(ctx, id)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if remote, ref, ok := strings.Cut(name, "/"); ok {
		return rs.remoteRef(ctx, name, remote, ref)
	}
	hex := strings.ToLower(name)
	if len(hex) < 4 || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w %q: not a ref, latest, or at least 4 hex digits of a snapshot id (see `orgsnap log`)", ErrUnknownRevision, name)
	}
	var match []crypto.ID
	err := rs.r.be.List(ctx, backend.Snapshots, func(fi backend.FileInfo) error {
		if strings.HasPrefix(fi.Name, hex) {
			if id, err := crypto.ParseID(fi.Name); err == nil {
				match = append(match, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w %q: no snapshot id starts with it (see `orgsnap log`)", ErrUnknownRevision, name)
	case 1:
		return rs.r.LoadSnapshot(ctx, match[0])
	}
	sort.Slice(match, func(i, j int) bool { return match[i].String() < match[j].String() })
	amb := &AmbiguousError{Prefix: name, Candidates: match, Snapshots: map[crypto.ID]*Snapshot{}}
	for _, id := range match {
		if s, err := rs.r.LoadSnapshot(ctx, id); err == nil {
			amb.Snapshots[id] = s
		}
	}
	return nil, amb
}

// ancestor walks n first parents up from s.
func (rs *resolver) ancestor(ctx context.Context, s *Snapshot, n int, rev string) (*Snapshot, error) {
	for i := 0; i < n; i++ {
		if s.Parent == nil {
			return nil, fmt.Errorf("%w %q: the lineage has only %d snapshot(s) before %s", ErrUnknownRevision, rev, i, strings.TrimRight(rev, "~^0123456789"))
		}
		p, err := rs.r.LoadSnapshot(ctx, *s.Parent)
		if err != nil {
			return nil, fmt.Errorf("revision %q: parent of %s: %w", rev, s.ID.Short(), err)
		}
		s = p
	}
	return s, nil
}

// at returns the newest snapshot of s's lineage taken at or before t.
func (rs *resolver) at(ctx context.Context, s *Snapshot, t time.Time, rev string) (*Snapshot, error) {
	var found *Snapshot
	err := rs.r.FirstParents(ctx, s, func(p *Snapshot) bool {
		if !p.Time.After(t) {
			found = p
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q: no snapshot of that lineage was taken at or before %s", ErrUnknownRevision, rev, t.Format(time.RFC3339))
	}
	return found, nil
}

// revTimeLayouts are the accepted forms of a revision date, UTC unless
// they carry a zone.
var revTimeLayouts = []string{
	"2006-01-02",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05Z07:00",
	time.RFC3339Nano,
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
}

// ParseRevisionTime parses the DATE of X@{DATE} (and of --since/--until).
func ParseRevisionTime(s string) (time.Time, error) {
	for _, l := range revTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: use 2026-11-01, 2026-11-01T12:00Z or RFC 3339", s)
}

func sortSnapshots(s []*Snapshot) {
	sort.Slice(s, func(i, j int) bool { return snapshotBefore(s[i], s[j]) })
}

// snapshotBefore orders snapshots by time, then ID (a total order).
func snapshotBefore(a, b *Snapshot) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.ID.String() < b.ID.String()
}

// remoteRef resolves REMOTE/REF (a ref name never holds '/').
func (rs *resolver) remoteRef(ctx context.Context, name, remote, ref string) (*Snapshot, error) {
	if rs.r.remoteRefs == nil {
		return nil, fmt.Errorf("%w %q: remote-tracking refs are not available here", ErrUnknownRevision, name)
	}
	id, found, err := rs.r.remoteRefs.RemoteRef(ctx, rs.r, remote, ref)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w %q: no remote-tracking ref of that name (see `orgsnap remote list`; `orgsnap pull %s` updates them)", ErrUnknownRevision, name, remote)
	}
	s, err := rs.r.LoadSnapshot(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w %q: it names snapshot %s, which is not in this repository: run `orgsnap pull %s`", ErrUnknownRevision, name, id.Short(), remote)
	}
	return s, err
}
