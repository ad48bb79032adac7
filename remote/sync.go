package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
)

// RemovalRecord is what the local repository deliberately removed (forget,
// prune, erase), as the retention code records it. Push removes the same
// snapshots from the remote; pull never brings them, or those packs, back.
// A nil RemovalRecord means nothing was removed on purpose.
type RemovalRecord interface {
	SnapshotRemoved(ctx context.Context, id crypto.ID) (bool, error)
	PackRemoved(ctx context.Context, name string) (bool, error)
	// KeyRemoved: a key slot (a password) was removed here; push removes
	// it from the remote, so the password no longer opens the copy there.
	KeyRemoved(ctx context.Context, name string) (bool, error)
}

// IncomingFilter sees every snapshot a pull fetched, before it becomes
// visible in the local repository (before its file is written). Admit
// returning false leaves the snapshot out (e.g. one this repository
// replaced when it erased records); an error stops the pull. The
// retention code implements it.
type IncomingFilter interface {
	Admit(ctx context.Context, s *repo.Snapshot) (bool, error)
}

// Scrubber sees the snapshots a pull wrote, after the remote's audit log
// was fetched, and may rewrite them (the erase hook: records erased here,
// or by the machine whose audit log just arrived, are taken out again) and
// remove local snapshots that log says were removed elsewhere. It returns
// the rewrites (old → new), refs naming an old one already moved, and how
// many local snapshots it removed; pull then moves refs to the rewrites.
// The retention code implements it.
type Scrubber interface {
	Scrub(ctx context.Context, written []crypto.ID) (rewrites map[crypto.ID]crypto.ID, removed int, err error)
}

// Options tune push, pull and clone.
type Options struct {
	Parallel int          // files copied at once (default 8)
	Progress func(string) // nil: quiet
	// Force lets push replace a remote ref whose snapshots the local
	// repository does not have. The snapshots stay on the remote.
	Force   bool
	Removed RemovalRecord  // may be nil
	Filter  IncomingFilter // pull only; may be nil
	Scrub   Scrubber       // pull only; may be nil
	Now     func() time.Time
	// LockWait is how long push and pull wait for another machine's
	// removal of pruned data to finish (default 1 minute).
	LockWait time.Duration
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockWait == 0 {
		o.LockWait = time.Minute
	}
}

// RefUpdate is what happened to one ref.
type RefUpdate struct {
	Name   string     `json:"name"`
	Old    *crypto.ID `json:"old,omitempty"`
	New    crypto.ID  `json:"new"`
	Status string     `json:"status"` // created, fast-forward, forced, up-to-date, behind, diverged
}

// Ref update statuses.
const (
	RefCreated     = "created"
	RefFastForward = "fast-forward"
	RefForced      = "forced"
	RefUpToDate    = "up-to-date"
	RefBehind      = "behind"   // the other side is ahead: nothing to do here
	RefDiverged    = "diverged" // both sides have snapshots the other lacks
	// RefReplaced: the remote's ref named a snapshot the local repository
	// removed on purpose (forget, or replaced by an erase or a prune
	// rewrite): push moves it to the local snapshot.
	RefReplaced = "replaced"
)

// Transfer counts what a push, pull or clone copied.
type Transfer struct {
	Packs        int   `json:"packs"`
	PackBytes    int64 `json:"pack_bytes"`
	PacksPresent int   `json:"packs_already_there"`
	Snapshots    int   `json:"snapshots"`
	Files        int   `json:"other_files"` // keys, settings, audit
	// Removed* count what push deleted on the remote to mirror local
	// removals (prune, forget, erase).
	RemovedPacks     int         `json:"removed_packs,omitempty"`
	RemovedSnapshots int         `json:"removed_snapshots,omitempty"`
	RemovedKeys      int         `json:"removed_keys,omitempty"`
	Refs             []RefUpdate `json:"refs"`
	// Skipped says why nothing was removed although the remote has packs
	// the local repository removed.
	RemovalSkipped string `json:"removal_skipped,omitempty"`
	Rejected       int    `json:"rejected_snapshots,omitempty"` // pull: refused by the IncomingFilter or the removal record
	// Scrubbed: pull rewrote this many snapshots (without erased records).
	Scrubbed int `json:"rewritten_snapshots,omitempty"`
	// Unlocked: pull or clone could not write its lock on the remote
	// (read-only credentials) and went on without it.
	Unlocked bool `json:"unlocked,omitempty"`
	// RemovedHere: pull removed this many local snapshots that the fetched
	// audit log says another machine removed (forget, erase, rewrite).
	RemovedHere int `json:"removed_here,omitempty"`
	// Refetched: pull fetched this many packs the local repository had
	// pruned, because fetched snapshots use them; the caller prunes after.
	Refetched int `json:"refetched_pruned_packs,omitempty"`
}

// listNames lists the files of one type.
func listNames(ctx context.Context, be backend.Backend, t backend.FileType) (map[string]backend.FileInfo, error) {
	out := map[string]backend.FileInfo{}
	err := be.List(ctx, t, func(fi backend.FileInfo) error {
		out[fi.Name] = fi
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s on %s: %w", t, be.Location(), err)
	}
	return out, nil
}

// sameRepository checks that dst holds the repository of src's config, or
// nothing. It returns the config bytes of src and whether dst has none.
func sameRepository(ctx context.Context, src, dst backend.Backend) (cfg []byte, dstEmpty bool, err error) {
	cfg, err = src.Load(ctx, backend.Handle{Type: backend.Config}, 0, -1)
	if err != nil {
		if backend.IsNotExist(err) {
			return nil, false, fmt.Errorf("%w at %s", ErrEmptyRemote, src.Location())
		}
		return nil, false, err
	}
	theirs, err := dst.Load(ctx, backend.Handle{Type: backend.Config}, 0, -1)
	if backend.IsNotExist(err) {
		return cfg, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var a, b repo.Config
	if json.Unmarshal(cfg, &a) != nil || json.Unmarshal(theirs, &b) != nil || a.ID == "" || a.ID != b.ID {
		return nil, false, fmt.Errorf("%w: %s holds repository %q, this one is %q", ErrOtherRepository, dst.Location(), b.ID, a.ID)
	}
	return cfg, false, nil
}

// copier copies files between two backends, several at a time.
type copier struct {
	src, dst backend.Backend
	o        *Options
	verb     string // for progress: "uploading", "downloading"
	t        *Transfer
}

// packs copies the named packs, verifying each against its name (a pack's
// ID is the BLAKE3 hash of its bytes) before writing it, so damage is
// never propagated; the destination backend verifies the transfer itself
// (S3: a CRC32C the server checks).
func (c *copier) packs(ctx context.Context, names []backend.FileInfo) error {
	var done atomic.Int64
	var bytesDone atomic.Int64
	total := len(names)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Parallel)
	var mu sync.Mutex
	for _, fi := range names {
		g.Go(func() error {
			h := backend.Handle{Type: backend.Packs, Name: fi.Name}
			data, err := c.src.Load(gctx, h, 0, -1)
			if err != nil {
				return fmt.Errorf("reading pack %s: %w", fi.Name, err)
			}
			if err := verifyPack(fi.Name, data); err != nil {
				return fmt.Errorf("%s: %w", c.src.Location(), err)
			}
			if err := c.dst.Save(gctx, h, data, backend.SaveOptions{}); err != nil {
				return fmt.Errorf("writing pack %s: %w", fi.Name, err)
			}
			n := done.Add(1)
			b := bytesDone.Add(int64(len(data)))
			mu.Lock()
			c.t.Packs++
			c.t.PackBytes += int64(len(data))
			c.o.Progress(fmt.Sprintf("%s packs: %d/%d (%.1f MiB)", c.verb, n, total, float64(b)/(1<<20)))
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func verifyPack(name string, data []byte) error {
	_, _, id, err := pack.ParseName(name)
	if err != nil {
		return err
	}
	if pack.PackID(data) != id {
		return fmt.Errorf("pack %s: %w: its content does not match its name (run `orgsnap check --read-data`)", name, pack.ErrCorrupt)
	}
	return nil
}

// small copies small files of type t: the named ones, unconditionally
// when replace is set, else create-only.
func (c *copier) small(ctx context.Context, t backend.FileType, names []string, replace bool) error {
	for _, n := range names {
		h := backend.Handle{Type: t, Name: n}
		data, err := c.src.Load(ctx, h, 0, -1)
		if err != nil {
			if backend.IsNotExist(err) {
				continue // removed since the listing
			}
			return err
		}
		err = c.dst.Save(ctx, h, data, backend.SaveOptions{IfNotExists: !replace})
		if err != nil && !errors.Is(err, backend.ErrExists) {
			return err
		}
		c.t.Files++
	}
	return nil
}

// missing returns the names in src absent from dst, sorted.
func missing(src, dst map[string]backend.FileInfo) []string {
	var out []string
	for n := range src {
		if _, ok := dst[n]; !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// differing returns names present on both sides whose content differs
// (for small mutable files: settings).
func differing(ctx context.Context, src, dst backend.Backend, t backend.FileType, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		h := backend.Handle{Type: t, Name: n}
		a, err := src.Load(ctx, h, 0, -1)
		if err != nil {
			return nil, err
		}
		b, err := dst.Load(ctx, h, 0, -1)
		if err != nil && !backend.IsNotExist(err) {
			return nil, err
		}
		if !bytes.Equal(a, b) {
			out = append(out, n)
		}
	}
	return out, nil
}

// sharedSettings lists the settings files of r that travel with the
// repository: all but the remote definitions and remote-tracking refs.
func sharedSettings(ctx context.Context, r *repo.Repository, files map[string]backend.FileInfo) (map[string]backend.FileInfo, error) {
	names, err := r.Settings(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]backend.FileInfo{}
	for k, v := range files {
		out[k] = v
	}
	for _, n := range names {
		if private(n) {
			delete(out, r.SettingFile(n))
		}
	}
	return out, nil
}

// isAncestor reports whether anc is desc or one of its ancestors, walking
// desc's parents with load. A snapshot load cannot find ends the walk.
func isAncestor(ctx context.Context, load func(context.Context, crypto.ID) (*repo.Snapshot, error), anc, desc crypto.ID) (bool, error) {
	seen := map[crypto.ID]bool{}
	for id := desc; ; {
		if id == anc {
			return true, nil
		}
		if seen[id] {
			return false, nil
		}
		seen[id] = true
		s, err := load(ctx, id)
		if errors.Is(err, repo.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if s.Parent == nil {
			return false, nil
		}
		id = *s.Parent
	}
}

// packsToCopy lists the packs src has and dst lacks (a pack of the same
// name and size is the same pack: names are content hashes, and saves are
// atomic), leaving out those skip names. It counts the others as present.
func packsToCopy(ctx context.Context, src, dst backend.Backend, skip func(name string) (bool, error), t *Transfer) ([]backend.FileInfo, error) {
	sp, err := listNames(ctx, src, backend.Packs)
	if err != nil {
		return nil, err
	}
	dp, err := listNames(ctx, dst, backend.Packs)
	if err != nil {
		return nil, err
	}
	var todo []backend.FileInfo
	for _, n := range sortedNames(sp) {
		if fi, ok := dp[n]; ok && fi.Size == sp[n].Size {
			t.PacksPresent++
			continue
		}
		if skip != nil {
			if s, err := skip(n); err != nil {
				return nil, err
			} else if s {
				continue
			}
		}
		todo = append(todo, sp[n])
	}
	return todo, nil
}

type loader func(context.Context, crypto.ID) (*repo.Snapshot, error)

// moveRef moves ref name in dst towards snapshot to, by compare-and-swap:
// created when absent, fast-forwarded when its snapshot is an ancestor of
// to (walked with loadTo), left alone when to is an ancestor of it (walked
// with loadDst: RefBehind) or when the two diverged (RefDiverged), unless
// force, or unless removed (may be nil) says its snapshot was removed on
// purpose on the side to moves from (RefReplaced: it was that side's, so
// nothing of the other side's is hidden). A lost race is looked at again.
func moveRef(ctx context.Context, dst *repo.Repository, name string, to crypto.ID, loadTo, loadDst loader, force bool, removed RemovalRecord) (RefUpdate, error) {
	u := RefUpdate{Name: name, New: to}
	for attempt := 0; attempt < 10; attempt++ {
		cur, version, err := dst.Ref(ctx, name)
		switch {
		case errors.Is(err, repo.ErrNotFound):
			u.Status, version = RefCreated, ""
		case err != nil:
			return u, err
		case cur == to:
			u.Old, u.Status = &cur, RefUpToDate
			return u, nil
		default:
			u.Old = &cur
			ff, err := isAncestor(ctx, loadTo, cur, to)
			if err != nil {
				return u, err
			}
			u.Status = RefFastForward
			replaced := false
			if !ff && removed != nil {
				if replaced, err = removed.SnapshotRemoved(ctx, cur); err != nil {
					return u, err
				}
			}
			if replaced {
				u.Status = RefReplaced
			} else if !ff {
				behind, err := isAncestor(ctx, loadDst, to, cur)
				if err != nil {
					return u, err
				}
				switch {
				case behind:
					u.Status = RefBehind
					return u, nil
				case !force:
					u.Status = RefDiverged
					return u, nil
				}
				u.Status = RefForced
			}
		}
		if err := dst.SetRef(ctx, name, to, version); errors.Is(err, repo.ErrRefMoved) {
			continue // someone moved it meanwhile: look again
		} else if err != nil {
			return u, err
		}
		return u, nil
	}
	return u, fmt.Errorf("ref %s at %s keeps moving: another push, pull or snapshot is running; try again", name, dst.Backend().Location())
}
