package backupbench

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/crypto"
)

// orgsnapContender returns the orgsnap snapshot-engine contender.
func orgsnapContender() Contender { return &Orgsnap{} }

// Orgsnap takes a full snapshot of the org, then a synthetic one after the
// churn, into an orgsnap repository in Scratch. File bodies are skipped:
// the CSV export leaves base64 fields out too. Bytes are what a remote
// holds (packs, snapshots, refs, keys, config), not the local index cache.
type Orgsnap struct {
	dir   string // repository folder
	total int64  // repository bytes after the last step
}

func (o *Orgsnap) Name() string { return "orgsnap" }

func (o *Orgsnap) Full(ctx context.Context, env *Env) (Measure, error) {
	o.dir = filepath.Join(env.Scratch, "repo")
	start := time.Now()
	r, err := repo.Init(ctx, o.dir, repo.Options{Password: []byte("orgsnap-bench"), KDF: crypto.TestKDF})
	if err != nil {
		return Measure{}, err
	}
	return o.snapshot(ctx, env, r, start)
}

func (o *Orgsnap) Incremental(ctx context.Context, env *Env) (Measure, error) {
	start := time.Now()
	r, err := repo.Open(ctx, o.dir, repo.Options{Password: []byte("orgsnap-bench")})
	if err != nil {
		return Measure{}, err
	}
	return o.snapshot(ctx, env, r, start)
}

func (o *Orgsnap) snapshot(ctx context.Context, env *Env, r *repo.Repository, start time.Time) (Measure, error) {
	res, err := backup.Run(ctx, r, env.Client, backup.Options{Files: backup.FileOptions{Skip: true}, Poll: bulkPoll})
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Measure{}, fmt.Errorf("orgsnap snapshot: %w", err)
	}
	d := time.Since(start)
	total, err := remoteBytes(o.dir)
	if err != nil {
		return Measure{}, err
	}
	m := Measure{Duration: d, NewBytes: total - o.total, TotalBytes: total, Records: int64(res.Records),
		Detail: fmt.Sprintf("%s snapshot %s: %d rows fetched, %d API requests, +%d ~%d -%d",
			res.Snapshot.Kind, res.Snapshot.ID.Short(), res.Fetched, res.Requests, res.Added, res.Changed, res.Deleted)}
	o.total = total
	return m, nil
}

// remoteBytes sums the repository's files but the local index cache.
func remoteBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "index" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
