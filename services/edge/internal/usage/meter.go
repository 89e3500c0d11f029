// Package usage counts the traffic an edge delivers, per account and UTC
// day, and reports it to the control plane (DESIGN §9), which bills and
// charts from it.
//
// Counting sits on the request path, so a Meter never makes requests wait
// on each other: events land in one of many small mutex-guarded shards
// picked at random, and only the reporter, every few seconds, visits every
// shard. Reporting is exactly-once: see Reporter.
package usage

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Event is one image response as usage counts it.
type Event struct {
	AccountID string
	Status    int
	// Bytes is the response body sent (0 for HEAD and 304).
	Bytes int64
	// CacheStatus is the X-Cache value: "HIT-L1", "HIT-L2", "MISS" or
	// "STALE"; "" when the response did not get that far (an error).
	CacheStatus string
	// OriginFetched: this response's work fetched (or revalidated) the
	// original from the customer's origin. Transformed: it ran a transform.
	// Requests that joined another request's work count neither.
	OriginFetched bool
	Transformed   bool

	// For a delivery error a customer can act on (see IsReportedError), what
	// the "Not-found help" page shows: the escaped image path as requested
	// (no query), the URL-endpoint and its origins in the order tried, and
	// the reason in errkind's vocabulary. Ignored for other responses.
	Path       string
	EndpointID string
	OriginIDs  []string
	Reason     string
}

// Counters are the totals usage keeps per account and day.
type Counters struct {
	Requests      uint64
	BytesOut      uint64
	HitsL1        uint64
	HitsL2        uint64
	Misses        uint64
	OriginFetches uint64
	Transforms    uint64
	Status4xx     uint64
	Status5xx     uint64
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.Requests += o.Requests
	c.BytesOut += o.BytesOut
	c.HitsL1 += o.HitsL1
	c.HitsL2 += o.HitsL2
	c.Misses += o.Misses
	c.OriginFetches += o.OriginFetches
	c.Transforms += o.Transforms
	c.Status4xx += o.Status4xx
	c.Status5xx += o.Status5xx
}

// countersOf is what one event adds.
func countersOf(e Event) Counters {
	c := Counters{Requests: 1}
	if e.Bytes > 0 {
		c.BytesOut = uint64(e.Bytes)
	}
	switch e.CacheStatus {
	case "HIT-L1":
		c.HitsL1 = 1
	case "HIT-L2":
		c.HitsL2 = 1
	case "MISS", "STALE":
		// A stale copy is served because the origin failed: the cache did
		// not spare the origin a request.
		c.Misses = 1
	}
	if e.OriginFetched {
		c.OriginFetches = 1
	}
	if e.Transformed {
		c.Transforms = 1
	}
	switch {
	case e.Status >= 400 && e.Status < 500:
		c.Status4xx = 1
	case e.Status >= 500 && e.Status < 600:
		c.Status5xx = 1
	}
	return c
}

// Key names one account's counters on one UTC day.
type Key struct {
	AccountID string
	// Day counts days since 1970-01-01 UTC.
	Day int32
}

// DayOf returns the UTC day of t as counted in Key.Day.
func DayOf(t time.Time) int32 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d-- // floor, for instants before 1970
	}
	return int32(d)
}

// Date returns the day as YYYY-MM-DD.
func (k Key) Date() string {
	return time.Unix(int64(k.Day)*86400, 0).UTC().Format(time.DateOnly)
}

// Meter counts events. The zero value is not usable; call NewMeter.
type Meter struct {
	shards []shard
	mask   uint32
	errs   errorLog
	now    func() time.Time
}

// shard is one slice of the counters. Its padding keeps two shards' locks
// off one cache line, so cores recording into different shards do not slow
// each other down either.
type shard struct {
	mu sync.Mutex
	m  map[Key]*Counters
	_  [128 - 16]byte
}

// NewMeter returns a meter with enough shards that concurrent requests
// rarely pick the same one: four per CPU, at least 8, a power of two.
func NewMeter() *Meter {
	n := 8
	for n < 4*runtime.GOMAXPROCS(0) {
		n *= 2
	}
	m := &Meter{shards: make([]shard, n), mask: uint32(n - 1), now: time.Now}
	for i := range m.shards {
		m.shards[i].m = make(map[Key]*Counters)
	}
	m.errs.init()
	return m
}

// Record counts one response. It is safe for concurrent use and a no-op for
// an event without an account (a request no tenant owns is nobody's usage).
func (m *Meter) Record(e Event) {
	if e.AccountID == "" {
		return
	}
	now := m.now()
	k := Key{AccountID: e.AccountID, Day: DayOf(now)}
	add := countersOf(e)
	// rand.Uint32 draws from per-thread state: no shared word to contend on.
	s := &m.shards[rand.Uint32()&m.mask]
	s.mu.Lock()
	c := s.m[k]
	if c == nil {
		c = new(Counters)
		s.m[k] = c
	}
	c.Add(add)
	s.mu.Unlock()
	if IsReportedError(e.Status) && e.Path != "" {
		m.errs.record(e, now)
	}
}

// Drain moves every count recorded so far into into and leaves the meter
// empty. Each event is in exactly one shard, taken whole under that shard's
// lock, so an event is drained exactly once: never split, never lost.
func (m *Meter) Drain(into map[Key]*Counters) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		if len(s.m) == 0 {
			s.mu.Unlock()
			continue
		}
		taken := s.m
		s.m = make(map[Key]*Counters, len(taken))
		s.mu.Unlock()
		for k, c := range taken {
			if acc := into[k]; acc != nil {
				acc.Add(*c)
			} else {
				into[k] = c
			}
		}
	}
}
