package repo

import (
	"context"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// On returns a view of this repository stored on another backend — a
// remote holding a copy of it (same config, same keys). Snapshots, refs and
// settings are read from and written to be with this repository's key, so
// SetRef on the view is a compare-and-swap on the remote. The view has no
// index and no lock: it cannot read blobs, and Close does nothing.
func (r *Repository) On(be backend.Backend) *Repository {
	return &Repository{dir: r.dir, be: be, cfg: r.cfg, key: r.key, now: r.now, treeCfg: r.treeCfg, chunkP: r.chunkP, remoteRefs: r.remoteRefs}
}

// IndexNewPacks indexes the packs that are stored but not yet in the index
// (packs a pull just fetched), so their blobs can be read without reopening.
func (r *Repository) IndexNewPacks(ctx context.Context) error {
	if err := r.writable(); err != nil {
		return err
	}
	return r.indexMissingPacks(ctx)
}

// SettingFile is the name of the file in settings/ that holds setting name
// (copies between repositories pick files by the setting they hold).
func (r *Repository) SettingFile(name string) string { return r.settingHandle(name).Name }
