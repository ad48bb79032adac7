package main

import (
	"github.com/urfave/cli/v2"

	"github.com/orgsnap/orgsnap/repo"
)

func newPruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "erase every blob no snapshot uses, physically (packs rewritten, index rebuilt), with a proof",
		Description: "Prune takes the repository lock for its whole run: a snapshot started meanwhile waits\n" +
			"(--lock-wait) or stops with exit code 11. Interrupted, it leaves a valid repository, and\n" +
			"running it again finishes the job. The proof is printed and appended to the audit log.",
		Action: func(c *cli.Context) error {
			r, err := openRepo(c, false)
			if err != nil {
				return err
			}
			defer r.Close()
			proof, err := pruneAndReport(c, r)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, proof)
			}
			return nil
		},
	}
}

// pruneAndReport runs prune with progress and prints its proof (as text
// unless --json, where the caller prints it).
func pruneAndReport(c *cli.Context, r *repo.Repository) (*repo.PruneProof, error) {
	cause := c.Command.Name
	proof, err := r.Prune(background(c), repo.PruneOptions{Progress: progress(c), Cause: cause})
	endProgress(c)
	if err != nil {
		return nil, err
	}
	if !c.Bool("json") {
		printPruneProof(c, proof)
	}
	return proof, nil
}

func printPruneProof(c *cli.Context, p *repo.PruneProof) {
	if p.ShadowedVersions > 0 {
		out(c, "prune: dropped %d record versions no snapshot shows from shared bases (%d snapshots rewritten, audit log entry %s)\n",
			p.ShadowedVersions, p.SnapshotsRewritten, p.RewriteEntry)
	}
	out(c, "prune: %d snapshots use %d blobs\n", p.Snapshots, p.LiveBlobs)
	out(c, "  erased:          %d blobs, %s of data\n", p.BlobsErased, human(p.BytesErased))
	out(c, "  packs:           %d rewritten, %d deleted, %d written (%s → %s)\n",
		p.PacksRewritten, p.PacksDeleted, p.PacksWritten, human(p.PackBytesBefore), human(p.PackBytesAfter))
	if p.CopiesDropped > 0 {
		out(c, "  redundant copies dropped: %d\n", p.CopiesDropped)
	}
	verdict := "FAILED"
	if p.Verified {
		verdict = "ok"
	}
	out(c, "  verified:        %s — none of the erased blob ids is in any of the %d remaining pack trailers\n", verdict, p.PacksVerified)
	out(c, "  erased ids:      blake3 %s\n", p.ErasedDigest)
	out(c, "  audit log entry: %s\n", p.AuditEntry)
}
