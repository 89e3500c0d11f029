// Package membudget is the edge's one memory budget. The L1 cache, origin
// bodies in flight and the working memory of transforms all draw from it:
// work reserves its bytes before it allocates them, waits a moment when the
// budget is spent, and is refused (503 + Retry-After) rather than let the
// process grow past what its container allows.
//
// Split divides the budget once, at start-up; Budget hands out the part
// that work draws from (bodies and transforms) as leases that can grow as
// bytes arrive and are given back when the work is done.
package membudget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"pictor/services/internal/errkind"
)

// Budget is a pool of bytes handed out as leases. Waiters are served in
// order of arrival, so a large reservation is not starved by small ones;
// nobody waits longer than the budget's wait.
type Budget struct {
	size int64
	wait time.Duration
	sem  *semaphore.Weighted
	used atomic.Int64
	peak atomic.Int64

	refused atomic.Uint64
}

// New returns a budget of size bytes; a reservation that cannot be had
// within wait is refused.
func New(size int64, wait time.Duration) *Budget {
	return &Budget{size: size, wait: wait, sem: semaphore.NewWeighted(size)}
}

// Size is the budget's capacity in bytes.
func (b *Budget) Size() int64 { return b.size }

// InUse reports the bytes currently leased.
func (b *Budget) InUse() int64 { return b.used.Load() }

// Peak reports the most bytes ever leased at once.
func (b *Budget) Peak() int64 { return b.peak.Load() }

// Refused counts reservations that were turned away.
func (b *Budget) Refused() uint64 { return b.refused.Load() }

// Lease is bytes taken from a Budget. The zero Lease (and a nil *Lease)
// holds nothing; Release is safe to call more than once.
type Lease struct {
	b  *Budget
	mu sync.Mutex
	n  int64
}

// Reserve leases n bytes, waiting at most the budget's wait (or until ctx
// ends). A reservation larger than the whole budget can never be met and
// is refused at once as unprocessable; one that only has to wait too long
// is unavailable, which the edge answers with 503 and Retry-After.
func (b *Budget) Reserve(ctx context.Context, n int64) (*Lease, error) {
	l := &Lease{b: b}
	if err := l.Grow(ctx, n); err != nil {
		return nil, err
	}
	return l, nil
}

// Grow adds n bytes to the lease, on the same terms as Reserve.
func (l *Lease) Grow(ctx context.Context, n int64) error {
	if l == nil || l.b == nil || n <= 0 {
		return nil
	}
	b := l.b
	l.mu.Lock()
	held := l.n
	l.mu.Unlock()
	if held+n > b.size {
		b.refused.Add(1)
		return errkind.New(errkind.Unprocessable, "memory_over_budget",
			fmt.Sprintf("the image needs %d MB of working memory, more than this edge's budget of %d MB", (held+n)>>20, b.size>>20))
	}
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			b.refused.Add(1)
			if ctx.Err() != nil {
				return errkind.Wrap(errkind.Unavailable, "canceled", "request canceled", ctx.Err())
			}
			return errkind.New(errkind.Unavailable, "memory_budget_spent", "the edge is busy, retry shortly")
		}
	}
	l.mu.Lock()
	l.n += n
	l.mu.Unlock()
	used := b.used.Add(n)
	for p := b.peak.Load(); used > p && !b.peak.CompareAndSwap(p, used); p = b.peak.Load() {
	}
	return nil
}

// Shrink gives back n bytes of the lease (at most what it holds): a
// reservation made for a worst case is trued up once the real size is
// known.
func (l *Lease) Shrink(n int64) {
	if l == nil || l.b == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	n = min(n, l.n)
	l.n -= n
	l.mu.Unlock()
	l.give(n)
}

// Release gives back everything the lease holds.
func (l *Lease) Release() {
	if l == nil || l.b == nil {
		return
	}
	l.mu.Lock()
	n := l.n
	l.n = 0
	l.mu.Unlock()
	l.give(n)
}

// Held reports the bytes the lease holds.
func (l *Lease) Held() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *Lease) give(n int64) {
	if n > 0 {
		l.b.used.Add(-n)
		l.b.sem.Release(n)
	}
}

// ErrNoRoom reports a split that leaves no memory for work.
var ErrNoRoom = errors.New("memory budget too small")
