// Package throttle holds the control plane's in-process abuse limits:
// token buckets keyed by client (failed logins, unknown credentials and
// sign-ups per address) and a gate bounding concurrent password hashing.
// They live in memory, so each replica counts on its own: they exist to
// protect the replica's CPU and the database behind it from a flood, and
// must answer before any database work. Limits that must hold across every
// replica (per-account API quotas, login attempts per email) are counted
// in Postgres instead.
package throttle

import (
	"context"
	"sync"
	"time"
)

// Rate is Burst events at once, refilled evenly over Per: Burst 10, Per one
// minute lets ten through at once and then one every six seconds.
type Rate struct {
	Burst int
	Per   time.Duration
}

// interval is the time one token takes to come back.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.Burst) }

// sweepEvery bounds how often a full table is swept for idle keys, so a
// flood of new keys does not turn every insert into a scan.
const sweepEvery = time.Second

// Buckets is a token bucket per key, in bounded memory. Each key keeps one
// time (GCRA's "theoretical arrival time"): the moment its bucket will be
// full again. A key whose time has passed is a full bucket, the same as no
// key at all, so sweeping forgets it.
//
// Callers check with Wait before the expensive work and Spend on the
// outcome they limit (a failure), so successes cost nothing. Requests in
// flight together may all pass Wait; Spend lets the bucket go into debt
// (down to minus Burst) so such overshoot is paid back in waiting.
type Buckets[K comparable] struct {
	mu        sync.Mutex
	interval  time.Duration
	tolerance time.Duration // (Burst-1) intervals: how far ahead full may lie while a token is left
	maxDebt   time.Duration // 2·Burst intervals: how far ahead full may lie at all
	maxKeys   int
	now       func() time.Time
	full      map[K]time.Time
	lastSweep time.Time
}

// NewBuckets returns buckets of rate r for at most maxKeys keys at once.
// Past maxKeys, idle keys are forgotten first, then arbitrary ones: an
// attacker with more addresses than that gets fresh buckets, which is why
// the work these buckets guard has a global bound as well. now is the
// clock (time.Now when nil).
func NewBuckets[K comparable](r Rate, maxKeys int, now func() time.Time) *Buckets[K] {
	if r.Burst < 1 || r.Per <= 0 || maxKeys < 1 {
		panic("throttle: rate and maxKeys must be positive")
	}
	if now == nil {
		now = time.Now
	}
	iv := r.interval()
	return &Buckets[K]{
		interval:  iv,
		tolerance: time.Duration(r.Burst-1) * iv,
		maxDebt:   time.Duration(2*r.Burst) * iv,
		maxKeys:   maxKeys,
		now:       now,
		full:      map[K]time.Time{},
	}
}

// Wait returns how long key must wait for a token: 0 when one is left.
// It takes nothing.
func (b *Buckets[K]) Wait(key K) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	full, ok := b.full[key]
	if !ok {
		return 0
	}
	return max(0, full.Sub(b.now())-b.tolerance)
}

// Spend takes one token from key's bucket, into debt if it is empty.
func (b *Buckets[K]) Spend(key K) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	full, ok := b.full[key]
	if !ok {
		b.makeRoom(now)
	}
	if full.Before(now) {
		full = now
	}
	full = full.Add(b.interval)
	if limit := now.Add(b.maxDebt); full.After(limit) {
		full = limit
	}
	b.full[key] = full
}

// Len is how many keys hold a bucket that is not full.
func (b *Buckets[K]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.full)
}

// makeRoom keeps the table under maxKeys before a new key goes in.
func (b *Buckets[K]) makeRoom(now time.Time) {
	if len(b.full) < b.maxKeys {
		return
	}
	if now.Sub(b.lastSweep) >= sweepEvery {
		b.lastSweep = now
		for k, full := range b.full {
			if !full.After(now) {
				delete(b.full, k)
			}
		}
	}
	for k := range b.full {
		if len(b.full) < b.maxKeys {
			break
		}
		delete(b.full, k)
	}
}

// Gate bounds how many callers run some expensive work at once. A caller
// past the bound waits a little for a slot, since the work is short, then
// gives up.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate returns a gate of n slots whose callers wait up to wait for one.
func NewGate(n int, wait time.Duration) *Gate {
	if n < 1 {
		panic("throttle: a gate needs at least one slot")
	}
	return &Gate{slots: make(chan struct{}, n), wait: max(0, wait)}
}

// Enter takes a slot, waiting up to the gate's wait or until ctx ends. ok
// is false when no slot freed up; otherwise release must be called once
// the work is done.
func (g *Gate) Enter(ctx context.Context) (release func(), ok bool) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, true
	default:
	}
	if g.wait == 0 {
		return nil, false
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
