package throttle

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a manual clock for the buckets.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func spend(b *Buckets[string], k string, n int) {
	for range n {
		b.Spend(k)
	}
}

func TestBuckets(t *testing.T) {
	// Three tokens, one back every second.
	rate := Rate{Burst: 3, Per: 3 * time.Second}
	tests := []struct {
		name string
		run  func(b *Buckets[string], c *clock)
		key  string
		want time.Duration
	}{
		{"a new key has its whole burst", func(b *Buckets[string], c *clock) {}, "a", 0},
		{"within the burst", func(b *Buckets[string], c *clock) { spend(b, "a", 2) }, "a", 0},
		{"burst spent: one interval", func(b *Buckets[string], c *clock) { spend(b, "a", 3) }, "a", time.Second},
		{"refills with time", func(b *Buckets[string], c *clock) {
			spend(b, "a", 3)
			c.advance(time.Second)
		}, "a", 0},
		{"partly refilled", func(b *Buckets[string], c *clock) {
			spend(b, "a", 3)
			c.advance(400 * time.Millisecond)
		}, "a", 600 * time.Millisecond},
		{"keys are separate", func(b *Buckets[string], c *clock) { spend(b, "a", 3) }, "b", 0},
		// Requests in flight together all passed Wait: their spending
		// goes into debt, paid back by waiting longer.
		{"debt waits longer", func(b *Buckets[string], c *clock) { spend(b, "a", 5) }, "a", 3 * time.Second},
		// At most Burst tokens of debt: four tokens to go before one is left.
		{"debt is bounded", func(b *Buckets[string], c *clock) { spend(b, "a", 1000) }, "a", 4 * time.Second},
		{"debt is repaid", func(b *Buckets[string], c *clock) {
			spend(b, "a", 1000)
			c.advance(4 * time.Second)
		}, "a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			b := NewBuckets[string](rate, 100, c.now)
			tt.run(b, c)
			if got := b.Wait(tt.key); got != tt.want {
				t.Fatalf("Wait(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// TestBucketsBounded: the table never holds more than maxKeys, and makes
// room by forgetting idle (full) buckets before busy ones.
func TestBucketsBounded(t *testing.T) {
	c := newClock()
	b := NewBuckets[string](Rate{Burst: 1, Per: time.Minute}, 2, c.now)
	b.Spend("idle")
	c.advance(2 * time.Minute) // "idle" is full again
	b.Spend("busy")
	b.Spend("new")
	if b.Len() != 2 || b.Wait("busy") == 0 || b.Wait("new") == 0 {
		t.Fatalf("len %d, busy waits %v, new waits %v: want the idle key dropped", b.Len(), b.Wait("busy"), b.Wait("new"))
	}
	for i := range 1000 {
		b.Spend(string(rune('a'+i%26)) + string(rune(i)))
		if b.Len() > 2 {
			t.Fatalf("table grew to %d keys", b.Len())
		}
	}
}

func TestGate(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		// freeAfter releases the held slot after this long; <0 never.
		freeAfter time.Duration
		cancel    bool
		want      bool
	}{
		{"full, no wait", 0, -1, false, false},
		{"full, waits and gives up", 50 * time.Millisecond, -1, false, false},
		{"full, a slot frees up while waiting", 5 * time.Second, 50 * time.Millisecond, false, true},
		{"full, the request ends while waiting", 5 * time.Second, -1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGate(1, tt.wait)
			held, ok := g.Enter(context.Background())
			if !ok {
				t.Fatal("empty gate refused")
			}
			if tt.freeAfter >= 0 {
				time.AfterFunc(tt.freeAfter, held)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			defer cancel()
			start := time.Now()
			release, ok := g.Enter(ctx)
			if ok != tt.want {
				t.Fatalf("Enter = %v, want %v", ok, tt.want)
			}
			if ok {
				release()
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Enter took %v", took)
			}
		})
	}
}

// TestGateBound: however many callers, no more than n are inside at once.
func TestGateBound(t *testing.T) {
	const n = 3
	g := NewGate(n, time.Minute)
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			release, ok := g.Enter(context.Background())
			if !ok {
				t.Error("refused within a minute's wait")
				return
			}
			cur := inside.Add(1)
			for {
				m := most.Load()
				if cur <= m || most.CompareAndSwap(m, cur) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			release()
		})
	}
	wg.Wait()
	if m := most.Load(); m > n || m < 1 {
		t.Fatalf("%d inside at once, want 1..%d", m, n)
	}
}
