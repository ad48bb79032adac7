package sfapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Usage is the org's daily API usage as last reported by Salesforce in the
// Sforce-Limit-Info header (api-usage=Used/Max).
type Usage struct {
	Used, Max int64
	At        time.Time // when the header was read; zero if never
}

// Percent returns Used as a percentage of Max (0 when Max is unknown).
func (u Usage) Percent() float64 {
	if u.Max <= 0 {
		return 0
	}
	return float64(u.Used) * 100 / float64(u.Max)
}

// Limits tracks API usage from every response. It is safe for concurrent
// use.
type Limits struct {
	mu       sync.Mutex
	usage    Usage
	exceeded bool // a REQUEST_LIMIT_EXCEEDED (daily) was seen
	requests int64
}

// Usage returns the last known usage.
func (l *Limits) Usage() Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usage
}

// Requests returns how many HTTP requests this client sent.
func (l *Limits) Requests() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests
}

func (l *Limits) countRequest() {
	l.mu.Lock()
	l.requests++
	l.mu.Unlock()
}

// observe reads Sforce-Limit-Info from h.
func (l *Limits) observe(h http.Header, now time.Time) {
	v := h.Get("Sforce-Limit-Info")
	if v == "" {
		return
	}
	used, max, ok := parseLimitInfo(v)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Answers to parallel requests arrive out of order, so a lower figure
	// is taken only once it cannot be a straggler: the allocation changed,
	// or a minute passed (the rolling 24-hour window moved on).
	if max != l.usage.Max || used >= l.usage.Used || now.Sub(l.usage.At) > time.Minute {
		l.usage = Usage{Used: used, Max: max, At: now}
	}
}

func (l *Limits) markExceeded() {
	l.mu.Lock()
	l.exceeded = true
	l.mu.Unlock()
}

// parseLimitInfo reads "api-usage=N/M" out of a Sforce-Limit-Info value, which
// may carry other ';'-separated entries (per-app-api-usage, api-bursts).
func parseLimitInfo(v string) (used, max int64, ok bool) {
	for part := range strings.SplitSeq(v, ";") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || strings.TrimSpace(k) != "api-usage" {
			continue
		}
		a, b, found := strings.Cut(strings.TrimSpace(val), "/")
		if !found {
			return 0, 0, false
		}
		u, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		m, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		return u, m, true
	}
	return 0, 0, false
}

// Budget is the brake the engine consults before spending more API calls.
type Budget struct{ l *Limits }

// Check returns an error matching ErrBudgetExhausted once the daily usage
// has reached percent% of the allocation, or once Salesforce has answered
// REQUEST_LIMIT_EXCEEDED. It returns nil while usage is unknown (no response
// seen yet): the first call of a run is always allowed, and it reports usage.
func (b Budget) Check(percent float64) error {
	b.l.mu.Lock()
	u, exceeded := b.l.usage, b.l.exceeded
	b.l.mu.Unlock()
	if exceeded {
		return fmt.Errorf("%w: Salesforce reported REQUEST_LIMIT_EXCEEDED; wait for the rolling 24-hour allocation to recover and run again", ErrBudgetExhausted)
	}
	if u.Max <= 0 {
		return nil
	}
	if float64(u.Used+1) > float64(u.Max)*percent/100 {
		return fmt.Errorf("%w: %d of %d daily API requests used (%.1f%%), limit set at %.0f%%; run again later or raise the budget",
			ErrBudgetExhausted, u.Used, u.Max, u.Percent(), percent)
	}
	return nil
}

// Remaining returns how many calls are left before percent% of the daily
// allocation, or -1 when usage is unknown.
func (b Budget) Remaining(percent float64) int64 {
	u := b.l.Usage()
	if u.Max <= 0 {
		return -1
	}
	r := int64(float64(u.Max)*percent/100) - u.Used
	if r < 0 {
		r = 0
	}
	return r
}
