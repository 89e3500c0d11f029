package coalesce

import (
	"context"
	"sync"
	"time"
)

// Background runs work for a key in the background, once at a time per
// key: a Go for a key whose work is still running is dropped. The work
// runs detached from any caller, bounded by Timeout.
type Background struct {
	Timeout time.Duration

	mu      sync.Mutex
	running map[string]bool
}

// Go starts fn for key unless work for key is running, and reports whether
// it started. fn must recover its own panics (it runs on a goroutine of its
// own).
func (b *Background) Go(key string, fn func(ctx context.Context)) bool {
	b.mu.Lock()
	if b.running == nil {
		b.running = make(map[string]bool)
	}
	if b.running[key] {
		b.mu.Unlock()
		return false
	}
	b.running[key] = true
	b.mu.Unlock()
	go func() {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if b.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, b.Timeout)
		}
		defer func() {
			cancel()
			b.mu.Lock()
			delete(b.running, key)
			b.mu.Unlock()
		}()
		fn(ctx)
	}()
	return true
}

// Len reports how many keys have work running.
func (b *Background) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}
