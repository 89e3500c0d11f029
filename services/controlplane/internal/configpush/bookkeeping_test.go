package configpush

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBookkeepingCoalescesAcks: a burst of ACKs is written as its first
// and its last, never out of order with the entries queued between them
// (a NACK), and the stream's end writes what waits at once.
func TestBookkeepingCoalescesAcks(t *testing.T) {
	var (
		mu      sync.Mutex
		written []string
	)
	rec := func(s string) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			written = append(written, s)
			return nil
		}
	}
	b := startBookkeeping(slog.New(slog.DiscardHandler))
	b.add("connect", rec("connect"))
	for v := 1; v <= 50; v++ {
		b.addLatest("ack", rec(fmt.Sprintf("ack %d", v)))
	}
	b.add("nack", rec("nack 51"))
	for v := 52; v <= 60; v++ {
		b.addLatest("ack", rec(fmt.Sprintf("ack %d", v)))
	}
	start := time.Now()
	b.finish("disconnect", rec("disconnect"))
	took := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	if took > AckRecordEvery/2 {
		t.Errorf("finish took %s: it must not wait out the ACK interval", took)
	}
	// The first ACK goes without waiting: the writer may take whichever
	// was waiting when it got there (one of 1-49), or find 50 already.
	got := slices.Clone(written)
	var early int
	if len(got) > 1 {
		if _, err := fmt.Sscanf(got[1], "ack %d", &early); err == nil && early < 50 {
			got = slices.Delete(got, 1, 2)
		}
	}
	want := []string{"connect", "ack 50", "nack 51", "ack 60", "disconnect"}
	if !slices.Equal(got, want) {
		t.Fatalf("wrote %q, want %q (perhaps with one earlier ACK after connect)", written, want)
	}
}

// TestBookkeepingAckInterval: ACKs arriving one by one are written at most
// AckRecordEvery apart, the last one included.
func TestBookkeepingAckInterval(t *testing.T) {
	var (
		mu sync.Mutex
		at []time.Time
		vs []int
	)
	b := startBookkeeping(slog.New(slog.DiscardHandler))
	for v := 1; v <= 15; v++ {
		b.addLatest("ack", func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			at, vs = append(at, time.Now()), append(vs, v)
			return nil
		})
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(3 * AckRecordEvery)
	for {
		mu.Lock()
		last := 0
		if len(vs) > 0 {
			last = vs[len(vs)-1]
		}
		n := len(at)
		mu.Unlock()
		if last == 15 {
			if n > 3 {
				t.Errorf("%d writes for 15 ACKs over 1.5 s, want at most 3", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last ACK was not written within %s (wrote %v)", 3*AckRecordEvery, vs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < AckRecordEvery-50*time.Millisecond {
			t.Errorf("ACK writes %d and %d %s apart, want at least %s", i-1, i, gap, AckRecordEvery)
		}
	}
	b.finish("disconnect", func(context.Context) error { return nil })
}
