package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"pictor/services/edge/internal/offheap"
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
	cfg.WriteQueueBytes = 0 // these tests read what they just wrote, from another store
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

// TestRedisResetMidCommand: a connection reset while a command is in
// flight — before its reply, or half-way through reading it — is one
// failed operation: the call returns at once (it does not wait out the
// timeout), a read is a miss (never a hit made of half a reply), and the
// next operation, on a fresh connection, works.
func TestRedisResetMidCommand(t *testing.T) {
	proxy := redistest.NewProxy(t, redistest.Start(t))
	// A long budget, so that returning within half of it shows the reset
	// was noticed, not waited out.
	const opTimeout = 2 * time.Second
	s := newStore(t, func(c *Config) { c.RedisAddrs = []string{proxy.Addr}; c.L1Bytes = 0; c.OpTimeout = opTimeout })
	ctx := context.Background()
	// Large enough that its reply spans many reads: "mid reply" cuts a
	// bulk string, not a status line.
	body := string(bytes.Repeat([]byte("pixels"), 64<<10))

	// A read that meets a reset is a miss: never a hit made of half a
	// reply, and not retried either (cache.New: a retry would double the
	// latency budget; the origin is the fallback).
	getMisses := func(t *testing.T, key string) {
		if e, tier := s.Get(ctx, key); e != nil || tier != Miss {
			t.Fatalf("Get met a reset and returned an entry (%v), tier %q; want a miss", e != nil, tier)
		}
	}
	set := func(_ *testing.T, key string) { s.Set(ctx, key, entry(body, time.Hour)) }
	del := func(_ *testing.T, key string) { s.Delete(ctx, key) }

	cases := []struct {
		name string
		cmd  string
		at   redistest.ResetPoint
		op   func(t *testing.T, key string) // the call that meets the reset
	}{
		{"GET before reply", "GET", redistest.BeforeReply, getMisses},
		{"GET mid reply", "GET", redistest.MidReply, getMisses},
		{"SET before reply", "SET", redistest.BeforeReply, set},
		{"SET mid reply", "SET", redistest.MidReply, set},
		{"DEL before reply", "DEL", redistest.BeforeReply, del},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "reset:" + tc.name
			s.Set(ctx, key, entry(body, time.Hour))
			resets, errs := proxy.Resets(), s.RedisErrors()

			proxy.ResetNext(1, tc.cmd, tc.at)
			start := time.Now()
			tc.op(t, key)
			if d := time.Since(start); d > opTimeout/2 {
				t.Errorf("the call that met the reset took %v: it waited for the timeout (%v) instead of failing", d, opTimeout)
			}
			if got := proxy.Resets() - resets; got != 1 {
				t.Fatalf("the proxy reset %d connections, want 1: the fault was not exercised", got)
			}
			if got := s.RedisErrors() - errs; got != 1 {
				t.Errorf("RedisErrors rose by %d, want 1 failed operation", got)
			}
			if s.BreakerOpen() {
				t.Error("one reset opened the breaker")
			}

			// Recovered at once: the broken connection is not reused.
			errs = s.RedisErrors()
			s.Set(ctx, key, entry(body, time.Hour))
			if e, tier := s.Get(ctx, key); e == nil || tier != L2 || string(e.Body) != body {
				t.Fatalf("after the reset: entry %v, tier %q; want an L2 hit with the whole body", e != nil, tier)
			}
			if got := s.RedisErrors() - errs; got != 0 {
				t.Fatalf("%d Redis errors after the reset, want none", got)
			}
		})
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
		s.Set(ctx, Image{Account: "acct", Endpoint: "ep", PathQuery: fmt.Sprint("img", i)}.VariantKey("w-1", ""), entry(fmt.Sprint(i), time.Hour))
	}
	for i := 0; i < 50; i++ {
		e, tier := s.Get(ctx, Image{Account: "acct", Endpoint: "ep", PathQuery: fmt.Sprint("img", i)}.VariantKey("w-1", ""))
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
		{"same", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", ""), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", ""), true},
		{"tenant", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", ""), Image{Account: "b", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", ""), false},
		{"endpoint", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", ""), Image{Account: "a", Endpoint: "f", PathQuery: "p.jpg"}.VariantKey("w-1", ""), false},
		{"format", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", "webp"), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("w-1", "avif"), false},
		{"query", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg?v=1"}.VariantKey("", ""), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg?v=2"}.VariantKey("", ""), false},
		{"no separator games", Image{Account: "a", Endpoint: "eb", PathQuery: "c"}.VariantKey("", ""), Image{Account: "ae", Endpoint: "b", PathQuery: "c"}.VariantKey("", ""), false},
		{"original vs variant", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.OriginalKey(), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("", ""), false},
		{"original vs record", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.OriginalKey(), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.RecordKey(), false},
		{"host", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg", Host: "x.example"}.VariantKey("", ""), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg", Host: "y.example"}.VariantKey("", ""), false},
		{"no host vs host", Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg"}.VariantKey("", ""), Image{Account: "a", Endpoint: "e", PathQuery: "p.jpg", Host: "x.example"}.VariantKey("", ""), false},
		{"NUL games", Image{Account: "a\x00", Endpoint: "b", PathQuery: "p.jpg"}.OriginalKey(), Image{Account: "a", Endpoint: "\x00b", PathQuery: "p.jpg"}.OriginalKey(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.same {
				t.Fatalf("%s vs %s: same=%v, want %v", tc.a, tc.b, tc.a == tc.b, tc.same)
			}
		})
	}
}

// L1 keeps bodies outside the Go heap, within its byte budget, and frees
// each one when it leaves, unless a response still reads it.
func TestL1OffHeap(t *testing.T) {
	base := offheap.Allocated()
	s := newStore(t, func(c *Config) { c.L1Bytes = 256 << 10 })
	body := bytes.Repeat([]byte{7}, 16<<10)
	s.Set(context.Background(), "viewed", entry(string(body), time.Hour))
	view, held, ok := s.ViewL1("viewed")
	if !ok || !bytes.Equal(view.Body, body) {
		t.Fatal("ViewL1 missed a fresh entry")
	}
	for i := range 100 { // evicts "viewed" among others
		s.Set(context.Background(), fmt.Sprint(i), entry(string(body), time.Hour))
	}
	s.Delete(context.Background(), "viewed")
	s.l1.CleanUp()
	if _, _, ok := s.ViewL1("viewed"); ok {
		t.Fatal("deleted entry still in L1")
	}
	if !bytes.Equal(view.Body, body) {
		t.Fatal("an evicted entry's bytes changed while a view held them")
	}
	if off := offheap.Allocated() - base; off > int64(s.L1Bytes())+int64(len(body)) {
		t.Fatalf("%d bytes off heap for an L1 of %d plus one viewed entry", off, s.L1Bytes())
	}
	held.Release()
	if got := offheap.Allocated() - base; got > int64(s.L1Bytes()) {
		t.Fatalf("%d bytes off heap after the view was released, L1 holds %d", got, s.L1Bytes())
	}
	s.Close()
	if got := offheap.Allocated() - base; got != 0 {
		t.Fatalf("%d bytes still allocated after Close", got)
	}
}

// Get hands out a copy: the caller may keep it as long as it likes.
func TestGetCopies(t *testing.T) {
	s := newStore(t, nil)
	s.Set(context.Background(), "k", entry("pixels", time.Hour))
	e, _ := s.Get(context.Background(), "k")
	e.Body[0] = 'X'
	if again, _ := s.Get(context.Background(), "k"); string(again.Body) != "pixels" {
		t.Fatalf("a caller's change reached the cache: %q", again.Body)
	}
}

func TestOriginalsInL1(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("L1Originals=", keep), func(t *testing.T) {
			s := newStore(t, func(c *Config) { c.L1Originals = keep })
			key := Image{Account: "acc", Endpoint: "ep", PathQuery: "a.jpg"}.OriginalKey()
			s.Set(context.Background(), key, entry("original", time.Hour))
			miss := Image{Account: "acc", Endpoint: "ep", PathQuery: "gone.jpg"}.OriginalKey()
			s.Set(context.Background(), miss, &Entry{Status: 404, StaleUntil: time.Now().Add(time.Minute)})
			if _, _, ok := s.ViewL1(miss); !ok {
				t.Fatal("a cached miss is not in L1")
			}
			s.Set(context.Background(), Image{Account: "acc", Endpoint: "ep", PathQuery: "a.jpg"}.VariantKey("w-10", ""), entry("variant", time.Hour))
			if _, _, ok := s.ViewL1(key); ok != keep {
				t.Fatalf("original in L1 = %v", ok)
			}
			if _, _, ok := s.ViewL1(Image{Account: "acc", Endpoint: "ep", PathQuery: "a.jpg"}.VariantKey("w-10", "")); !ok {
				t.Fatal("variant not in L1")
			}
		})
	}
}

// BenchmarkOriginalRead is what keeping originals out of L1 costs a new
// variant of a known image: reading a 5 MB original (a 12 MP JPEG) back
// from Redis instead of from L1.
//
//	go test -run '^$' -bench BenchmarkOriginalRead ./internal/cache/
func BenchmarkOriginalRead(b *testing.B) {
	redis := redistest.Start(b)
	body := bytes.Repeat([]byte{0xAB}, 5<<20)
	for _, tier := range []string{"L1", "L2"} {
		b.Run(tier, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.RedisAddrs = []string{redis}
			cfg.OpTimeout = time.Second
			if tier == "L2" {
				cfg.L1Bytes = 0
			}
			s, err := New(cfg, quietLog())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			key := Image{Account: "acc", Endpoint: "ep", PathQuery: "photo.jpg"}.OriginalKey()
			s.Set(context.Background(), key, entry(string(body), time.Hour))
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for range b.N {
				if e, _ := s.Get(context.Background(), key); e == nil || len(e.Body) != len(body) {
					b.Fatal("miss")
				}
			}
		})
	}
}

// FuzzKeys: two images (with a transformation and a format) get the same
// variant key exactly when every part is equal, and the same original and
// record keys exactly when the image is — whatever bytes the parts hold.
func FuzzKeys(f *testing.F) {
	f.Add("a", "e", "p.jpg", "", "w-1", "", "a", "e", "p.jpg", "", "w-1", "")
	f.Add("a", "eb", "c", "", "", "", "ae", "b", "c", "", "", "")
	f.Add("a\x00", "b", "p", "h", "", "webp", "a", "\x00b", "p", "h", "", "webp")
	f.Add("a", "e", "p.jpg", "x.example", "w-1", "", "a", "e", "p.jpg", "X.example", "w-1", "")
	f.Fuzz(func(t *testing.T, a1, e1, p1, h1, tr1, f1, a2, e2, p2, h2, tr2, f2 string) {
		i1 := Image{Account: a1, Endpoint: e1, PathQuery: p1, Host: h1}
		i2 := Image{Account: a2, Endpoint: e2, PathQuery: p2, Host: h2}
		if (i1.VariantKey(tr1, f1) == i2.VariantKey(tr2, f2)) != (i1 == i2 && tr1 == tr2 && f1 == f2) {
			t.Fatalf("variant keys of %+v %q %q and %+v %q %q", i1, tr1, f1, i2, tr2, f2)
		}
		if (i1.OriginalKey() == i2.OriginalKey()) != (i1 == i2) || (i1.RecordKey() == i2.RecordKey()) != (i1 == i2) {
			t.Fatalf("original or record keys of %+v and %+v", i1, i2)
		}
		if i1.OriginalKey() == i1.RecordKey() || i1.OriginalKey() == i1.VariantKey(tr1, f1) {
			t.Fatal("a type tag does not keep kinds apart")
		}
	})
}

// With a write queue, Set returns at once: L1 has the entry, L2 gets it
// from a background writer; writes that do not fit the queue are dropped,
// never waited for.
func TestAsyncWrites(t *testing.T) {
	redis := redistest.Start(t)
	s := newStore(t, func(c *Config) { c.RedisAddrs = []string{redis}; c.WriteQueueBytes = 64 << 10 })
	reader := newStore(t, func(c *Config) { c.RedisAddrs = []string{redis}; c.L1Bytes = 0 })
	ctx := context.Background()
	s.Set(ctx, "k", entry("async body", time.Hour))
	if e, tier := s.Get(ctx, "k"); e == nil || tier != L1 {
		t.Fatal("not in L1 at once")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if e, tier := reader.Get(ctx, "k"); e != nil && tier == L2 && string(e.Body) == "async body" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background writer never wrote to Redis")
		}
		time.Sleep(10 * time.Millisecond)
	}
	big := entry(string(make([]byte, 128<<10)), time.Hour) // over the 64 KiB queue
	start := time.Now()
	s.Set(ctx, "big", big)
	if d := time.Since(start); d > 50*time.Millisecond || s.DroppedWrites() != 1 {
		t.Fatalf("an entry over the queue: Set took %v, dropped %d; want at once, 1", d, s.DroppedWrites())
	}
	if e, _ := s.Get(ctx, "big"); e == nil {
		t.Fatal("a dropped L2 write lost the L1 copy too")
	}
}

// A Redis that does not answer never holds up Set.
func TestAsyncWritesDoNotWaitForRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, func(c *Config) {
		c.RedisAddrs = []string{srv.Addr}
		c.WriteQueueBytes = 1 << 20
		c.OpTimeout = time.Second
	})
	srv.Stop()
	start := time.Now()
	for i := range 50 {
		s.Set(context.Background(), fmt.Sprint("k", i), entry("v", time.Hour))
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("50 Sets against a dead Redis took %v", d)
	}
}
