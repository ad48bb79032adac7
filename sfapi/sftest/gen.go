package sftest

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"math"
	"strconv"
	"sync"
)

// The generator computes record i of object X from (seed, X, i) alone: every
// field value is a pure function of a per-record hash and a per-field salt,
// so a 10M-record org costs no memory until records are changed, and two
// orgs built from the same options are identical.

// mix is the splitmix64 finalizer: a fast, well-distributed 64-bit hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// gctx is the generation context of one record.
type gctx struct {
	o    *Org
	st   *objState
	i    int64  // record index within the object
	h    uint64 // record hash
	salt uint64 // salt of the field being generated
}

func (c *gctx) init(o *Org, st *objState, i int64) {
	c.o, c.st, c.i = o, st, i
	c.h = mix(o.seed ^ st.salt ^ mix(uint64(i)+1))
}

// rnd returns 64 random bits for the current field mixed with k.
func (c *gctx) rnd(k uint64) uint64 { return mix(c.h ^ c.salt ^ k*0x9e3779b97f4a7c15) }

// rndFix returns 64 random bits independent of the current field: fields that
// must agree (FirstName, LastName, Email, Name) share a fixed salt k.
func (c *gctx) rndFix(k uint64) uint64 { return mix(c.h ^ k*0xd6e8feb86659fd93) }

func (c *gctx) intn(k uint64, n int64) int64 {
	if n <= 0 {
		return 0
	}
	return int64(c.rnd(k) % uint64(n))
}

func (c *gctx) frac(k uint64) float64 { return float64(c.rnd(k)>>11) / (1 << 53) }

func (c *gctx) pick(k uint64, list []string) string { return list[c.rnd(k)%uint64(len(list))] }

// count is the current number of indexes of object name (0 if absent).
func (c *gctx) count(name string) int64 {
	if st := c.o.byName[lowerASCII(name)]; st != nil {
		return st.genN
	}
	return 0
}

// refTo returns the Id of record idx of object name.
func (c *gctx) refTo(name string, idx int64) Value {
	st := c.o.byName[lowerASCII(name)]
	if st == nil || st.genN == 0 {
		return null
	}
	if idx >= st.genN {
		idx = st.genN - 1
	}
	return vStr(makeID(st.obj.KeyPrefix, idCounter+idx))
}

// randRef returns a uniformly random generated record of object name.
func (c *gctx) randRef(k uint64, name string) Value {
	n := c.count(name)
	if n == 0 {
		return null
	}
	return c.refTo(name, c.intn(k, n))
}

// blockRef maps this record onto a parent by position: records i of a child
// object with m rows belong to parent i*n/m, so children of one parent are
// adjacent and every parent gets about m/n children.
func (c *gctx) blockRef(name string) Value {
	n := c.count(name)
	if n == 0 {
		return null
	}
	return c.refTo(name, c.blockIdx(n))
}

func (c *gctx) blockIdx(n int64) int64 {
	m := c.st.genN
	if m == 0 {
		return 0
	}
	return c.i * n / m
}

// ---- timestamps ----

const (
	dayMs     = int64(86400000)
	historyMs = 3 * 365 * dayMs // generated records span three years before BaseTime
)

// createdMs spreads creation times of generated records evenly over the
// history, in index order, so Id order is creation order as in a real org.
func (c *gctx) createdMs() int64 {
	n := c.st.genN
	if c.st.obj.fixed > 0 || n == 0 {
		return c.o.baseMs - historyMs - 30*dayMs + c.i*60000
	}
	step := historyMs / n
	t := c.o.baseMs - historyMs + c.i*step
	if step > 1000 {
		t += int64(mix(c.h^0xc2ea) % uint64(step/1000) * 1000)
	}
	return t - t%1000
}

// modifiedMs is LastModifiedDate: mostly close to creation, some recent.
func (c *gctx) modifiedMs() int64 {
	cr := c.createdMs()
	if cr >= c.o.baseMs-3600000 {
		return cr // created in the last hour (large orgs): not modified since
	}
	u := float64(mix(c.h^0x1a57)>>11) / (1 << 53)
	t := cr + int64(u*u*u*float64(c.o.baseMs-3600000-cr))
	return t - t%1000
}

// modstampMs is SystemModstamp: LastModifiedDate, or later for the 5% of
// records touched by system processes (roll-ups, sharing recalculation).
func (c *gctx) modstampMs() int64 {
	lm := c.modifiedMs()
	// (The span must be positive: a record modified in the last hour has
	// no room for a later system touch, and a negative span converted to
	// uint64 made dates tens of millions of years away.)
	if mix(c.h^0x5e5)%20 == 0 && lm < c.o.baseMs-3600000 {
		t := lm + int64(mix(c.h^0x5e6)%uint64(c.o.baseMs-3600000-lm+1))
		return t - t%1000
	}
	return lm
}

// ---- generator constructors ----

type genFn = func(c *gctx) Value

func gConst(v Value) genFn { return func(*gctx) Value { return v } }

func gPick(vals ...string) genFn {
	return func(c *gctx) Value { return vStr(c.pick(1, vals)) }
}

// gSkew picks from vals with a strong bias to the first entries.
func gSkew(vals ...string) genFn {
	return func(c *gctx) Value {
		u := c.frac(1)
		return vStr(vals[int(u*u*float64(len(vals)))])
	}
}

// gNull makes g return null with probability p.
func gNull(p float64, g genFn) genFn {
	return func(c *gctx) Value {
		if c.frac(0x4e11) < p {
			return null
		}
		return g(c)
	}
}

func gInt(lo, hi int64) genFn {
	return func(c *gctx) Value { return vInt(lo + c.intn(1, hi-lo+1)) }
}

// gMoney is log-uniform in [lo, hi), rounded to cents (or to whole units).
func gMoney(lo, hi float64, cents bool) genFn {
	return func(c *gctx) Value {
		v := lo * math.Pow(hi/lo, c.frac(1))
		if cents {
			return vFloat(math.Round(v*100) / 100)
		}
		return vFloat(math.Round(v))
	}
}

func gBool(p float64) genFn { return func(c *gctx) Value { return vBool(c.frac(1) < p) } }

// gDate is a date between from and to days relative to the record's creation.
func gDate(from, to int64) genFn {
	return func(c *gctx) Value {
		ms := c.createdMs() + (from+c.intn(1, to-from+1))*dayMs
		return Value{K: KDate, I: floorDiv(ms, dayMs)}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func gWords(minW, maxW int) genFn {
	return func(c *gctx) Value { return vStr(words(c.rnd(1), minW, maxW)) }
}

func words(r uint64, minW, maxW int) string {
	n := minW + int(r%uint64(maxW-minW+1))
	b := make([]byte, 0, n*7)
	for i := 0; i < n; i++ {
		r = mix(r + uint64(i))
		w := loremWords[r%uint64(len(loremWords))]
		if i == 0 {
			b = append(b, w[0]-'a'+'A')
			b = append(b, w[1:]...)
		} else {
			b = append(b, ' ')
			b = append(b, w...)
		}
	}
	b = append(b, '.')
	return string(b)
}

const (
	kFirst = 0xf1 + iota
	kLast
	kCompany
	kCity
	kStreet
	kPhone
	kDomain
)

func gFirst(c *gctx) Value { return vStr(firstNames[c.rndFix(kFirst)%uint64(len(firstNames))]) }
func gLast(c *gctx) Value  { return vStr(lastNames[c.rndFix(kLast)%uint64(len(lastNames))]) }

func fullName(c *gctx) string {
	return firstNames[c.rndFix(kFirst)%uint64(len(firstNames))] + " " + lastNames[c.rndFix(kLast)%uint64(len(lastNames))]
}

func gEmail(c *gctx) Value {
	f := firstNames[c.rndFix(kFirst)%uint64(len(firstNames))]
	l := lastNames[c.rndFix(kLast)%uint64(len(lastNames))]
	b := make([]byte, 0, 48)
	b = appendASCIILower(b, f)
	b = append(b, '.')
	b = appendASCIILower(b, l)
	b = strconv.AppendInt(b, c.i%1000, 10)
	b = append(b, '@')
	b = append(b, domains[c.rndFix(kDomain)%uint64(len(domains))]...)
	return vStr(string(b))
}

// appendASCIILower lower-cases and drops everything but a-z, 0-9.
func appendASCIILower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		ch := lower(s[i])
		if ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' {
			b = append(b, ch)
		}
	}
	return b
}

func companyName(r uint64) string {
	h := companyHeads[r%uint64(len(companyHeads))]
	t := companyTails[(r>>16)%uint64(len(companyTails))]
	s := companySuffix[(r>>32)%uint64(len(companySuffix))]
	return h + " " + t + " " + s
}

func gCompany(c *gctx) Value { return vStr(companyName(c.rndFix(kCompany))) }

func gPhone(c *gctx) Value {
	r := c.rnd(kPhone)
	b := make([]byte, 0, 14)
	b = append(b, '(')
	b = appendPad(b, 200+int64(r%800), 3)
	b = append(b, ") "...)
	b = appendPad(b, 200+int64((r>>12)%800), 3)
	b = append(b, '-')
	b = appendPad(b, int64((r>>24)%10000), 4)
	return vStr(string(b))
}

// gAddress generates part k of an address (see address()): one city per
// record (fixed salt per prefix so all parts agree).
func gAddress(salt uint64) func(c *gctx, part int) Value {
	return func(c *gctx, part int) Value {
		r := c.rndFix(kCity ^ salt)
		if r%10 == 0 {
			return null // 10% of records have no address at all
		}
		ct := &cities[(r>>8)%uint64(len(cities))]
		switch part {
		case 0:
			s := c.rndFix(kStreet ^ salt)
			return vStr(strconv.Itoa(1+int(s%9899)) + " " + streetNames[(s>>16)%uint64(len(streetNames))] + " " + streetTypes[(s>>32)%uint64(len(streetTypes))])
		case 1:
			return vStr(ct.name)
		case 2:
			if ct.state == "" {
				return null
			}
			return vStr(ct.state)
		case 3:
			return vStr(ct.postal + strconv.Itoa(10+int(r>>40)%90))
		case 4:
			return vStr(ct.country)
		case 5, 6:
			if (r>>20)%3 == 0 {
				return null // not geocoded
			}
			d := float64(int64((r>>24)%20000)-10000) / 100000
			if part == 5 {
				return vFloat(math.Round((ct.lat+d)*1e6) / 1e6)
			}
			return vFloat(math.Round((ct.lon-d)*1e6) / 1e6)
		case 7:
			if (r>>20)%3 == 0 {
				return null
			}
			return vStr("Address")
		}
		return null
	}
}

// ---- file bodies ----

// blobPool is the set of distinct file bodies of the org. Many ContentVersion,
// Attachment and Document rows share one body (as real orgs do when the same
// PDF is attached to many records). Bodies are generated on demand; only their
// MD5 checksums are cached.
type blobPool struct {
	seed  uint64
	sizes []int64
	mu    sync.Mutex
	sums  map[int]string
}

func newBlobPool(seed uint64, n int) *blobPool {
	p := &blobPool{seed: seed, sizes: make([]int64, n), sums: map[int]string{}}
	for k := range p.sizes {
		u := float64(mix(seed^uint64(k)*0x2545f4914f6cdd1d)>>11) / (1 << 53)
		// 256 B .. 4 MiB, skewed to small files.
		p.sizes[k] = int64(256 * math.Pow(2, 14*u*u*u))
	}
	return p
}

// pick chooses a body for a record: a Zipf-like skew so a few bodies are
// attached very often.
func (p *blobPool) pick(r uint64) int {
	u := float64(r>>11) / (1 << 53)
	return int(u * u * float64(len(p.sizes)))
}

func (p *blobPool) size(k int) int64 { return p.sizes[k] }

// write streams body k to w.
func (p *blobPool) write(w io.Writer, k int) error {
	var buf [32 << 10]byte
	r := mix(p.seed ^ uint64(k+1)*0x632be59bd9b4e019)
	left := p.sizes[k]
	for left > 0 {
		b := buf[:0]
		for len(b) < len(buf)-16 {
			r = mix(r)
			w := loremWords[r%uint64(len(loremWords))]
			b = append(b, w...)
			if r>>60 == 0 {
				b = append(b, '\n')
			} else {
				b = append(b, ' ')
			}
		}
		if int64(len(b)) > left {
			b = b[:left]
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		left -= int64(len(b))
	}
	return nil
}

// checksum is the lowercase hex MD5 of body k (ContentVersion.Checksum).
func (p *blobPool) checksum(k int) string {
	p.mu.Lock()
	s, ok := p.sums[k]
	p.mu.Unlock()
	if ok {
		return s
	}
	h := md5.New()
	_ = p.write(h, k)
	s = hex.EncodeToString(h.Sum(nil))
	p.mu.Lock()
	p.sums[k] = s
	p.mu.Unlock()
	return s
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}
