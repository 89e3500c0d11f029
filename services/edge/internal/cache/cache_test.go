package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"pictor/services/internal/redistest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func entry(body string, ttl time.Duration) *Entry {
	now := time.Now()
	return &Entry{Status: 200, Body: []byte(body), ContentType: "image/jpeg", ETag: `"e"`, ConfigVersion: 3,
		StoredAt: now, FreshUntil: now.Add(ttl), StaleUntil: now.Add(2 * ttl), OriginETag: `"o"`, SourceID: "o1", Format: "jpeg"}
}

func newStore(t *testing.T, mutate func(*Config)) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.L1Bytes = 1 << 20
	cfg.BreakerCooldown = 200 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEncodeRoundTrip(t *testing.T) {
	e := entry("pixels", time.Hour)
	got, err := decode(e.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, e.Body) || got.ContentType != e.ContentType || got.ETag != e.ETag ||
		got.ConfigVersion != 3 || got.OriginETag != `"o"` || got.SourceID != "o1" || got.Format != "jpeg" ||
		got.FreshUntil.UnixMilli() != e.FreshUntil.UnixMilli() || got.Status != 200 {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range [][]byte{nil, []byte("PCE1"), []byte("XXXX" + string(make([]byte, 40))), e.encode()[:40]} {
		if _, err := decode(bad); err == nil {
			t.Fatalf("decode(%q) accepted", bad)
		}
	}
}

func TestTiers(t *testing.T) {
	redis := redistest.Start(t)
	ctx := context.Background()
	a := newStore(t, func(c *Config) { c.RedisAddrs = []string{redis} })
	b := newStore(t, func(c *Config) { c.RedisAddrs = []string{redis} })

	if e, tier := a.Get(ctx, "k"); e != nil || tier != Miss {
		t.Fatalf("empty cache: %v %v", e, tier)
	}
	a.Set(ctx, "k", entry("one", time.Hour))
	if e, tier := a.Get(ctx, "k"); tier != L1 || string(e.Body) != "one" {
		t.Fatalf("same edge: tier %q", tier)
	}
	// Another edge sharing Redis finds it in L2, then in its own L1.
	if e, tier := b.Get(ctx, "k"); tier != L2 || string(e.Body) != "one" {
		t.Fatalf("other edge first read: tier %q", tier)
	}
	if _, tier := b.Get(ctx, "k"); tier != L1 {
		t.Fatalf("other edge second read: tier %q, want promoted to L1", tier)
	}
	a.Delete(ctx, "k")
	c := newStore(t, func(c *Config) { c.RedisAddrs = []string{redis} })
	if e, _ := c.Get(ctx, "k"); e != nil {
		t.Fatal("deleted entry still in Redis")
	}
}

func TestOversizedNotStored(t *testing.T) {
	s := newStore(t, func(c *Config) { c.MaxObject = 10 })
	s.Set(context.Background(), "big", entry("more than ten bytes", time.Hour))
	if e, _ := s.Get(context.Background(), "big"); e != nil {
		t.Fatal("object over the cap was cached")
	}
}

func TestExpiredNotStored(t *testing.T) {
	s := newStore(t, nil)
	e := entry("x", time.Hour)
	e.StaleUntil = time.Now().Add(-time.Second)
	s.Set(context.Background(), "old", e)
	if got, _ := s.Get(context.Background(), "old"); got != nil {
		t.Fatal("expired entry was cached")
	}
}

func TestL1Bounded(t *testing.T) {
	s := newStore(t, func(c *Config) { c.L1Bytes = 64 << 10 })
	for i := 0; i < 200; i++ {
		s.Set(context.Background(), fmt.Sprint(i), entry(string(make([]byte, 4<<10)), time.Hour))
	}
	s.l1.CleanUp()
	if got := s.L1Bytes(); got > 64<<10 {
		t.Fatalf("L1 holds %d bytes, budget 64 KiB", got)
	}
}

// TestRedisDown: with Redis gone every call returns fast and empty, the
// breaker opens, and once Redis is back the cache works again.
func TestRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, func(c *Config) { c.RedisAddrs = []string{srv.Addr}; c.L1Bytes = 0 })
	ctx := context.Background()
	s.Set(ctx, "k", entry("v", time.Hour))
	srv.Stop()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if e, _ := s.Get(ctx, "k"); e != nil {
			t.Fatal("hit from a stopped Redis")
		}
		s.Set(ctx, "k2", entry("v", time.Hour))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("40 operations against a dead Redis took %v", d)
	}
	if !s.BreakerOpen() {
		t.Fatal("breaker did not open")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.Set(ctx, "k3", entry("back", time.Hour))
		if e, tier := s.Get(ctx, "k3"); e != nil && tier == L2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cache did not recover after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisSlow: an operation slower than the budget is abandoned.
func TestRedisSlow(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, func(c *Config) { c.RedisAddrs = []string{srv.Addr}; c.L1Bytes = 0; c.OpTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	// DEBUG SLEEP blocks the single-threaded server for everyone.
	go s.l2.Do(context.Background(), "DEBUG", "SLEEP", "1")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Get(ctx, "k")
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("Get against a stalled Redis took %v", d)
	}
}

// TestRedisFull: under noeviction a full Redis refuses writes with OOM;
// that is a skipped write, not a failure, and reads keep working.
func TestRedisFull(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	s := newStore(t, func(c *Config) { c.RedisAddrs = []string{srv.Addr}; c.L1Bytes = 0 })
	ctx := context.Background()
	s.Set(ctx, "first", entry("small", time.Hour))
	big := string(make([]byte, 256<<10))
	for i := 0; i < 20; i++ {
		s.Set(ctx, fmt.Sprint("fill", i), entry(big, time.Hour))
	}
	if s.BreakerOpen() {
		t.Fatal("OOM refusals opened the breaker")
	}
	if e, tier := s.Get(ctx, "first"); e == nil || tier != L2 {
		t.Fatal("reads stopped working when Redis filled up")
	}
}

func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	s := newStore(t, func(c *Config) { c.RedisAddrs = addrs; c.L1Bytes = 0; c.OpTimeout = 500 * time.Millisecond })
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		s.Set(ctx, VariantKey("acct", "ep", fmt.Sprint("img", i), "w-1", ""), entry(fmt.Sprint(i), time.Hour))
	}
	for i := 0; i < 50; i++ {
		e, tier := s.Get(ctx, VariantKey("acct", "ep", fmt.Sprint("img", i), "w-1", ""))
		if e == nil || tier != L2 || string(e.Body) != fmt.Sprint(i) {
			t.Fatalf("key %d: %v %v", i, e, tier)
		}
	}
}

func TestKeys(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"same", VariantKey("a", "e", "p.jpg", "w-1", ""), VariantKey("a", "e", "p.jpg", "w-1", ""), true},
		{"tenant", VariantKey("a", "e", "p.jpg", "w-1", ""), VariantKey("b", "e", "p.jpg", "w-1", ""), false},
		{"endpoint", VariantKey("a", "e", "p.jpg", "w-1", ""), VariantKey("a", "f", "p.jpg", "w-1", ""), false},
		{"format", VariantKey("a", "e", "p.jpg", "w-1", "webp"), VariantKey("a", "e", "p.jpg", "w-1", "avif"), false},
		{"query", VariantKey("a", "e", "p.jpg?v=1", "", ""), VariantKey("a", "e", "p.jpg?v=2", "", ""), false},
		{"no separator games", VariantKey("a", "eb", "c", "", ""), VariantKey("ae", "b", "c", "", ""), false},
		{"original vs variant", OriginalKey("a", "e", "p.jpg"), VariantKey("a", "e", "p.jpg", "", ""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.same {
				t.Fatalf("%s vs %s: same=%v, want %v", tc.a, tc.b, tc.a == tc.b, tc.same)
			}
		})
	}
}
