package coalesce

import (
	"context"
	"sync"
	"time"
)

// Share runs work once per key, like Group, and keeps the result shared
// while anyone still holds it: a caller that arrives after the work has
// finished, but while other callers are still using its result, gets the
// same result without running the work again. The last holder to let go
// runs Cleanup on the result.
//
// The edge shares originals this way: every variant of one image that is
// being rendered at the same time reads one copy of its bytes, fetched
// once, instead of one fetch and one copy per variant.
type Share[T any] struct {
	// Timeout bounds the detached work.
	Timeout time.Duration
	// OnPanic turns a panic in the work into the error callers get.
	OnPanic func(p any) error
	// Cleanup releases a result nobody holds any more (may be nil).
	Cleanup func(T)

	mu      sync.Mutex
	entries map[string]*entry[T]
}

type entry[T any] struct {
	done     chan struct{}
	val      T
	err      error
	finished bool // done is closed
	refs     int
}

// Acquire returns the result of fn for key and a release function the
// caller must call exactly once when it no longer uses the result (also
// after an error); joined reports that another caller's run produced it. A
// finished result is reused only while reuse approves it (nil approves
// everything); otherwise fn runs again for the newcomer, and the old result
// lives on only for those who still hold it.
func (s *Share[T]) Acquire(ctx context.Context, key string, reuse func(T) bool, fn func(context.Context) (T, error)) (val T, release func(), joined bool, err error) {
	s.mu.Lock()
	if s.entries == nil {
		s.entries = make(map[string]*entry[T])
	}
	e, ok := s.entries[key]
	if ok && e.finished && reuse != nil && !reuse(e.val) {
		delete(s.entries, key) // its holders keep it; newcomers start afresh
		ok = false
	}
	if ok {
		e.refs++
	} else {
		e = &entry[T]{done: make(chan struct{}), refs: 1}
		s.entries[key] = e
		go s.work(ctx, key, e, fn)
	}
	s.mu.Unlock()

	release = func() { s.release(key, e) }
	select {
	case <-e.done:
		return e.val, release, ok, e.err
	case <-ctx.Done():
		release()
		var zero T
		return zero, func() {}, ok, ctx.Err()
	}
}

func (s *Share[T]) work(ctx context.Context, key string, e *entry[T], fn func(context.Context) (T, error)) {
	work := context.WithoutCancel(ctx)
	cancel := context.CancelFunc(func() {})
	if s.Timeout > 0 {
		work, cancel = context.WithTimeout(work, s.Timeout)
	}
	defer cancel()
	val, err := run(work, fn, s.OnPanic)

	s.mu.Lock()
	e.val, e.err, e.finished = val, err, true
	if err != nil && s.entries[key] == e {
		delete(s.entries, key) // a failure is shared with those waiting, never reused
	}
	orphan := err == nil && e.refs == 0
	if orphan && s.entries[key] == e {
		delete(s.entries, key)
	}
	close(e.done)
	s.mu.Unlock()
	if orphan && s.Cleanup != nil {
		s.Cleanup(val) // everyone gave up before the work ended
	}
}

func (s *Share[T]) release(key string, e *entry[T]) {
	s.mu.Lock()
	e.refs--
	last := e.refs == 0 && e.finished
	if last && s.entries[key] == e {
		delete(s.entries, key)
	}
	s.mu.Unlock()
	if last && e.err == nil && s.Cleanup != nil {
		s.Cleanup(e.val)
	}
}

// Held reports how many keys have a result in use or work running.
func (s *Share[T]) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}
