package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentCallsRunOnce(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	release := make(chan struct{})
	const n = 200
	var wg sync.WaitGroup
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				runs.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	// Let every goroutine join the one call before it finishes.
	for g.waitersFor("k") < n-1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(results)
	if r := runs.Load(); r != 1 {
		t.Fatalf("fn ran %d times, want 1", r)
	}
	for v := range results {
		if v != 42 {
			t.Fatalf("got %d", v)
		}
	}
}

func TestLeaderCancelDoesNotFailFollowers(t *testing.T) {
	var g Group[string]
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	started := make(chan struct{})
	release := make(chan struct{})
	leaderErr := make(chan error, 1)
	go func() {
		_, _, err := g.Do(leaderCtx, "k", func(ctx context.Context) (string, error) {
			close(started)
			<-release
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "image", nil
		})
		leaderErr <- err
	}()
	<-started
	followerDone := make(chan string, 1)
	go func() {
		v, shared, err := g.Do(context.Background(), "k", func(context.Context) (string, error) { return "second run", nil })
		if err != nil || !shared {
			t.Errorf("follower: %v shared=%v", err, shared)
		}
		followerDone <- v
	}()
	for g.waitersFor("k") < 1 {
		time.Sleep(time.Millisecond)
	}
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v, want canceled", err)
	}
	close(release)
	if v := <-followerDone; v != "image" {
		t.Fatalf("follower got %q, want the detached work's result", v)
	}
}

func TestErrorsShared(t *testing.T) {
	var g Group[int]
	boom := errors.New("boom")
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	// A finished call is forgotten: the next one runs again.
	v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || shared || err != nil {
		t.Fatalf("second call: %d %v %v", v, shared, err)
	}
}

func TestTimeoutBoundsDetachedWork(t *testing.T) {
	g := Group[int]{Timeout: 20 * time.Millisecond}
	_, _, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// waitersFor is a test hook: how many callers joined the call for key.
func (g *Group[T]) waitersFor(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}

// A panic in the work becomes every caller's error, the process lives on,
// and the next call for the key runs afresh.
func TestPanicBecomesError(t *testing.T) {
	var recovered []any
	g := Group[int]{OnPanic: func(p any) error {
		recovered = append(recovered, p)
		return errors.New("recovered")
	}}
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { panic("bad image") })
	if err == nil || err.Error() != "recovered" || len(recovered) != 1 || recovered[0] != "bad image" {
		t.Fatalf("err = %v, recovered = %v", err, recovered)
	}
	v, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
	if v != 1 || err != nil {
		t.Fatalf("after the panic: %d, %v", v, err)
	}
	var plain Group[int] // no OnPanic: still recovered
	if _, _, err := plain.Do(context.Background(), "k", func(context.Context) (int, error) { panic("x") }); err == nil {
		t.Fatal("a panic without OnPanic gave no error")
	}
}
