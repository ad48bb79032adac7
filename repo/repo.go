// Package repo is orgsnap's snapshot repository: content-addressed,
// compressed, encrypted blobs in pack files, a pebble index (a cache of the
// pack trailers), prolly trees of records, immutable snapshots and refs.
// It knows nothing of Salesforce: objects and record Ids are just names.
//
// Write order, and why a crash at any point is safe:
//
//  1. pack files (written to tmp/, fsynced, renamed into packs/)
//  2. the index entries for those packs (one pebble batch per pack, synced)
//  3. the snapshot file (names the root tree; written create-only)
//  4. the ref (compare-and-swap)
//
// A crash after 1 leaves packs the index does not know: Open indexes them
// again (so their blobs are reused by the next run: it resumes instead of
// starting over) and prune removes what no snapshot references. A crash
// after 2 or 3 leaves unreferenced blobs or an unnamed snapshot, both valid.
// Nothing is ever modified in place, so nothing is ever half-written.
package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/orgsnap/orgsnap/chunker"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/local"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/index"
	"github.com/orgsnap/orgsnap/repo/pack"
	"github.com/orgsnap/orgsnap/repo/tree"
)

// Sentinel errors the CLI maps to exit codes.
var (
	ErrNoRepository  = errors.New("no orgsnap repository")
	ErrExists        = errors.New("a repository already exists there")
	ErrWrongPassword = crypto.ErrWrongPassword
	ErrLocked        = errors.New("repository is locked by another orgsnap process")
	ErrNotFound      = errors.New("not found")
)

// ConfigVersion is the repository format version this code writes.
const ConfigVersion = 1

// Config is the repository's plaintext config file. Everything that decides
// the shape of stored data lives here, so that two orgsnap builds always
// produce the same blobs for the same data.
type Config struct {
	Magic   string    `json:"orgsnap"` // always "repository"
	Version int       `json:"version"`
	ID      string    `json:"id"` // random, identifies the repository across remotes
	Created time.Time `json:"created"`

	Chunker struct {
		Min int `json:"min"`
		Avg int `json:"avg"`
		Max int `json:"max"`
	} `json:"chunker"`
	Tree struct {
		MinNode         int `json:"min_node"`
		TargetNode      int `json:"target_node"`
		MaxNode         int `json:"max_node"`
		LeafValueWeight int `json:"leaf_value_weight"`
	} `json:"tree"`
	// Records up to InlineLimit bytes are stored inside tree leaves (they
	// compress together, and need no 32-byte ID and trailer entry each);
	// larger ones become blobs of their own.
	InlineLimit int `json:"inline_limit"`
	// An object's delta runs are folded into its base when they hold more
	// than 1/RebaseRatio of the base's entries.
	RebaseRatio int `json:"rebase_ratio"`
	// RunMerge runs of one level are merged into one run of the next
	// level (0, in configs written before runs existed: defaultRunMerge).
	RunMerge  int `json:"run_merge,omitempty"`
	FrameSize int `json:"frame_size"`
	// Compression is the zstd level of frames: 1 fastest, 2 default (≈ zstd
	// -3), 3 better (≈ zstd -7), 4 best.
	Compression int `json:"compression"`
	PackSize    int `json:"pack_size"`
	// Extra is where plaintext settings of later issues live, kept verbatim
	// by this code. Anything secret (org profiles) is a sealed setting
	// instead (settings.go).
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

func defaultConfig(now time.Time) (*Config, error) {
	id, err := crypto.NewRandomKey()
	if err != nil {
		return nil, err
	}
	m := id.Master()
	c := &Config{Magic: "repository", Version: ConfigVersion, Created: now.UTC()}
	c.ID = fmt.Sprintf("%x", m[:8])
	p := chunker.DefaultParams()
	c.Chunker.Min, c.Chunker.Avg, c.Chunker.Max = p.Min, p.Avg, p.Max
	c.Tree.MinNode, c.Tree.TargetNode, c.Tree.MaxNode, c.Tree.LeafValueWeight = 2048, 8192, 32768, 64
	c.InlineLimit = 4096
	// Runs up to a third of the base, merged by eights: about 4% of a full
	// snapshot a day under 1% churn (docs/benchmarks.md).
	c.RebaseRatio = 3
	c.RunMerge = defaultRunMerge
	c.FrameSize = pack.DefaultFrameSize
	c.Compression = 3 // zstd "better": 1.02× vs 1.08× of zstd -3 CSV at 165K vs 226K records/s (docs/benchmarks.md)
	c.PackSize = 16 << 20
	return c, nil
}

const defaultRunMerge = 8

// runMerge is the merge fan-in of delta runs (RunMerge, or its default).
func (c *Config) runMerge() int {
	if c.RunMerge == 0 {
		return defaultRunMerge
	}
	return c.RunMerge
}

func (c *Config) validate() error {
	if c.Magic != "repository" {
		return fmt.Errorf("%w: config is not an orgsnap repository config", ErrNoRepository)
	}
	if c.Version > ConfigVersion {
		return fmt.Errorf("repository format %d is newer than this orgsnap supports (%d): upgrade orgsnap", c.Version, ConfigVersion)
	}
	if c.InlineLimit < 0 || c.InlineLimit > tree.MaxValueLen-1 || c.RebaseRatio < 1 || c.RunMerge == 1 || c.RunMerge < 0 || c.FrameSize < 4096 || c.PackSize < 1<<16 || c.Compression < 1 || c.Compression > 4 {
		return fmt.Errorf("repository config has invalid values: inline_limit=%d rebase_ratio=%d frame_size=%d pack_size=%d",
			c.InlineLimit, c.RebaseRatio, c.FrameSize, c.PackSize)
	}
	return nil
}

// Options for Init and Open.
type Options struct {
	Password []byte
	// Insecure creates (Init) a repository whose master key is stored
	// unwrapped. Only with --insecure-no-password.
	Insecure bool
	KDF      crypto.KDFParams // zero: crypto.DefaultKDF
	Now      func() time.Time // zero: time.Now
	// LockWait is how long Open waits for another process to release the
	// repository; zero fails at once with ErrLocked.
	LockWait time.Duration
	// ReadOnly opens without the lock and without the index, for commands
	// that only read snapshots and refs (log, key list).
	ReadOnly bool
	// Config overrides for Init (tests use small nodes and packs).
	Tune func(*Config)
	// Purpose is recorded in the lock file so a waiting process can say who
	// holds the repository.
	Purpose string
	// WrapBackend decorates the storage (fault injection in tests, limits).
	WrapBackend func(backend.Backend) backend.Backend
	// RemoteRefs lets revisions name remote-tracking refs (origin/main);
	// nil: they are unknown revisions.
	RemoteRefs RemoteRefs
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Repository is an open repository.
type Repository struct {
	dir     string
	be      backend.Backend
	cfg     *Config
	key     *crypto.Key
	idx     *index.Index
	lock    *fileLock
	now     func() time.Time
	treeCfg tree.Config
	chunkP  chunker.Params
	blobs   *blobStore
	tables  tableCache  // decoded field-list tables
	digests digestCache // loaded base digests (basedigest.go)
	// remoteRefs resolves REMOTE/REF revisions (Options.RemoteRefs).
	remoteRefs RemoteRefs
}

// Init creates a repository in dir.
func Init(ctx context.Context, dir string, o Options) (*Repository, error) {
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	kdf := crypto.KDFArgon2id
	if o.Insecure {
		kdf = crypto.KDFNone
	} else if len(o.Password) == 0 {
		return nil, errors.New("no password given: set ORGSNAP_PASSWORD or ORGSNAP_PASSWORD_FILE, or pass --insecure-no-password")
	}
	if o.KDF == (crypto.KDFParams{}) {
		o.KDF = crypto.DefaultKDF
	}
	be, err := local.Open(dir, true)
	if err != nil {
		return nil, err
	}
	now := o.now()
	cfg, err := defaultConfig(now)
	if err != nil {
		return nil, err
	}
	if o.Tune != nil {
		o.Tune(cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := crypto.NewRandomKey()
	if err != nil {
		return nil, err
	}
	kf, err := crypto.Wrap(key, o.Password, kdf, o.KDF, now)
	if err != nil {
		return nil, err
	}
	hostUser(kf)
	if _, err := saveKeyFile(ctx, be, kf); err != nil {
		return nil, err
	}
	// The config is written last: until it exists, the directory is not a
	// repository, so a crashed init can simply be run again.
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := be.Save(ctx, backend.Handle{Type: backend.Config}, data, backend.SaveOptions{IfNotExists: true}); err != nil {
		if errors.Is(err, backend.ErrExists) {
			return nil, fmt.Errorf("%w: %s", ErrExists, dir)
		}
		return nil, err
	}
	return open(ctx, be, cfg, key, o)
}

// Open opens the repository in dir.
func Open(ctx context.Context, dir string, o Options) (*Repository, error) {
	be, err := local.Open(dir, false)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (run `orgsnap init` to create one)", ErrNoRepository, dir)
	}
	raw, err := be.Load(ctx, backend.Handle{Type: backend.Config}, 0, -1)
	if err != nil {
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("%w at %s (run `orgsnap init` to create one)", ErrNoRepository, dir)
		}
		return nil, err
	}
	cfg := &Config{}
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("%w at %s: config is not valid JSON: %v", ErrNoRepository, dir, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, _, err := unlock(ctx, be, o.Password)
	if err != nil {
		return nil, err
	}
	return open(ctx, be, cfg, key, o)
}

func open(ctx context.Context, lb *local.Backend, cfg *Config, key *crypto.Key, o Options) (*Repository, error) {
	var be backend.Backend = lb
	if o.WrapBackend != nil {
		be = o.WrapBackend(lb)
	}
	r := &Repository{dir: lb.Root(), be: be, cfg: cfg, key: key, now: o.now, remoteRefs: o.RemoteRefs}
	if o.Now == nil {
		r.now = time.Now
	}
	r.treeCfg = tree.Config{
		Key:     key.TreeSalt,
		MinNode: cfg.Tree.MinNode, TargetNode: cfg.Tree.TargetNode, MaxNode: cfg.Tree.MaxNode,
		LeafValueWeight: cfg.Tree.LeafValueWeight,
		TempDir:         filepath.Join(r.dir, "tmp"),
	}
	if err := r.treeCfg.Validate(); err != nil {
		return nil, fmt.Errorf("repository tree settings: %w", err)
	}
	r.chunkP = chunker.Params{Min: cfg.Chunker.Min, Avg: cfg.Chunker.Avg, Max: cfg.Chunker.Max}
	if err := r.chunkP.Validate(); err != nil {
		return nil, fmt.Errorf("repository chunker settings: %w", err)
	}
	if o.ReadOnly {
		return r, nil
	}
	lk, err := acquireLock(ctx, filepath.Join(r.dir, "locks"), o.Purpose, o.LockWait, r.now)
	if err != nil {
		return nil, err
	}
	r.lock = lk
	lb.Clean() // leftovers of a crashed writer; safe under the lock
	idx, err := index.Open(filepath.Join(r.dir, "index"))
	if err != nil {
		lk.release()
		return nil, err
	}
	r.idx = idx
	r.blobs = newBlobStore(r)
	if err := r.indexMissingPacks(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the index and the lock. Unflushed blobs are discarded:
// call Flush (or commit a snapshot writer) first.
func (r *Repository) Close() error {
	var err error
	if r.idx != nil {
		err = r.idx.Close()
		r.idx = nil
	}
	if r.lock != nil {
		r.lock.release()
		r.lock = nil
	}
	return err
}

// Dir is the repository's directory.
func (r *Repository) Dir() string { return r.dir }

// Config returns the repository config.
func (r *Repository) Config() Config { return *r.cfg }

// Key returns the unlocked key (for the chunker and aliases of callers).
func (r *Repository) Key() *crypto.Key { return r.key }

// Backend is the storage the repository lives on.
func (r *Repository) Backend() backend.Backend { return r.be }

// Index is the open index (nil when opened read-only).
func (r *Repository) Index() *index.Index { return r.idx }

func (r *Repository) writable() error {
	if r.idx == nil {
		return errors.New("repository opened read-only")
	}
	return nil
}

// indexMissingPacks indexes packs that exist but are not in the index: the
// trace of a crash between writing a pack and indexing it, or of an index
// that was deleted. Their blobs become reusable, so the next run resumes.
func (r *Repository) indexMissingPacks(ctx context.Context) error {
	var missing []backend.FileInfo
	err := r.be.List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		_, _, id, err := pack.ParseName(fi.Name)
		if err != nil {
			return nil // not ours; check reports it
		}
		has, err := r.idx.HasPack(id)
		if err != nil {
			return err
		}
		if !has {
			missing = append(missing, fi)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, fi := range missing {
		if err := r.indexPack(ctx, fi.Name, fi.Size); err != nil {
			// A pack we cannot read is reported by check; it must not stop
			// the repository from opening.
			continue
		}
	}
	return nil
}

// indexPack reads one pack's trailer and adds it to the index.
func (r *Repository) indexPack(ctx context.Context, name string, size int64) error {
	_, _, id, err := pack.ParseName(name)
	if err != nil {
		return err
	}
	tr, err := r.readTrailer(ctx, name, size)
	if err != nil {
		return err
	}
	return r.idx.AddPack(id, size, tr)
}

func (r *Repository) readTrailer(ctx context.Context, name string, size int64) (*pack.Trailer, error) {
	h := backend.Handle{Type: backend.Packs, Name: name}
	if size < pack.HeaderSize+pack.FooterSize {
		return nil, fmt.Errorf("pack %s: %w: %d bytes", name, pack.ErrCorrupt, size)
	}
	header, err := r.be.Load(ctx, h, 0, pack.HeaderSize)
	if err != nil {
		return nil, err
	}
	footer, err := r.be.Load(ctx, h, size-pack.FooterSize, pack.FooterSize)
	if err != nil {
		return nil, err
	}
	off, n, err := pack.TrailerLocation(footer, size)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	sealed, err := r.be.Load(ctx, h, off, int64(n))
	if err != nil {
		return nil, err
	}
	tr, err := pack.OpenTrailer(r.key, header, sealed)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	return tr, nil
}
