// Package admission decides which expensive work starts now, which waits
// and which is refused. A Gate lets a fixed number of holders in at once;
// a bounded number more wait, each for a bounded time, holding nothing but
// their goroutine; everyone else is refused at once with a kind the edge
// answers 503 + Retry-After. Work that has not been admitted has not
// fetched, decoded or allocated anything, so a crowd at the gate costs no
// memory.
package admission

import (
	"context"
	"sync/atomic"
	"time"

	"pictor/services/internal/errkind"
)

// Gate admits up to its size at once.
type Gate struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	wait       time.Duration
	reason     string // prefix of the refusal reasons: "<reason>_full", "<reason>_timeout"
}

// NewGate returns a gate of size holders, with up to queue waiting at most
// wait each. reason names the gate in refusals (e.g. "transform_queue").
func NewGate(size, queue int, wait time.Duration, reason string) *Gate {
	return &Gate{slots: make(chan struct{}, max(size, 1)), maxWaiting: int64(queue), wait: wait, reason: reason}
}

// Enter waits for a place and returns the function that gives it back
// (call it exactly once), or refuses: at once when the queue is full, after
// the wait when no place came free, or when ctx ends first.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	if g.waiting.Add(1) > g.maxWaiting {
		g.waiting.Add(-1)
		return nil, errkind.New(errkind.Unavailable, g.reason+"_full", "too many images being processed, retry shortly")
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, errkind.New(errkind.Unavailable, g.reason+"_timeout", "too many images being processed, retry shortly")
	case <-ctx.Done():
		return nil, errkind.Wrap(errkind.Unavailable, "canceled", "request canceled", ctx.Err())
	}
}

func (g *Gate) leave() { <-g.slots }

// Inside reports the holders admitted now.
func (g *Gate) Inside() int { return len(g.slots) }

// Waiting reports the callers waiting for a place.
func (g *Gate) Waiting() int64 { return g.waiting.Load() }
