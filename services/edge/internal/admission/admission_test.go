package admission

import (
	"context"
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

func TestGate(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		queue  int
		inside int // places taken before the call
		waiter int // callers already waiting
		cancel bool
		free   bool // a place comes free during the wait
		reason string
	}{
		{name: "free place", size: 2, queue: 1, inside: 1},
		{name: "full, waits, gets the freed place", size: 1, queue: 1, inside: 1, free: true},
		{name: "full, wait runs out", size: 1, queue: 1, inside: 1, reason: "test_queue_timeout"},
		{name: "full, queue full: refused at once", size: 1, queue: 1, inside: 1, waiter: 1, reason: "test_queue_full"},
		{name: "full, caller gone", size: 1, queue: 1, inside: 1, cancel: true, reason: "canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGate(tc.size, tc.queue, 100*time.Millisecond, "test_queue")
			var leaves []func()
			for range tc.inside {
				leave, err := g.Enter(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				leaves = append(leaves, leave)
			}
			for range tc.waiter {
				go g.Enter(context.Background()) // waits out its 100 ms
			}
			for g.Waiting() < int64(tc.waiter) {
				time.Sleep(time.Millisecond)
			}
			if tc.free {
				go func() {
					time.Sleep(20 * time.Millisecond)
					leaves[0]()
				}()
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			leave, err := g.Enter(ctx)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				leave()
				return
			}
			if err == nil || errkind.KindOf(err) != errkind.Unavailable || errkind.Reason(err) != tc.reason {
				t.Fatalf("got %v, want unavailable/%s", err, tc.reason)
			}
			if tc.reason == "test_queue_full" && time.Since(start) > 20*time.Millisecond {
				t.Fatalf("a full queue refused after %v, want at once", time.Since(start))
			}
			if g.Inside() != tc.inside {
				t.Fatalf("inside %d after a refusal, want %d", g.Inside(), tc.inside)
			}
		})
	}
}
