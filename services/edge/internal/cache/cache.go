// Package cache is the edge's two-tier cache: L1 in process memory,
// bounded in bytes with S3-FIFO admission (otter) so a burst of one-hit
// wonders cannot flush popular entries, and L2 in Redis (a cluster client
// when several addresses are given), shared by every edge. It is the edge's
// only user of go-redis.
//
// Redis is an optimisation, never a dependency: every operation has a short
// timeout, a circuit breaker stops calling a Redis that keeps failing, and a
// write refused under memory pressure is a skipped write. A request never
// fails because of the cache.
package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"

	"pictor/services/edge/internal/offheap"
)

// Tier says where a hit came from.
type Tier string

// Tiers reported in X-Cache.
const (
	Miss Tier = ""
	L1   Tier = "L1"
	L2   Tier = "L2"
)

// Config sizes the cache.
type Config struct {
	L1Bytes uint64 // L1 budget; 0 disables L1
	// L1Originals keeps originals' bodies in L1 too. Without it L1 holds
	// variants and cached misses, and originals live in L2 only: a 5 MB
	// original would displace hundreds of variants, and reading it back
	// from Redis costs a few milliseconds next to the transform it feeds
	// (docs/benchmarks.md, "Memory budget"). An edge without L2 keeps them,
	// or every new variant would go back to the origin.
	L1Originals   bool
	MaxObject     int           // larger objects are served but not cached
	RedisAddrs    []string      // none disables L2; several = Redis Cluster
	RedisPassword string        //
	OpTimeout     time.Duration // per Redis operation (~100 ms)
	KeyPrefix     string        // namespaces keys in a shared Redis
	// Breaker: after BreakerFailures consecutive failures Redis is skipped
	// for BreakerCooldown, then one probe is let through.
	BreakerFailures int
	BreakerCooldown time.Duration
	// WriteQueueBytes bounds the bytes waiting to be written to L2 by the
	// background writers: a request never waits for Redis to take a copy,
	// and when the writers fall behind, writes are dropped (a cache may
	// lose an entry; an answer may not wait). 0 writes synchronously.
	WriteQueueBytes int64
}

// DefaultConfig returns the settings DESIGN §7 and RELIABILITY D ask for.
func DefaultConfig() Config {
	return Config{
		L1Bytes:         256 << 20,
		L1Originals:     true,
		MaxObject:       10 << 20,
		OpTimeout:       100 * time.Millisecond,
		KeyPrefix:       "pictor:",
		BreakerFailures: 5,
		BreakerCooldown: 2 * time.Second,
		WriteQueueBytes: 32 << 20,
	}
}

// Store is the two-tier cache.
type Store struct {
	cfg     Config
	l1      *otter.Cache[string, *l1Entry]
	l2      redis.UniversalClient
	breaker breaker
	log     *slog.Logger

	redisErrors atomic.Uint64
	evictions   atomic.Uint64

	writes        chan write // to the L2 writers; nil: synchronous
	pendingBytes  atomic.Int64
	droppedWrites atomic.Uint64
	stop          chan struct{}
	writers       sync.WaitGroup
}

// write is an entry waiting for an L2 writer.
type write struct {
	key   string
	entry *Entry
	ttl   time.Duration
	size  int64
}

// writerCount is how many goroutines write to L2 in the background: enough
// to overlap round trips, few enough that a slow Redis costs little.
const writerCount = 2

// New returns a Store. It does not contact Redis: an unreachable Redis at
// start-up is the same as one that fails later.
func New(cfg Config, log *slog.Logger) (*Store, error) {
	s := &Store{cfg: cfg, log: log, breaker: breaker{threshold: cfg.BreakerFailures, cooldown: cfg.BreakerCooldown}}
	if cfg.L1Bytes > 0 {
		l1, err := otter.New(&otter.Options[string, *l1Entry]{
			MaximumWeight: cfg.L1Bytes,
			Weigher:       func(_ string, e *l1Entry) uint32 { return e.weight },
			ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *l1Entry]) time.Duration {
				return max(time.Until(e.Value.meta.StaleUntil), time.Second)
			}),
			// Atomic: the body is freed as the entry leaves, so the bytes
			// L1 holds never exceed its weight by a backlog of pending
			// notifications.
			OnAtomicDeletion: func(e otter.DeletionEvent[string, *l1Entry]) {
				if e.Cause == otter.CauseOverflow {
					s.evictions.Add(1)
				}
				e.Value.body.Release()
			},
		})
		if err != nil {
			return nil, err
		}
		s.l1 = l1
	}
	if len(cfg.RedisAddrs) > 0 && cfg.WriteQueueBytes > 0 {
		s.writes, s.stop = make(chan write, 1024), make(chan struct{})
		for range writerCount {
			s.writers.Add(1)
			go s.writer()
		}
	}
	if len(cfg.RedisAddrs) > 0 {
		s.l2 = redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:        cfg.RedisAddrs,
			Password:     cfg.RedisPassword,
			DialTimeout:  500 * time.Millisecond,
			ReadTimeout:  cfg.OpTimeout,
			WriteTimeout: cfg.OpTimeout,
			PoolTimeout:  cfg.OpTimeout,
			MaxRetries:   -1, // a retry would double the latency budget; the origin is the fallback
			// One address means a single node even if it is a cluster member;
			// several mean Redis Cluster.
			IsClusterMode: len(cfg.RedisAddrs) > 1,
		})
	}
	return s, nil
}

// Close empties L1 (freeing its bodies once no response still reads them)
// and releases the Redis connections.
func (s *Store) Close() error {
	if s.l1 != nil {
		s.l1.InvalidateAll()
	}
	if s.stop != nil {
		close(s.stop) // pending writes are dropped: it is a cache
		s.writers.Wait()
		s.stop = nil
	}
	if s.l2 != nil {
		return s.l2.Close()
	}
	return nil
}

// Releaser lets go of bytes held for a reader.
type Releaser interface{ Release() }

// ViewL1 looks in L1 only, without copying: the returned entry's Body is
// the cached bytes themselves, valid until held.Release is called (exactly
// once). ok is false when L1 is disabled or does not hold key.
func (s *Store) ViewL1(key string) (e Entry, held Releaser, ok bool) {
	if s.l1 == nil {
		return Entry{}, nil, false
	}
	le, found := s.l1.GetIfPresent(key)
	if !found || !le.body.Acquire() {
		return Entry{}, nil, false
	}
	e = le.meta
	e.Body = le.body.Bytes()
	return e, le.body, true
}

// Get looks in L1, then L2; an L2 hit is promoted to L1. The entry is the
// caller's own: its body is a copy, valid for as long as the caller keeps it.
func (s *Store) Get(ctx context.Context, key string) (*Entry, Tier) {
	if e, held, ok := s.ViewL1(key); ok {
		e.Body = bytes.Clone(e.Body)
		held.Release()
		return &e, L1
	}
	if s.l2 == nil || !s.breaker.allow() {
		return nil, Miss
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	raw, err := s.l2.Get(ctx, s.cfg.KeyPrefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		s.breaker.success()
		return nil, Miss
	case err != nil:
		s.redisFailed("get", err)
		return nil, Miss
	}
	s.breaker.success()
	e, err := decode(raw)
	if err != nil {
		s.log.Warn("corrupt cache entry dropped", "key", key)
		s.Delete(ctx, key)
		return nil, Miss
	}
	s.setL1(key, e)
	return e, L2
}

// Set stores e in both tiers until its StaleUntil. Objects over MaxObject
// are not stored at all.
func (s *Store) Set(ctx context.Context, key string, e *Entry) {
	if len(e.Body) > s.cfg.MaxObject {
		return
	}
	ttl := time.Until(e.StaleUntil)
	if ttl <= 0 {
		return
	}
	s.setL1(key, e)
	if s.l2 == nil {
		return
	}
	if s.writes == nil {
		if s.breaker.allow() {
			s.setL2(ctx, key, e, ttl)
		}
		return
	}
	size := int64(len(e.Body) + 256)
	if s.pendingBytes.Add(size) > s.cfg.WriteQueueBytes {
		s.pendingBytes.Add(-size)
		s.droppedWrites.Add(1)
		return
	}
	select {
	case s.writes <- write{key: key, entry: e, ttl: ttl, size: size}:
	default:
		s.pendingBytes.Add(-size)
		s.droppedWrites.Add(1)
	}
}

// writer writes queued entries to L2 until the store closes.
func (s *Store) writer() {
	defer s.writers.Done()
	for {
		select {
		case <-s.stop:
			return
		case w := <-s.writes:
			if s.breaker.allow() {
				s.setL2(context.Background(), w.key, w.entry, w.ttl)
			}
			s.pendingBytes.Add(-w.size)
		}
	}
}

// setL2 writes e to Redis. The header and the body go as two commands of
// one transaction (SET, then APPEND), so the body is written from where it
// lies instead of being copied behind its header first, and no reader sees
// half an entry.
func (s *Store) setL2(ctx context.Context, key string, e *Entry, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.writeTimeout(len(e.Body)))
	defer cancel()
	k := s.cfg.KeyPrefix + key
	_, err := s.l2.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k, e.encodeHeader(), ttl)
		if len(e.Body) > 0 {
			p.Do(ctx, "APPEND", k, e.Body) // []byte arguments are written as they are
		}
		return nil
	})
	switch {
	case err == nil:
		s.breaker.success()
	case isOOM(err):
		// Redis is full and not evicting: the write is skipped, reads still work.
		s.breaker.success()
	default:
		s.redisFailed("set", err)
	}
}

// writeTimeout is the op timeout, plus time for a large body at a
// modest 100 MB/s: a 10 MB original must not time out where a 20 KB
// variant would be slow.
func (s *Store) writeTimeout(n int) time.Duration {
	return s.cfg.OpTimeout + time.Duration(n/100)*time.Microsecond
}

// DroppedWrites counts L2 writes dropped because the writers were behind.
func (s *Store) DroppedWrites() uint64 { return s.droppedWrites.Load() }

// setL1 stores a copy of e in L1, its body outside the Go heap.
func (s *Store) setL1(key string, e *Entry) {
	if s.l1 == nil || (!s.cfg.L1Originals && isOriginalKey(key) && len(e.Body) > 0) {
		return
	}
	body := offheap.Copy(e.Body)
	if body == nil {
		return // C's allocator is out of memory: skip the cache, serve anyway
	}
	meta := *e
	meta.Body = nil
	s.l1.Set(key, &l1Entry{meta: meta, body: body, weight: uint32(min(e.Size(), 1<<31))})
}

// l1Entry is what L1 holds: the entry's fields on the Go heap (small), its
// body off it.
type l1Entry struct {
	meta   Entry
	body   *offheap.Buf
	weight uint32
}

// Delete removes key from both tiers.
func (s *Store) Delete(ctx context.Context, key string) {
	if s.l1 != nil {
		s.l1.Invalidate(key)
	}
	if s.l2 == nil || !s.breaker.allow() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.OpTimeout)
	defer cancel()
	if err := s.l2.Del(ctx, s.cfg.KeyPrefix+key).Err(); err != nil {
		s.redisFailed("del", err)
		return
	}
	s.breaker.success()
}

// L1Bytes reports the bytes held in L1.
func (s *Store) L1Bytes() uint64 {
	if s.l1 == nil {
		return 0
	}
	return s.l1.WeightedSize()
}

// BreakerOpen reports whether Redis is being skipped.
func (s *Store) BreakerOpen() bool { return s.breaker.open() }

// RedisErrors counts failed Redis operations (timeouts included).
func (s *Store) RedisErrors() uint64 { return s.redisErrors.Load() }

// L1Evictions counts entries L1 dropped to stay within its byte budget.
func (s *Store) L1Evictions() uint64 { return s.evictions.Load() }

func (s *Store) redisFailed(op string, err error) {
	s.redisErrors.Add(1)
	if s.breaker.failure() {
		s.log.Warn("redis failing; skipping L2 for a while", "op", op, "err", err, "cooldown", s.cfg.BreakerCooldown)
	}
}

// isOOM reports Redis refusing a write for want of memory: "OOM" for a
// command, "EXECABORT" for the transaction it was queued in.
func isOOM(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "OOM ") || strings.HasPrefix(msg, "EXECABORT ")
}

// breaker is a consecutive-failure circuit breaker. Once open it lets one
// probe through per cooldown; a success closes it.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if time.Now().Before(b.openUntil) {
		return false
	}
	// Half-open: this caller probes; the others keep skipping until it reports.
	b.openUntil = time.Now().Add(b.cooldown)
	return true
}

func (b *breaker) success() {
	b.mu.Lock()
	b.failures = 0
	b.mu.Unlock()
}

// failure records a failure and reports whether it opened the breaker.
func (b *breaker) failure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.failures == b.threshold {
		b.openUntil = time.Now().Add(b.cooldown)
		return true
	}
	if b.failures > b.threshold {
		b.openUntil = time.Now().Add(b.cooldown)
	}
	return false
}

func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= b.threshold && time.Now().Before(b.openUntil)
}
