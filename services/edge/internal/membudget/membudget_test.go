package membudget

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

func TestLeaseAccounting(t *testing.T) {
	b := New(100, 50*time.Millisecond)
	ctx := context.Background()
	l, err := b.Reserve(ctx, 40)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Grow(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if got := b.InUse(); got != 60 || l.Held() != 60 {
		t.Fatalf("in use %d, held %d; want 60", got, l.Held())
	}
	l.Shrink(25)
	if got := b.InUse(); got != 35 {
		t.Fatalf("after shrink: in use %d, want 35", got)
	}
	l.Shrink(1000) // never below zero
	if got := b.InUse(); got != 0 {
		t.Fatalf("after over-shrink: in use %d, want 0", got)
	}
	l.Release()
	l.Release()
	var nilLease *Lease
	nilLease.Release()
	nilLease.Shrink(5)
	if err := nilLease.Grow(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if got := b.InUse(); got != 0 {
		t.Fatalf("in use %d after releases, want 0", got)
	}
	if b.Peak() != 60 {
		t.Fatalf("peak %d, want 60", b.Peak())
	}
	// The whole budget is usable again.
	l2, err := b.Reserve(ctx, 100)
	if err != nil {
		t.Fatalf("full budget not available after release: %v", err)
	}
	l2.Release()
}

func TestReserveRefusals(t *testing.T) {
	cases := []struct {
		name     string
		held     int64 // already leased by someone else
		ask      int64
		cancel   bool
		kind     errkind.Kind
		reason   string
		maxDelay time.Duration
	}{
		{name: "fits", held: 50, ask: 50},
		{name: "spent: waits, then 503", held: 80, ask: 30, kind: errkind.Unavailable, reason: "memory_budget_spent"},
		{name: "larger than the whole budget: 422 at once", ask: 101, kind: errkind.Unprocessable, reason: "memory_over_budget", maxDelay: 20 * time.Millisecond},
		{name: "caller gone", held: 100, ask: 1, cancel: true, kind: errkind.Unavailable, reason: "canceled", maxDelay: 20 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := New(100, 100*time.Millisecond)
			other, err := b.Reserve(context.Background(), tc.held)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Release()
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			start := time.Now()
			l, err := b.Reserve(ctx, tc.ask)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				l.Release()
				return
			}
			if l != nil || err == nil {
				t.Fatalf("reserved %d with %d of 100 held", tc.ask, tc.held)
			}
			if errkind.KindOf(err) != tc.kind || errkind.Reason(err) != tc.reason {
				t.Fatalf("got %v, want %v/%s", err, tc.kind, tc.reason)
			}
			if tc.maxDelay > 0 && time.Since(start) > tc.maxDelay {
				t.Fatalf("refusal took %v", time.Since(start))
			}
			if b.InUse() != tc.held {
				t.Fatalf("a refused reservation changed the accounting: in use %d", b.InUse())
			}
			if b.Refused() != 1 {
				t.Fatalf("refused = %d, want 1", b.Refused())
			}
		})
	}
}

// A waiter gets its bytes as soon as someone gives them back, within the
// wait.
func TestReserveWaitsForRelease(t *testing.T) {
	b := New(100, 2*time.Second)
	first, _ := b.Reserve(context.Background(), 100)
	go func() {
		time.Sleep(50 * time.Millisecond)
		first.Release()
	}()
	l, err := b.Reserve(context.Background(), 60)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// Concurrent leases never take more than the budget, whatever the
// interleaving.
func TestNeverOverBudget(t *testing.T) {
	b := New(1000, 50*time.Millisecond)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				l, err := b.Reserve(context.Background(), int64(50+(i*j)%200))
				if err != nil {
					continue // refused after the wait: allowed, as long as nothing is over
				}
				// Growing while holding can wait on others doing the same;
				// the wait is bounded, so it ends in a refusal, never a hang.
				if err := l.Grow(context.Background(), 25); err != nil && errkind.Reason(err) != "memory_budget_spent" {
					t.Error(err)
				}
				if b.InUse() > b.Size() {
					t.Errorf("in use %d over the budget %d", b.InUse(), b.Size())
				}
				l.Shrink(10)
				l.Release()
			}
		}()
	}
	wg.Wait()
	if b.Peak() > b.Size() || b.InUse() != 0 {
		t.Fatalf("peak %d, in use %d", b.Peak(), b.InUse())
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"536870912", 536870912},
		{"512MiB", 512 << 20},
		{"512Mi", 512 << 20},
		{"1GiB", 1 << 30},
		{"1.5GiB", 3 << 29},
		{"768mib", 768 << 20},
		{"64KiB", 64 << 10},
		{"500MB", 500_000_000},
		{"2G", 2_000_000_000},
		{" 100 b ", 100},
		{"0", 0},
		{"-5MiB", 0},
		{"12XB", 0},
		{"MiB", 0},
		{"1e30", 0},
		{"", 0},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.want == 0 {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	cases := []struct {
		name      string
		total, l1 int64
		conns     int
		want      Split
		err       bool
	}{
		{name: "default L1 share", total: 768 << 20, l1: -1, conns: 1000,
			want: Split{Total: 768 << 20, Runtime: runtimeBase + 1000*PerConn, L1: 192 << 20, Work: 768<<20 - runtimeBase - 1000*PerConn - 192<<20}},
		{name: "explicit L1", total: 1 << 30, l1: 100 << 20, conns: 256,
			want: Split{Total: 1 << 30, Runtime: runtimeBase + 256*PerConn, L1: 100 << 20, Work: 1<<30 - runtimeBase - 256*PerConn - 100<<20}},
		{name: "L1 disabled", total: 512 << 20, l1: 0, conns: 256,
			want: Split{Total: 512 << 20, Runtime: runtimeBase + 256*PerConn, L1: 0, Work: 512<<20 - runtimeBase - 256*PerConn}},
		{name: "L1 leaves no room for work", total: 512 << 20, l1: 500 << 20, conns: 256, err: true},
		{name: "budget too small", total: 64 << 20, l1: -1, conns: 256, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan(tc.total, tc.l1, tc.conns)
			if tc.err {
				if !errors.Is(err, ErrNoRoom) {
					t.Fatalf("Plan = %+v, %v; want ErrNoRoom", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Plan = %+v, %v; want %+v", got, err, tc.want)
			}
			if got.Runtime+got.L1+got.Work != got.Total {
				t.Fatalf("parts do not add up: %+v", got)
			}
		})
	}
}

func TestDefaultTotal(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	cases := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{name: "no cgroup", want: DefaultLimit},
		{name: "cgroup v2 limit", files: map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, want: 1073741824 / 5 * 4},
		{name: "cgroup v2 unlimited", files: map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, want: DefaultLimit},
		{name: "cgroup v1 limit", files: map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912"}, want: 536870912 / 5 * 4},
		{name: "cgroup v1 unlimited", files: map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, want: DefaultLimit},
		{name: "garbage", files: map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, want: DefaultLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, from := DefaultTotal(files(tc.files))
			if got != tc.want {
				t.Fatalf("DefaultTotal = %d (%s), want %d", got, from, tc.want)
			}
		})
	}
}

func TestGoLimiter(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
	rss := ProcessRSS()
	if rss <= 0 {
		t.Fatal("no resident set read from /proc")
	}
	// A process whose resident set is all Go leaves the Go runtime the
	// whole budget but what C work has reserved.
	all := GoLimiter{Total: 512 << 20, Floor: 64 << 20, Resident: goResident, Pending: func() int64 { return 100 << 20 }}
	if got := all.Apply(); got != 412<<20 {
		t.Fatalf("limit %d MiB, want 412", got>>20)
	}
	// 300 MiB resident outside Go (L1, libvips) comes off too.
	c := GoLimiter{Total: 512 << 20, Floor: 64 << 20, Resident: func() int64 { return goResident() + 300<<20 }, Pending: func() int64 { return 0 }}
	if got := c.Apply(); got != 212<<20 {
		t.Fatalf("limit %d MiB, want 212", got>>20)
	}
	// Never below the floor.
	full := GoLimiter{Total: 512 << 20, Floor: 64 << 20, Resident: func() int64 { return 1 << 30 }, Pending: func() int64 { return 0 }}
	if got := full.Apply(); got != 64<<20 {
		t.Fatalf("limit %d MiB, want the floor", got>>20)
	}
}
