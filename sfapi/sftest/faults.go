package sftest

import (
	"net/http"
	"sync/atomic"
	"time"
)

// FaultKind is one kind of injected failure.
type FaultKind string

const (
	Fault503          FaultKind = "503"                    // 503 Service Unavailable, nothing done
	Fault500          FaultKind = "500"                    // 500 UNKNOWN_EXCEPTION, nothing done
	FaultReset        FaultKind = "reset"                  // connection closed part-way through the response body
	FaultSlow         FaultKind = "slow"                   // response delayed by FaultOptions.SlowDelay, then served normally
	FaultQueryTimeout FaultKind = "QUERY_TIMEOUT"          // query and queryMore only: 400 QUERY_TIMEOUT
	FaultSession      FaultKind = "INVALID_SESSION_ID"     // 401: the client must refresh its token (the old one keeps working)
	FaultBulkFailed   FaultKind = "bulk-failed"            // Bulk job creation: the job ends Failed
	FaultLimit        FaultKind = "REQUEST_LIMIT_EXCEEDED" // 403 ConcurrentRequests limit, nothing done
)

// AllFaults lists every fault kind.
var AllFaults = []FaultKind{Fault503, Fault500, FaultReset, FaultSlow, FaultQueryTimeout, FaultSession, FaultBulkFailed, FaultLimit}

// FaultOptions injects failures into API requests (not into the versions
// list or the OAuth token endpoint, so that clients can always log in).
//
// Guarantee: a faulted request never leaves the org half-changed. Every kind
// except FaultReset and FaultSlow answers before touching the org. A reset
// happens after the request was fully processed; on GET requests (the default)
// that changes nothing, and with ResetWrites a write is fully applied before
// its response is cut, as when a real connection drops after the commit.
type FaultOptions struct {
	Rate        float64     // probability that a request is faulted, 0..1
	Seed        int64       // fault sequence: the n-th request's fate is a function of (Seed, n)
	Kinds       []FaultKind // kinds to draw from; empty ⇒ AllFaults
	SlowDelay   time.Duration
	ResetWrites bool // also cut responses of writes (after they are applied)
}

// SetFaults replaces the fault configuration (the request counter restarts).
func (o *Org) SetFaults(f FaultOptions) {
	o.api.mu.Lock()
	o.api.faults = f
	o.api.mu.Unlock()
	atomic.StoreUint64(&o.api.faultSeq, 0)
}

// FaultCounts returns how many faults of each kind were injected.
func (o *Org) FaultCounts() map[FaultKind]int {
	o.api.mu.Lock()
	defer o.api.mu.Unlock()
	m := map[FaultKind]int{}
	for k, v := range o.api.faultCount {
		m[k] = v
	}
	return m
}

// drawFault decides the fate of one request: "" or a kind applicable to it.
func (o *Org) drawFault(r *http.Request, isQuery, isJobCreate bool) FaultKind {
	o.api.mu.Lock()
	f := o.api.faults
	o.api.mu.Unlock()
	if f.Rate <= 0 {
		return ""
	}
	n := atomic.AddUint64(&o.api.faultSeq, 1)
	x := mix(uint64(f.Seed) ^ n*0x9e3779b97f4a7c15)
	if float64(x>>11)/(1<<53) >= f.Rate {
		return ""
	}
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = AllFaults
	}
	var ok []FaultKind
	for _, k := range kinds {
		switch k {
		case FaultQueryTimeout:
			if !isQuery {
				continue
			}
		case FaultBulkFailed:
			if !isJobCreate {
				continue
			}
		case FaultReset:
			if r.Method != http.MethodGet && !f.ResetWrites {
				continue
			}
		}
		ok = append(ok, k)
	}
	if len(ok) == 0 {
		return ""
	}
	k := ok[mix(x)%uint64(len(ok))]
	o.api.mu.Lock()
	o.api.faultCount[k]++
	o.api.mu.Unlock()
	return k
}

// resetWriter cuts the connection after limit body bytes: the client sees
// a truncated body (unexpected EOF) after a 200 status line.
type resetWriter struct {
	http.ResponseWriter
	limit   int
	written int
	cut     bool
}

func (w *resetWriter) Write(p []byte) (int, error) {
	if w.cut {
		return 0, http.ErrHijacked
	}
	if w.written+len(p) <= w.limit {
		w.written += len(p)
		return w.ResponseWriter.Write(p)
	}
	n, _ := w.ResponseWriter.Write(p[:w.limit-w.written])
	w.written += n
	w.kill()
	return n, http.ErrHijacked
}

func (w *resetWriter) Flush() {
	if !w.cut {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// kill flushes what was written (forcing chunked encoding, so the client
// cannot mistake the cut for a complete body) and closes the connection.
func (w *resetWriter) kill() {
	if w.cut {
		return
	}
	w.cut = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := h.Hijack(); err == nil {
			conn.Close()
		}
	}
}
