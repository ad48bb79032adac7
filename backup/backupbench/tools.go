package backupbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// run runs a command with extra environment, returning its stdout; stderr
// is included in the error. The command's CPU time (user + system) is added
// to *cpu: on a busy machine it says more than the wall-clock time.
func run(ctx context.Context, cpu *time.Duration, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ps := cmd.ProcessState; ps != nil && cpu != nil {
		*cpu += ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ResticPath finds restic: $RESTIC, else PATH. Empty if absent.
func ResticPath() string {
	if p := os.Getenv("RESTIC"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	p, _ := exec.LookPath("restic")
	return p
}

// Restic backs up the CSV export with restic: `restic init`, then
// `restic backup <csv dir>` each step (the second finds the first as its
// parent). Bytes are the repository's files; restic's local cache is kept
// in Scratch/cache and not counted. Its time includes the export.
type Restic struct {
	bin, repo, cache string
	init             time.Duration // of the repository (its key derivation mostly)
	cpu              time.Duration // of the restic processes this step
	total            int64
}

func (r *Restic) Name() string { return "restic" }

func (r *Restic) env() []string {
	return []string{"RESTIC_PASSWORD=orgsnap-bench", "RESTIC_REPOSITORY=" + r.repo, "RESTIC_CACHE_DIR=" + r.cache,
		"RESTIC_PROGRESS_FPS=0.2"}
}

func (r *Restic) Full(ctx context.Context, env *Env) (Measure, error) {
	if r.bin = ResticPath(); r.bin == "" {
		return Measure{}, fmt.Errorf("%w: restic not found (set $RESTIC or put scripts/install-bench-tools.sh's folder on PATH)", ErrUnavailable)
	}
	if env.Export == nil {
		return Measure{}, fmt.Errorf("%w: no CSV export", ErrUnavailable)
	}
	r.repo, r.cache = filepath.Join(env.Scratch, "repo"), filepath.Join(env.Scratch, "cache")
	os.RemoveAll(r.repo)
	r.cpu = 0
	start := time.Now()
	if _, err := run(ctx, &r.cpu, r.env(), r.bin, "init"); err != nil {
		return Measure{}, err
	}
	r.init = time.Since(start)
	return r.backup(ctx, env, start)
}

func (r *Restic) Incremental(ctx context.Context, env *Env) (Measure, error) {
	if r.repo == "" || env.Export == nil {
		return Measure{}, fmt.Errorf("%w: no full backup", ErrUnavailable)
	}
	r.cpu = 0
	return r.backup(ctx, env, time.Now())
}

// resticSummary is the last line of `restic backup --json`.
type resticSummary struct {
	MessageType     string  `json:"message_type"`
	FilesNew        int     `json:"files_new"`
	FilesChanged    int     `json:"files_changed"`
	FilesUnmodified int     `json:"files_unmodified"`
	DataAdded       int64   `json:"data_added"`
	DataAddedPacked int64   `json:"data_added_packed"`
	TotalBytes      int64   `json:"total_bytes_processed"`
	TotalDuration   float64 `json:"total_duration"`
	SnapshotID      string  `json:"snapshot_id"`
}

func (r *Restic) backup(ctx context.Context, env *Env, start time.Time) (Measure, error) {
	out, err := run(ctx, &r.cpu, r.env(), r.bin, "backup", "--json", "--host", "orgsnap-bench", env.CSVDir)
	if err != nil {
		return Measure{}, err
	}
	took := time.Since(start)
	var sum resticSummary
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m resticSummary
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.MessageType == "summary" {
			sum = m
		}
	}
	if sum.SnapshotID == "" {
		return Measure{}, fmt.Errorf("restic backup printed no summary: %.200s", out)
	}
	total := dirBytes(r.repo)
	m := Measure{
		Duration: env.Export.Duration + took, NewBytes: total - r.total, TotalBytes: total, Records: env.Export.Records,
		Detail: fmt.Sprintf("export %.1f s + restic %.1f s (CPU %.1f s); %d files new, %d changed", env.Export.Duration.Seconds(),
			took.Seconds(), r.cpu.Seconds(), sum.FilesNew, sum.FilesChanged),
	}
	if r.init > 0 {
		m.Detail = fmt.Sprintf("export %.1f s + restic init %.1f s + backup %.1f s (CPU %.1f s); %d files new", env.Export.Duration.Seconds(),
			r.init.Seconds(), (took - r.init).Seconds(), r.cpu.Seconds(), sum.FilesNew)
		r.init = 0
	}
	r.total = total
	return m, nil
}

// Snapshots lists the restic repository's snapshot ids (for tests).
func (r *Restic) Snapshots(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, r.env(), r.bin, "snapshots", "--json")
	if err != nil {
		return nil, err
	}
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		return nil, err
	}
	ids := make([]string, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	return ids, nil
}

// Git commits the CSV export to a git repository (`git add -A && git
// commit`), the export folder as its work tree. Bytes are the .git folder
// as commit leaves it (zlib-compressed loose objects); GitGC measures it
// after `git gc`. Its time includes the export.
type Git struct {
	dir   string
	total int64
	last  Measure
	cpu   time.Duration // of the git processes since the last reset
}

func (g *Git) Name() string { return "git" }

// GitDir is the repository (for tests).
func (g *Git) GitDir() string { return g.dir }

func (g *Git) git(ctx context.Context, work string, args ...string) ([]byte, error) {
	env := []string{"GIT_DIR=" + g.dir, "GIT_WORK_TREE=" + work, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=orgsnap bench", "GIT_AUTHOR_EMAIL=bench@orgsnap.test",
		"GIT_COMMITTER_NAME=orgsnap bench", "GIT_COMMITTER_EMAIL=bench@orgsnap.test"}
	return run(ctx, &g.cpu, env, "git", append([]string{"-c", "gc.auto=0", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"}, args...)...)
}

func (g *Git) Full(ctx context.Context, env *Env) (Measure, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return Measure{}, fmt.Errorf("%w: git not found", ErrUnavailable)
	}
	if env.Export == nil {
		return Measure{}, fmt.Errorf("%w: no CSV export", ErrUnavailable)
	}
	g.dir = filepath.Join(env.Scratch, "repo.git")
	os.RemoveAll(g.dir)
	if _, err := g.git(ctx, env.CSVDir, "init", "-q", "--template=", "-b", "main"); err != nil {
		return Measure{}, err
	}
	return g.commit(ctx, env, "full")
}

func (g *Git) Incremental(ctx context.Context, env *Env) (Measure, error) {
	if g.dir == "" || env.Export == nil {
		return Measure{}, fmt.Errorf("%w: no full backup", ErrUnavailable)
	}
	return g.commit(ctx, env, "after churn")
}

func (g *Git) commit(ctx context.Context, env *Env, msg string) (Measure, error) {
	g.cpu = 0
	start := time.Now()
	if _, err := g.git(ctx, env.CSVDir, "add", "-A"); err != nil {
		return Measure{}, err
	}
	add := time.Since(start)
	if _, err := g.git(ctx, env.CSVDir, "commit", "-q", "-m", msg); err != nil {
		return Measure{}, err
	}
	took := time.Since(start)
	total := dirBytes(g.dir)
	m := Measure{
		Duration: env.Export.Duration + took, NewBytes: total - g.total, TotalBytes: total, Records: env.Export.Records,
		Detail: fmt.Sprintf("export %.1f s + add %.1f s + commit %.1f s (CPU %.1f s); loose objects", env.Export.Duration.Seconds(),
			add.Seconds(), (took - add).Seconds(), g.cpu.Seconds()),
	}
	g.total, g.last = total, m
	return m, nil
}

// Commits counts the commits on HEAD (for tests).
func (g *Git) Commits(ctx context.Context) (int, error) {
	out, err := g.git(ctx, g.dir, "rev-list", "--count", "HEAD")
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(string(out), &n)
	return n, err
}

// GitGC runs `git gc` on Git's repository after each of Git's commits:
// the row "git + gc" is the same backup with its objects packed and
// delta-compressed. Its time is Git's (export, add, commit) plus gc's. It
// must come after Git in the contender list.
type GitGC struct {
	Git   *Git
	total int64
}

func (g *GitGC) Name() string { return "git + gc" }

func (g *GitGC) Full(ctx context.Context, env *Env) (Measure, error) { return g.gc(ctx, env) }
func (g *GitGC) Incremental(ctx context.Context, env *Env) (Measure, error) {
	return g.gc(ctx, env)
}

func (g *GitGC) gc(ctx context.Context, env *Env) (Measure, error) {
	if g.Git == nil || g.Git.dir == "" || g.Git.last.Duration == 0 {
		return Measure{}, fmt.Errorf("%w: git did not run", ErrUnavailable)
	}
	g.Git.cpu = 0
	start := time.Now()
	if _, err := g.Git.git(ctx, env.CSVDir, "gc", "-q"); err != nil {
		return Measure{}, err
	}
	took := time.Since(start)
	cpu := g.Git.cpu
	total := dirBytes(g.Git.dir)
	base := g.Git.last
	g.Git.last = Measure{}
	g.Git.total = total // the next commit adds loose objects to this
	m := Measure{
		Duration: base.Duration + took, NewBytes: total - g.total, TotalBytes: total, Records: base.Records,
		Detail: fmt.Sprintf("git %.1f s + gc %.1f s (CPU %.1f s); packed", base.Duration.Seconds(), took.Seconds(), cpu.Seconds()),
	}
	g.total = total
	return m, nil
}
