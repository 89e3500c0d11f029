package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted is a result whose cleanup is counted.
type counted struct{ id int32 }

func newShare(cleanups *atomic.Int32) *Share[*counted] {
	return &Share[*counted]{Cleanup: func(*counted) { cleanups.Add(1) }}
}

// Callers that overlap share one run; the result is cleaned up once, after
// the last holder lets go.
func TestShareOneRunOneCleanup(t *testing.T) {
	var cleanups, runs atomic.Int32
	s := newShare(&cleanups)
	release := make(chan struct{})
	const n = 50
	var wg sync.WaitGroup
	releases := make(chan func(), n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, done, _, err := s.Acquire(context.Background(), "k", nil, func(context.Context) (*counted, error) {
				runs.Add(1)
				<-release
				return &counted{id: 1}, nil
			})
			if err != nil || v.id != 1 {
				t.Errorf("got %v, %v", v, err)
			}
			releases <- done
		}()
	}
	for s.refsFor("k") < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(releases)
	// A latecomer joins the finished result while others still hold it.
	v, late, shared, err := s.Acquire(context.Background(), "k", nil, func(context.Context) (*counted, error) {
		t.Error("latecomer ran the work again")
		return nil, nil
	})
	if err != nil || v.id != 1 || !shared {
		t.Fatalf("latecomer: %v, shared %v, %v", v, shared, err)
	}
	for done := range releases {
		done()
	}
	if cleanups.Load() != 0 {
		t.Fatal("cleaned up while the latecomer still holds it")
	}
	late()
	if runs.Load() != 1 || cleanups.Load() != 1 || s.Held() != 0 {
		t.Fatalf("runs %d, cleanups %d, held %d", runs.Load(), cleanups.Load(), s.Held())
	}
}

// Once nobody holds a result, the next caller runs the work again.
func TestShareForgetsReleasedResults(t *testing.T) {
	var cleanups, runs atomic.Int32
	s := newShare(&cleanups)
	work := func(context.Context) (*counted, error) { return &counted{id: runs.Add(1)}, nil }
	for want := int32(1); want <= 2; want++ {
		v, done, _, err := s.Acquire(context.Background(), "k", nil, work)
		if err != nil || v.id != want {
			t.Fatalf("call %d got %v, %v", want, v, err)
		}
		done()
	}
	if cleanups.Load() != 2 {
		t.Fatalf("cleanups %d, want 2", cleanups.Load())
	}
}

// A finished result that reuse rejects is not handed to newcomers; its
// holders keep it and it is cleaned up when they let go.
func TestShareReuseRejected(t *testing.T) {
	var cleanups, runs atomic.Int32
	s := newShare(&cleanups)
	work := func(context.Context) (*counted, error) { return &counted{id: runs.Add(1)}, nil }
	old, doneOld, _, _ := s.Acquire(context.Background(), "k", nil, work)
	fresh, doneFresh, _, _ := s.Acquire(context.Background(), "k", func(c *counted) bool { return c.id != 1 }, work)
	if old.id != 1 || fresh.id != 2 {
		t.Fatalf("old %d, fresh %d", old.id, fresh.id)
	}
	doneOld()
	if cleanups.Load() != 1 {
		t.Fatal("the replaced result was not cleaned up")
	}
	doneFresh()
	if cleanups.Load() != 2 || s.Held() != 0 {
		t.Fatalf("cleanups %d, held %d", cleanups.Load(), s.Held())
	}
}

// Errors are shared with those waiting, never reused, and never cleaned
// up (there is nothing to clean).
func TestShareErrors(t *testing.T) {
	var cleanups atomic.Int32
	s := newShare(&cleanups)
	boom := errors.New("boom")
	_, done, _, err := s.Acquire(context.Background(), "k", nil, func(context.Context) (*counted, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	done()
	v, done, _, err := s.Acquire(context.Background(), "k", nil, func(context.Context) (*counted, error) { return &counted{id: 9}, nil })
	if err != nil || v.id != 9 {
		t.Fatalf("after an error: %v, %v", v, err)
	}
	done()
	if cleanups.Load() != 1 {
		t.Fatalf("cleanups %d, want 1", cleanups.Load())
	}
}

// When every caller gives up before the work ends, the result is cleaned
// up as soon as it arrives.
func TestShareOrphanedResult(t *testing.T) {
	var cleanups atomic.Int32
	s := newShare(&cleanups)
	ctx, cancel := context.WithCancel(context.Background())
	finish := make(chan struct{})
	go func() {
		for s.refsFor("k") < 1 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, done, _, err := s.Acquire(ctx, "k", nil, func(context.Context) (*counted, error) {
		<-finish
		return &counted{}, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	done() // a no-op after a cancelled wait
	close(finish)
	for s.Held() != 0 {
		time.Sleep(time.Millisecond)
	}
	if cleanups.Load() != 1 {
		t.Fatalf("cleanups %d, want 1", cleanups.Load())
	}
}

func TestSharePanic(t *testing.T) {
	var cleanups atomic.Int32
	s := newShare(&cleanups)
	s.OnPanic = func(p any) error { return errors.New("recovered") }
	_, done, _, err := s.Acquire(context.Background(), "k", nil, func(context.Context) (*counted, error) { panic("decoder bug") })
	done()
	if err == nil || err.Error() != "recovered" {
		t.Fatalf("err = %v", err)
	}
	if s.Held() != 0 || cleanups.Load() != 0 {
		t.Fatalf("held %d, cleanups %d", s.Held(), cleanups.Load())
	}
}

// refsFor is a test hook: how many callers hold key's entry.
func (s *Share[T]) refsFor(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		return e.refs
	}
	return 0
}
