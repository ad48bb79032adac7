package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Remote locks keep a push that deletes (mirroring a local prune) from
// racing a push or pull on another machine: a pack deleted while another
// pusher decides it need not upload it would leave that pusher's snapshot
// pointing at nothing.
//
// Protocol (strongly consistent listing, as S3 and directories give):
//   - push and pull write locks/shared-<random> before they list anything,
//     then list locks/: if another live exclusive lock is there, they
//     withdraw, wait and try again;
//   - a push about to delete writes locks/exclusive-<random>, then lists
//     locks/: if any other live lock is there it withdraws and deletes
//     nothing this time (the next push will).
//
// Whichever of two writes its lock second sees the other's, so a deleter
// and a reader never both go ahead. Locks older than staleAfter (a crashed
// process) are ignored: that bounds how long one crash blocks removals,
// and assumes clocks agree to well within it.
const staleAfter = time.Hour

type lockInfo struct {
	Time time.Time `json:"time"`
}

type remoteLock struct {
	be backend.Backend
	h  backend.Handle
}

// ErrRemoteBusy: another machine is deleting pruned data on the remote.
var ErrRemoteBusy = errors.New("another machine is removing pruned data from the remote")

func writeLock(ctx context.Context, be backend.Backend, kind string, now time.Time) (*remoteLock, error) {
	var rnd [12]byte
	rand.Read(rnd[:])
	h := backend.Handle{Type: backend.Locks, Name: kind + "-" + hex.EncodeToString(rnd[:])}
	data, _ := json.Marshal(lockInfo{Time: now.UTC()})
	if err := be.Save(ctx, h, data, backend.SaveOptions{IfNotExists: true}); err != nil {
		return nil, fmt.Errorf("writing a lock on %s: %w", be.Location(), err)
	}
	return &remoteLock{be: be, h: h}, nil
}

func (l *remoteLock) release(ctx context.Context) {
	if l != nil {
		l.be.Remove(context.WithoutCancel(ctx), l.h)
	}
}

// liveLocks reports whether live locks other than the skipped ones exist;
// exclusiveOnly counts only exclusive ones.
func liveLocks(ctx context.Context, be backend.Backend, now time.Time, exclusiveOnly bool, skip ...*remoteLock) (bool, error) {
	found := false
	err := be.List(ctx, backend.Locks, func(fi backend.FileInfo) error {
		for _, l := range skip {
			if l != nil && fi.Name == l.h.Name {
				return nil
			}
		}
		excl := strings.HasPrefix(fi.Name, "exclusive-")
		if !excl && (exclusiveOnly || !strings.HasPrefix(fi.Name, "shared-")) {
			return nil
		}
		data, err := be.Load(ctx, backend.Handle{Type: backend.Locks, Name: fi.Name}, 0, -1)
		if err != nil {
			return nil // released meanwhile
		}
		var li lockInfo
		if json.Unmarshal(data, &li) == nil && now.Sub(li.Time) > staleAfter {
			return nil
		}
		found = true
		return nil
	})
	return found, err
}

// lockShared takes a shared lock, waiting up to o.LockWait for an
// exclusive one to go.
func lockShared(ctx context.Context, be backend.Backend, o *Options) (*remoteLock, error) {
	deadline := o.Now().Add(o.LockWait)
	for {
		l, err := writeLock(ctx, be, "shared", o.Now())
		if err != nil {
			return nil, err
		}
		busy, err := liveLocks(ctx, be, o.Now(), true, l)
		if err != nil {
			l.release(ctx)
			return nil, err
		}
		if !busy {
			return l, nil
		}
		l.release(ctx)
		if o.Now().After(deadline) {
			return nil, fmt.Errorf("%w (%s): try again in a few minutes", ErrRemoteBusy, be.Location())
		}
		o.Progress("waiting: another machine is removing pruned data from the remote")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// lockForReading is lockShared for pull and clone, which only read the
// remote: when the credentials may not write there (read-only keys, a
// read-only mount) they go on without a lock, and t.Unlocked says so. A
// push removing pruned data at that moment can then make them fail (a pack
// gone), never leave a snapshot without its data: they write a snapshot
// only after its packs.
func lockForReading(ctx context.Context, be backend.Backend, o *Options, t *Transfer) (*remoteLock, error) {
	l, err := lockShared(ctx, be, o)
	if backend.IsPermission(err) {
		t.Unlocked = true
		return nil, nil
	}
	return l, err
}

// lockExclusive takes an exclusive lock, or returns nil when anyone but
// this same push (holding mine) holds a lock.
func lockExclusive(ctx context.Context, be backend.Backend, mine *remoteLock, o *Options) (*remoteLock, error) {
	l, err := writeLock(ctx, be, "exclusive", o.Now())
	if err != nil {
		return nil, err
	}
	busy, err := liveLocks(ctx, be, o.Now(), false, l, mine)
	if err != nil || busy {
		l.release(ctx)
		return nil, err
	}
	return l, nil
}
