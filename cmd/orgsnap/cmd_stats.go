package main

import (
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo/pack"
)

func newStatsCommand() *cli.Command {
	return &cli.Command{
		Name:  "stats",
		Usage: "sizes: what a remote must hold (packs, snapshots, keys) and the local index cache",
		Action: func(c *cli.Context) error {
			r, err := openRepo(c, false)
			if err != nil {
				return err
			}
			defer r.Close()
			ctx := background(c)
			snaps, err := r.Snapshots(ctx, nil)
			if err != nil {
				return err
			}
			type kindStats struct {
				Packs int   `json:"packs"`
				Bytes int64 `json:"bytes"`
				Blobs int   `json:"blobs"`
			}
			st := struct {
				Snapshots     int                  `json:"snapshots"`
				Records       uint64               `json:"records_in_latest"`
				Packs         map[string]kindStats `json:"packs"`
				RepoBytes     int64                `json:"repository_bytes"`
				IndexBytes    int64                `json:"index_cache_bytes"`
				SnapshotBytes int64                `json:"snapshot_file_bytes"`
			}{Snapshots: len(snaps), Packs: map[string]kindStats{}}
			if len(snaps) > 0 {
				st.Records = snaps[len(snaps)-1].Records()
			}
			for _, p := range r.Index().Packs() {
				name := "data"
				if p.Kind == pack.KindTree {
					name = "tree"
				}
				k := st.Packs[name]
				k.Packs++
				k.Bytes += p.Size
				k.Blobs += p.Blobs
				st.Packs[name] = k
			}
			st.RepoBytes = dirSize(r.Dir(), "index", "tmp", "locks")
			st.IndexBytes = dirSize(filepath.Join(r.Dir(), "index"))
			st.SnapshotBytes = dirSize(filepath.Join(r.Dir(), "snapshots"))
			if c.Bool("json") {
				return printJSON(c, st)
			}
			out(c, "snapshots:        %d (%s)\n", st.Snapshots, human(st.SnapshotBytes))
			out(c, "records (latest): %d\n", st.Records)
			for _, k := range []string{"data", "tree"} {
				out(c, "%s packs:       %d packs, %d blobs, %s\n", k, st.Packs[k].Packs, st.Packs[k].Blobs, human(st.Packs[k].Bytes))
			}
			out(c, "repository:       %s (what a remote holds)\n", human(st.RepoBytes))
			out(c, "index cache:      %s (local, rebuildable)\n", human(st.IndexBytes))
			return nil
		},
	}
}

// dirSize totals the files under dir, skipping the named top-level folders.
func dirSize(dir string, skip ...string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.IsDir() && p != dir {
			for _, s := range skip {
				if fi.Name() == s && filepath.Dir(p) == dir {
					return filepath.SkipDir
				}
			}
		}
		if !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
