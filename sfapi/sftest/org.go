package sftest

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultBaseTime is the org's "now" when Options.BaseTime is zero.
var DefaultBaseTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Options configures a generated org.
type Options struct {
	Seed int64
	// Records is the approximate total of generated records across objects;
	// 0 makes only the schema and a few setup rows (users, record types,
	// price books, the organization).
	Records int
	// BaseTime is the org's "now" at creation; zero ⇒ DefaultBaseTime.
	BaseTime time.Time
	Faults   FaultOptions

	// Clock overrides the org clock (dev-org passes a wall clock). Nil ⇒ a
	// ManualClock at BaseTime that only moves through Advance, Churn and
	// WriteTick.
	Clock Clock
	// WriteTick is how far a ManualClock advances after each write
	// transaction, so successive writes get distinct SystemModstamps the way
	// they would on a real org. Zero ⇒ 1s; negative ⇒ never.
	WriteTick time.Duration

	// APIDailyLimit is DailyApiRequests Max; zero ⇒ 100000.
	APIDailyLimit int64
	// ValidationRules run on every insert and update, from any API.
	ValidationRules []ValidationRule
	// DuplicateRules run on inserts and updates (see DuplicateRule).
	DuplicateRules []DuplicateRule
	// RejectInactiveOwners makes a write that sets OwnerId to an inactive
	// user fail with INACTIVE_OWNER_OR_USER, as Salesforce does for a user
	// without the "Update Records with Inactive Owners" permission. Off by
	// default: generated records may be owned by inactive users, and
	// restoring them as they were is what most tests check.
	RejectInactiveOwners bool
	// QueryBatchSize is the REST query page size when the client sends no
	// Sforce-Query-Options; zero ⇒ 2000.
	QueryBatchSize int
	// BulkPageSize is the Bulk 2.0 result page size when the client sends no
	// maxRecords; zero ⇒ 100000 (unconfirmed on real orgs).
	BulkPageSize int
	// BulkPolls is how many job-info GETs report InProgress before a Bulk
	// job completes. Zero ⇒ the first poll already says JobComplete, which
	// spares the sf CLI a 5 s wait.
	BulkPolls int

	// Credentials accepted by /services/oauth2/token; empty ⇒ the defaults
	// below (DefaultClientID, …).
	ClientID, ClientSecret, Username, Password, RefreshToken string
	// JWTPublicKeyPEM, when set, verifies JWT bearer assertions (RS256);
	// otherwise any well-formed assertion for a known user is accepted.
	JWTPublicKeyPEM []byte
	// RequestLog, when set, receives one line per request: method, path,
	// status (dev-org --verbose).
	RequestLog io.Writer
}

// Default credentials of an emulated org.
const (
	DefaultClientID     = "3MVG9orgsnap.emulator.client"
	DefaultClientSecret = "orgsnap-emulator-secret"
	DefaultPassword     = "orgsnap-password"
	DefaultRefreshToken = "5Aep861orgsnapEmulatorRefreshToken"
	adminUsername       = "admin@orgsnap.test"
)

// Clock is the org's time source.
type Clock interface{ Now() time.Time }

// ManualClock is a Clock that moves only when told to.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }
func (c *ManualClock) Now() time.Time         { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *ManualClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// ValidationRule rejects inserts and updates of Object for which Fails
// returns true, with FIELD_CUSTOM_VALIDATION_EXCEPTION and Message (on
// ErrorField when set), as a Salesforce validation rule does.
type ValidationRule struct {
	Object, Name, Message, ErrorField string
	// Fails sees the record as it would be after the write.
	Fails func(r Record) bool
}

// Record is one record in the org's current state, as plain Go values
// (see Value.Any): nil, string, bool, int64, float64, time.Time.
type Record struct {
	Object  string
	ID      string
	Deleted bool // in the Recycle Bin (IsDeleted = true)
	Fields  map[string]any
}

// Org is an emulated Salesforce org. All methods are safe for concurrent use.
type Org struct {
	mu     sync.RWMutex
	opts   Options
	seed   uint64
	id     string // 18-char organization Id
	clock  Clock
	baseMs int64

	objs   []*objState
	byName map[string]*objState // exact and lower-cased names
	byPfx  map[string]*objState
	pool   *blobPool
	blobs  map[string][]byte // bodies uploaded through the API, by "\x00mem:" key
	seq    uint64            // last committed write transaction
	txs    map[*Tx]bool      // open long transactions (late commits)

	api apiState
}

// objState is one object's data: a generated prefix of genN records plus an
// overlay of versions for records changed, deleted or inserted since.
type objState struct {
	obj   *Object
	salt  uint64
	genN  int64              // records 0..genN-1 are generated
	n     int64              // indexes allocated (genN + inserted)
	recs  map[int64]*version // newest version of each changed record
	dlog  []deleteEntry      // delete log (getDeleted)
	purge int64              // ms of the oldest delete-log entry ever purged
}

// version is one committed state of a record. Versions chain to older ones
// so that cursors opened at sequence s keep reading the org as of s.
type version struct {
	seq       uint64
	vals      []Value // by field position; shorter than Fields ⇒ trailing nulls
	deleted   bool    // soft-deleted (Recycle Bin)
	purged    bool    // hard-deleted: gone from every query
	deletedMs int64
	cascade   string // Id of the record whose delete cascaded to this one
	prev      *version
}

type deleteEntry struct {
	idx int64
	ms  int64
}

// NewOrg generates an org. It is cheap at any size: records are computed on
// demand.
func NewOrg(opts Options) *Org {
	if opts.BaseTime.IsZero() {
		opts.BaseTime = DefaultBaseTime
	}
	if opts.WriteTick == 0 {
		opts.WriteTick = time.Second
	}
	if opts.APIDailyLimit == 0 {
		opts.APIDailyLimit = 100000
	}
	if opts.QueryBatchSize == 0 {
		opts.QueryBatchSize = 2000
	}
	if opts.BulkPageSize == 0 {
		opts.BulkPageSize = 100000
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&opts.ClientID, DefaultClientID)
	def(&opts.ClientSecret, DefaultClientSecret)
	def(&opts.Username, adminUsername)
	def(&opts.Password, DefaultPassword)
	def(&opts.RefreshToken, DefaultRefreshToken)
	o := &Org{
		opts:   opts,
		seed:   mix(uint64(opts.Seed) ^ 0x0c5a17),
		clock:  opts.Clock,
		baseMs: opts.BaseTime.UnixMilli(),
		byName: map[string]*objState{},
		byPfx:  map[string]*objState{},
		blobs:  map[string][]byte{},
		txs:    map[*Tx]bool{},
	}
	if o.clock == nil {
		o.clock = NewManualClock(opts.BaseTime)
	}
	o.id = makeID("00D", idCounter)
	for _, obj := range catalog() {
		obj.Modified = opts.BaseTime.Add(-time.Duration(historyMs)*time.Millisecond - 30*24*time.Hour)
		o.addObject(obj)
	}
	for _, st := range o.objs {
		obj := st.obj
		n := int64(0)
		switch {
		case obj.fixed > 0:
			n = int64(obj.fixed)
		case obj.Name == "User":
			n = max(int64(obj.minN), min(2000, int64(math.Round(obj.weight*float64(opts.Records)))))
		case opts.Records > 0:
			n = max(int64(obj.minN), int64(math.Round(obj.weight*float64(opts.Records))))
		}
		st.genN, st.n = n, n
	}
	// One version per document, one standard price per product.
	o.byName["ContentVersion"].genN = o.byName["ContentDocument"].genN
	o.byName["ContentVersion"].n = o.byName["ContentDocument"].genN
	o.byName["PricebookEntry"].genN = o.byName["Product2"].genN
	o.byName["PricebookEntry"].n = o.byName["Product2"].genN
	o.pool = newBlobPool(o.seed, int(min(2000, max(8, o.byName["ContentDocument"].genN/4))))
	o.api.init(o)
	return o
}

func (o *Org) addObject(obj *Object) *objState {
	st := &objState{obj: obj, recs: map[int64]*version{}}
	h := uint64(14695981039346656037)
	for i := 0; i < len(obj.Name); i++ {
		h = (h ^ uint64(obj.Name[i])) * 1099511628211
	}
	st.salt = mix(h)
	o.objs = append(o.objs, st)
	o.byName[obj.Name] = st
	o.byName[strings.ToLower(obj.Name)] = st
	o.byPfx[obj.KeyPrefix] = st
	return st
}

// ID is the organization Id (18 characters, prefix 00D).
func (o *Org) ID() string { return o.id }

// AdminUserID is the Id of the API user every token acts as.
func (o *Org) AdminUserID() string { return makeID("005", idCounter) }

// Now is the org clock.
func (o *Org) Now() time.Time { return o.clock.Now().UTC() }

func (o *Org) nowMs() int64 { return o.clock.Now().UnixMilli() }

// Advance moves a ManualClock forward (no-op for other clocks).
func (o *Org) Advance(d time.Duration) {
	if m, ok := o.clock.(*ManualClock); ok {
		m.Advance(d)
	}
}

// tick advances a ManualClock after a write transaction (Options.WriteTick).
func (o *Org) tick() {
	if o.opts.WriteTick > 0 {
		o.Advance(o.opts.WriteTick)
	}
}

func (o *Org) state(name string) *objState {
	if st := o.byName[name]; st != nil {
		return st
	}
	return o.byName[strings.ToLower(name)]
}

// Objects lists the object names of the org in schema order.
func (o *Org) Objects() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	names := make([]string, len(o.objs))
	for i, st := range o.objs {
		names[i] = st.obj.Name
	}
	return names
}

// Object returns the schema of an object (nil if unknown). The result must
// be treated as read-only.
func (o *Org) Object(name string) *Object {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if st := o.state(name); st != nil {
		return st.obj
	}
	return nil
}

// GeneratedCount is the number of generated records of an object.
func (o *Org) GeneratedCount(name string) int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if st := o.state(name); st != nil {
		return st.genN
	}
	return 0
}

// ---- reading ----

// row is one record as of a snapshot, with lazily generated values.
type row struct {
	o     *Org
	st    *objState
	idx   int64
	v     *version // nil ⇒ the generated record
	c     gctx
	cInit bool
}

func (r *row) reset(o *Org, st *objState, idx int64, v *version) {
	r.o, r.st, r.idx, r.v, r.cInit = o, st, idx, v, false
}

func (r *row) id() string { return makeID(r.st.obj.KeyPrefix, idCounter+r.idx) }

// val is the value of field f.
func (r *row) val(f *Field) Value {
	if f.calc != nil {
		return f.calc(r)
	}
	if r.v != nil {
		if f.pos < len(r.v.vals) {
			return r.v.vals[f.pos]
		}
		return null
	}
	if f.gen == nil {
		return null
	}
	if !r.cInit {
		r.c.init(r.o, r.st, r.idx)
		r.cInit = true
	}
	r.c.salt = f.salt
	return f.gen(&r.c)
}

// get is the value of the field named name (null if there is none).
func (r *row) get(name string) Value {
	f := r.st.obj.Field(name)
	if f == nil {
		return null
	}
	return r.val(f)
}

// at returns the version of record idx visible at snapshot snap, and whether
// the record exists then (purged records do not).
func (st *objState) at(idx int64, snap uint64) (*version, bool) {
	v := st.recs[idx]
	for v != nil && v.seq > snap {
		v = v.prev
	}
	if v == nil {
		return nil, idx < st.genN
	}
	return v, !v.purged
}

// genField is the generated value of field name of record idx of object obj
// (ignoring later changes): generators use it for values derived from other
// records, such as a price book entry's product name.
func (o *Org) genField(obj string, idx int64, name string) Value {
	st := o.state(obj)
	if st == nil {
		return null
	}
	f := st.obj.Field(name)
	if f == nil || f.gen == nil || idx < 0 || idx >= st.genN {
		return null
	}
	var c gctx
	c.init(o, st, idx)
	c.salt = f.salt
	return f.gen(&c)
}

// locate resolves an Id to its object and index (any case of 18-char Id).
func (o *Org) locate(id string) (*objState, int64, bool) {
	pfx, n, ok := parseID(id)
	if !ok {
		return nil, 0, false
	}
	st := o.byPfx[pfx]
	if st == nil || n < idCounter || n-idCounter >= st.n {
		return nil, 0, false
	}
	return st, n - idCounter, true
}

// Get returns one record in the org's current state (Recycle Bin included).
func (o *Org) Get(id string) (Record, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	st, idx, ok := o.locate(id)
	if !ok {
		return Record{}, false
	}
	v, ok := st.at(idx, o.seq)
	if !ok {
		return Record{}, false
	}
	var r row
	r.reset(o, st, idx, v)
	return r.record(), true
}

func (r *row) record() Record {
	rec := Record{Object: r.st.obj.Name, ID: r.id(), Deleted: r.v != nil && r.v.deleted, Fields: map[string]any{}}
	for _, f := range r.st.obj.Fields {
		if f.Parts != nil {
			continue // compound fields are views of their components
		}
		v := r.val(f)
		if f.Type == "base64" && !v.IsNull() {
			rec.Fields[f.Name] = "/sobjects/" + r.st.obj.Name + "/" + rec.ID + "/" + f.Name
			continue
		}
		rec.Fields[f.Name] = v.Any()
	}
	return rec
}

// Records calls fn for every record of object (soft-deleted ones included,
// with Deleted set), in Id order, in the org's current state, until fn
// returns false. Records are computed one at a time: iterating a 10M-record
// object holds one record in memory.
func (o *Org) Records(object string, fn func(Record) bool) error {
	o.mu.RLock()
	st := o.state(object)
	if st == nil {
		o.mu.RUnlock()
		return fmt.Errorf("sftest: no object %q", object)
	}
	snap, n := o.seq, st.n
	o.mu.RUnlock()
	var r row
	const chunk = 1024
	for start := int64(0); start < n; start += chunk {
		var recs []Record
		o.mu.RLock()
		for idx := start; idx < min(n, start+chunk); idx++ {
			v, ok := st.at(idx, snap)
			if !ok {
				continue
			}
			r.reset(o, st, idx, v)
			recs = append(recs, r.record())
		}
		o.mu.RUnlock()
		for _, rec := range recs {
			if !fn(rec) {
				return nil
			}
		}
	}
	return nil
}

// Count returns the number of records of object, with or without the
// Recycle Bin.
func (o *Org) Count(object string, includeDeleted bool) int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	st := o.state(object)
	if st == nil {
		return 0
	}
	n := st.genN
	for idx, v := range st.recs {
		if idx >= st.genN && !v.purged {
			n++
		}
		if idx < st.genN && v.purged {
			n--
		}
		if !includeDeleted && !v.purged && v.deleted {
			n--
		}
	}
	return n
}

// ---- documents ----

func (o *Org) docBody(d int64) int { return o.pool.pick(mix(o.seed ^ uint64(d+1)*0xd0c5)) }
func (o *Org) docExt(d int64) int  { return o.docBody(d) % len(fileExts) }
func (o *Org) docTitle(d int64) string {
	return o.docTitleOf(uint64(o.docBody(d))) + " " + padNum(d%1000, 3)
}

// docTitleOf names a body: the same file attached twice has the same name.
func (o *Org) docTitleOf(k uint64) string {
	r := mix(o.seed ^ (k+1)*0x71713)
	kinds := []string{"Contract", "Invoice", "Proposal", "Brochure", "Report", "Photo", "Spec", "Minutes", "Quote", "Logo"}
	return kinds[r%uint64(len(kinds))] + "_" + companyHeads[(r>>16)%uint64(len(companyHeads))] + "_" + padNum(int64(k%100000), 5)
}

// cdlDoc is the document of link c: one link per document, then extra
// links (shares with users) spread over the documents.
func (o *Org) cdlDoc(c *gctx) int64 {
	d := c.count("ContentDocument")
	if d == 0 {
		return 0
	}
	if c.i < d {
		return c.i
	}
	return (c.i * 7) % d
}

// sortedNames is used by describeGlobal: objects sorted by name.
func (o *Org) sortedObjs() []*objState {
	s := append([]*objState(nil), o.objs...)
	sort.Slice(s, func(i, j int) bool { return s[i].obj.Name < s[j].obj.Name })
	return s
}

// ClientClock is the clock to give a client of this org (sfapi.Config's
// Clock): it tells the org's time, as a client of a real org shares the
// org's time (replication windows are checked against it), and sleeps
// for real, at most MaxSleep when it is set (the emulator finishes Bulk
// jobs at once: polls need not wait long).
type ClientClock struct {
	Org      *Org
	MaxSleep time.Duration
}

func (c ClientClock) Now() time.Time { return c.Org.Now() }

func (c ClientClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.MaxSleep > 0 {
		d = min(d, c.MaxSleep)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
