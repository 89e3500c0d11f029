// Package coalesce merges concurrent work for one key: while a producer for
// a key runs, later callers wait for its result instead of starting their
// own, so N simultaneous misses cost one origin fetch and one transform.
//
// Unlike x/sync/singleflight the work is detached from the first caller:
// it runs under a context that does not end when that caller goes away, so
// one client hanging up cannot fail everyone else waiting for the image.
// Each caller still stops waiting when its own context ends.
package coalesce

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Group coalesces calls by key.
type Group[T any] struct {
	// Timeout bounds the detached work (it no longer has a caller's deadline).
	Timeout time.Duration
	// OnPanic turns a panic in the work into the error every caller gets
	// (and records it). The work runs on a goroutine of its own, where an
	// unrecovered panic would end the process.
	OnPanic func(p any) error

	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{}
	val     T
	err     error
	waiters int
}

// Do returns the result of fn for key, running fn only if no call for key is
// in flight. shared reports whether the result came from another caller's
// run.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (val T, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call[T])
	}
	c, ok := g.calls[key]
	if ok {
		c.waiters++
	} else {
		c = &call[T]{done: make(chan struct{})}
		g.calls[key] = c
		work := context.WithoutCancel(ctx)
		var cancel context.CancelFunc = func() {}
		if g.Timeout > 0 {
			work, cancel = context.WithTimeout(work, g.Timeout)
		}
		go func() {
			defer cancel()
			defer func() {
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = run(work, fn, g.OnPanic)
		}()
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, ok, c.err
	case <-ctx.Done():
		var zero T
		return zero, ok, ctx.Err()
	}
}

// run calls fn, turning a panic into an error.
func run[T any](ctx context.Context, fn func(context.Context) (T, error), onPanic func(any) error) (val T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			val, err = zero, recovered(p, onPanic)
		}
	}()
	return fn(ctx)
}

func recovered(p any, onPanic func(any) error) error {
	if onPanic != nil {
		return onPanic(p)
	}
	return fmt.Errorf("coalesced work panicked: %v", p)
}

// InFlight reports how many keys have work running.
func (g *Group[T]) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}
