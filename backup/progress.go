package backup

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress receives the run's status about twice a second and once at the
// end (Done). The CLI draws a live line on a terminal and logs otherwise.
type Progress interface {
	Progress(Status)
}

// Status is a run's progress.
type Status struct {
	Objects     int           `json:"objects"`
	ObjectsDone int           `json:"objects_done"`
	Records     int64         `json:"records"`  // records and deletions applied
	Expected    int64         `json:"expected"` // records expected by full reads (0: unknown)
	Rate        float64       `json:"records_per_second"`
	Elapsed     time.Duration `json:"elapsed"`
	ETA         time.Duration `json:"eta"`    // 0: unknown
	Object      string        `json:"object"` // the object that moved last
	Files       FileStats     `json:"files"`
	Done        bool          `json:"done"`
}

type progress struct {
	sink    Progress
	now     func() time.Time
	began   time.Time
	objects atomic.Int64
	done    atomic.Int64
	records atomic.Int64
	expect_ atomic.Int64
	mu      sync.Mutex
	last    string
	stop    chan struct{}
	files   func() FileStats
}

func (p *progress) init(sink Progress, now func() time.Time) {
	p.sink, p.now, p.began = sink, now, now()
}

func (p *progress) start(objects int, files func() FileStats) {
	p.objects.Store(int64(objects))
	p.files = files
	if p.sink == nil {
		return
	}
	p.stop = make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.sink.Progress(p.status(false))
			case <-p.stop:
				return
			}
		}
	}()
}

func (p *progress) finish() {
	if p.sink == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.stop = nil
	p.sink.Progress(p.status(true))
}

func (p *progress) add(object string, n int64) {
	p.records.Add(n)
	p.mu.Lock()
	p.last = object
	p.mu.Unlock()
}

func (p *progress) expect(n int64) { p.expect_.Add(n) }
func (p *progress) objectDone()    { p.done.Add(1) }

func (p *progress) status(done bool) Status {
	s := Status{
		Objects: int(p.objects.Load()), ObjectsDone: int(p.done.Load()),
		Records: p.records.Load(), Expected: p.expect_.Load(),
		Elapsed: p.now().Sub(p.began), Done: done,
	}
	p.mu.Lock()
	s.Object = p.last
	p.mu.Unlock()
	if p.files != nil {
		s.Files = p.files()
	}
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.Rate = float64(s.Records) / secs
	}
	if s.Rate > 0 && s.Expected > s.Records {
		s.ETA = time.Duration(float64(s.Expected-s.Records) / s.Rate * float64(time.Second))
	}
	return s
}
