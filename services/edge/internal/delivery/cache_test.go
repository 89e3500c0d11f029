package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/redistest"
)

// scriptedOrigin serves one image whose bytes, status and headers a test
// can change, counting every request and honouring If-None-Match.
type scriptedOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	etag     string
	status   int
	header   http.Header
	delay    time.Duration
	requests atomic.Int32
	revalid  atomic.Int32
}

func newScriptedOrigin(t *testing.T, body []byte) *scriptedOrigin {
	o := &scriptedOrigin{body: body, etag: `"v1"`, status: 200, header: http.Header{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		body, etag, status, delay := o.body, o.etag, o.status, o.delay
		for k, v := range o.header {
			w.Header()[k] = v
		}
		o.mu.Unlock()
		time.Sleep(delay)
		if r.URL.Path == "/missing.jpg" {
			http.NotFound(w, r)
			return
		}
		if status != 200 {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			o.revalid.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *scriptedOrigin) set(f func(o *scriptedOrigin)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

type cacheFixture struct {
	handler *Handler
	tables  *routing.Holder
	origin  *scriptedOrigin
	snap    *configv1.Snapshot
}

func newCacheFixture(t *testing.T, o *scriptedOrigin, redisAddrs []string, ttl int64) *cacheFixture {
	t.Helper()
	snap := &configv1.Snapshot{
		Version: 10,
		Accounts: []*configv1.Account{{
			Id: "demo", Status: "active", AvifEnabled: true,
			Origins:   []*configv1.Origin{{Id: "o1", Type: "WEB_FOLDER", Name: "web", BaseUrl: o.URL}},
			Endpoints: []*configv1.Endpoint{{Id: "ep", OriginIds: []string{"o1"}, CacheTtlSeconds: ttl, StaleGraceSeconds: 3600}},
		}},
	}
	var holder routing.Holder
	holder.Store(mustTable(t, snap))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ocfg := origin.DefaultConfig()
	ocfg.AllowPrivate = true
	ocfg.FetchTimeout = 3 * time.Second
	ccfg := cache.DefaultConfig()
	ccfg.WriteQueueBytes = 0 // shared-Redis tests read at once what one edge wrote
	ccfg.L1Bytes = 32 << 20
	ccfg.RedisAddrs = redisAddrs
	ccfg.BreakerCooldown = 200 * time.Millisecond
	// Generous: these tests assert what reaches Redis, and a loaded
	// machine (the race detector, a cold build beside them) can take more
	// than the production 100 ms. Timeouts are cache's own tests' concern.
	ccfg.OpTimeout = time.Second
	store, err := cache.New(ccfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	engine := transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 4, QueueLength: 512, QueueWait: 10 * time.Second, Deadline: 10 * time.Second}, log)
	return &cacheFixture{handler: New(&holder, origin.New(ocfg), engine, store, log), tables: &holder, origin: o, snap: snap}
}

func mustTable(t *testing.T, snap *configv1.Snapshot) *routing.Table {
	t.Helper()
	table, err := routing.Build(snap)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func (f *cacheFixture) get(target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func expectCache(t *testing.T, w *httptest.ResponseRecorder, status int, xcache string) {
	t.Helper()
	if w.Code != status || w.Header().Get("X-Cache") != xcache {
		t.Fatalf("status %d X-Cache %q (error %q), want %d %q", w.Code, w.Header().Get("X-Cache"), w.Header().Get("X-Pictor-Error"), status, xcache)
	}
}

// redisSetups runs the shared-L2 tests against one Redis and against a
// three-master Redis Cluster, which is what users run past one machine.
var redisSetups = []struct {
	name  string
	start func(t *testing.T) []string
}{
	{"single", func(t *testing.T) []string { return []string{redistest.Start(t)} }},
	{"cluster", func(t *testing.T) []string { return redistest.StartCluster(t, 3) }},
}

func TestCacheTiersAndCanonicalKey(t *testing.T) {
	for _, setup := range redisSetups {
		t.Run(setup.name, func(t *testing.T) { testCacheTiers(t, setup.start(t)) })
	}
}

func testCacheTiers(t *testing.T, redis []string) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	a := newCacheFixture(t, o, redis, 0)
	expectCache(t, a.get("/demo/tr:w-300,h-200/p.jpg"), 200, "MISS")
	expectCache(t, a.get("/demo/tr:h-200,w-300/p.jpg"), 200, "HIT-L1")
	expectCache(t, a.get("/demo/p.jpg?tr=w-300,h-200"), 200, "HIT-L1")
	// A second edge sharing Redis.
	b := newCacheFixture(t, o, redis, 0)
	expectCache(t, b.get("/demo/tr:w-300,h-200/p.jpg"), 200, "HIT-L2")
	// A new variant of a known image does not go back to the origin.
	expectCache(t, a.get("/demo/tr:w-100/p.jpg"), 200, "MISS")
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin saw %d requests, want 1", n)
	}
	// A forwarded query is part of the key: ?v=2 busts the cache.
	expectCache(t, a.get("/demo/tr:w-100/p.jpg?v=2"), 200, "MISS")
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want 2", n)
	}
}

func TestCacheNoPoisoning(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	f := newCacheFixture(t, o, nil, 0)
	poisoned := f.get("/demo/tr:w-100/p.jpg", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/other", "Cookie", "a=b")
	clean := f.get("/demo/tr:w-100/p.jpg")
	expectCache(t, clean, 200, "HIT-L1")
	if poisoned.Body.String() != clean.Body.String() {
		t.Fatal("unkeyed headers changed the cached bytes")
	}
	// f-auto: each Accept gets its own format, never another's.
	chrome := f.get("/demo/tr:w-100/p.jpg", "Accept", "image/avif,image/webp,*/*")
	webp := f.get("/demo/tr:w-100/p.jpg", "Accept", "image/webp,*/*")
	safari := f.get("/demo/tr:w-100/p.jpg", "Accept", "*/*")
	for _, c := range []struct {
		w    *httptest.ResponseRecorder
		want string
	}{{chrome, "image/avif"}, {webp, "image/webp"}, {safari, "image/jpeg"}} {
		if ct := c.w.Header().Get("Content-Type"); ct != c.want || c.w.Header().Get("Vary") != "Accept" {
			t.Fatalf("Content-Type %q Vary %q, want %q with Vary: Accept", ct, c.w.Header().Get("Vary"), c.want)
		}
	}
	if again := f.get("/demo/tr:w-100/p.jpg", "Accept", "image/webp"); again.Header().Get("Content-Type") != "image/webp" || again.Header().Get("X-Cache") != "HIT-L1" {
		t.Fatalf("webp again: %q %q", again.Header().Get("Content-Type"), again.Header().Get("X-Cache"))
	}
}

func TestCoalescing(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 800, 600))
	o.set(func(o *scriptedOrigin) { o.delay = 300 * time.Millisecond })
	f := newCacheFixture(t, o, nil, 0)

	// The first client hangs up early; the other 199 must still get the image.
	ctx, cancel := context.WithCancel(context.Background())
	first := httptest.NewRequest("GET", "/demo/tr:w-123/p.jpg", nil).WithContext(ctx)
	go f.handler.ServeHTTP(httptest.NewRecorder(), first)
	time.Sleep(20 * time.Millisecond)
	cancel()

	const n = 199
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := f.get("/demo/tr:w-123/p.jpg"); w.Code != 200 {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests failed", bad.Load(), n)
	}
	if got := o.requests.Load(); got != 1 {
		t.Fatalf("origin saw %d requests for one variant, want 1", got)
	}
}

func TestNegativeCache(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 40, 30))
	f := newCacheFixture(t, o, nil, 0)
	for i := 0; i < 3; i++ {
		if w := f.get("/demo/tr:w-10/missing.jpg"); w.Code != 404 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if got := o.requests.Load(); got != 1 {
		t.Fatalf("origin saw %d requests for a missing image, want 1 (404 cached)", got)
	}
}

func TestServerErrorsNotCached(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 40, 30))
	o.set(func(o *scriptedOrigin) { o.status = 500 })
	f := newCacheFixture(t, o, nil, 0)
	f.get("/demo/p.jpg")
	f.get("/demo/p.jpg")
	if got := o.requests.Load(); got != 2 {
		t.Fatalf("origin saw %d requests, want 2 (5xx never cached)", got)
	}
}

func TestPrivateResponsesNotShared(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 40, 30))
	o.set(func(o *scriptedOrigin) { o.header.Set("Cache-Control", "private, max-age=600") })
	f := newCacheFixture(t, o, nil, 0)
	expectCache(t, f.get("/demo/p.jpg"), 200, "MISS")
	expectCache(t, f.get("/demo/p.jpg"), 200, "MISS")
}

func TestPurge(t *testing.T) {
	for _, setup := range redisSetups {
		t.Run(setup.name, func(t *testing.T) { testPurge(t, setup.start(t)) })
	}
}

func testPurge(t *testing.T, redis []string) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	a := newCacheFixture(t, o, redis, 0)
	b := newCacheFixture(t, o, redis, 0)
	expectCache(t, a.get("/demo/tr:w-50/p.jpg"), 200, "MISS")
	expectCache(t, b.get("/demo/tr:w-50/p.jpg"), 200, "HIT-L2")
	expectCache(t, a.get("/demo/tr:w-50/dir/x.jpg"), 200, "MISS")

	// The origin changes the image, then a purge arrives in a new version.
	o.set(func(o *scriptedOrigin) { o.body, o.etag = photo(t, 200, 100), `"v2"` })
	for _, f := range []*cacheFixture{a, b} {
		snap := f.snap
		snap.Version = 11
		snap.Purges = []*configv1.PurgeRule{
			{Id: "p1", AccountId: "demo", EndpointId: "ep", Path: "p.jpg", Version: 11},
			{Id: "p2", AccountId: "demo", EndpointId: "ep", Path: "dir/", Prefix: true, Version: 11},
		}
		f.tables.Store(mustTable(t, snap))
	}
	for name, f := range map[string]*cacheFixture{"a": a, "b": b} {
		w := f.get("/demo/tr:w-50/p.jpg")
		// b may find a's fresh copy in Redis; never its own stale L1 entry.
		if w.Code != 200 || w.Header().Get("X-Cache") == "HIT-L1" {
			t.Fatalf("edge %s after purge: %d %q", name, w.Code, w.Header().Get("X-Cache"))
		}
		if gw, gh := decodeSize(t, w.Body.Bytes()); gw != 50 || gh != 25 {
			t.Fatalf("edge %s served %d×%d, want the new 50×25 image", name, gw, gh)
		}
	}
	if w := a.get("/demo/tr:w-50/dir/x.jpg"); w.Header().Get("X-Cache") != "MISS" {
		t.Fatalf("prefix purge: X-Cache %q", w.Header().Get("X-Cache"))
	}
	// Entries stored after the purge are hits again.
	expectCache(t, a.get("/demo/tr:w-50/p.jpg"), 200, "HIT-L1")
}

func TestRedisKilledMidTraffic(t *testing.T) {
	srv := redistest.StartServer(t)
	o := newScriptedOrigin(t, photo(t, 200, 100))
	f := newCacheFixture(t, o, []string{srv.Addr}, 0)
	var fails int
	for i := 0; i < 60; i++ {
		if i == 20 {
			srv.Stop()
		}
		if i == 40 {
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
		}
		w := f.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", 10+i%30))
		if w.Code >= 500 {
			fails++
		}
	}
	if fails != 0 {
		t.Fatalf("%d requests failed while Redis was away", fails)
	}
}

// TestRedisResetMidTraffic: the edge's Redis connections are reset in
// the middle of commands (RELIABILITY D32, toxiproxy's reset_peer) while
// images are requested over HTTP. Every request is still answered 200 with
// the image, none 5xx, and once the resets stop the edge's writes reach
// Redis again: another edge finds its new variants there.
func TestRedisResetMidTraffic(t *testing.T) {
	redis := redistest.Start(t)
	o := newScriptedOrigin(t, photo(t, 200, 100))
	cases := []struct {
		cmd string
		at  redistest.ResetPoint
	}{
		// GET: looking up a variant or an original; SET: storing one,
		// which runs in work detached from the request.
		{"GET", redistest.BeforeReply},
		{"GET", redistest.MidReply},
		{"SET", redistest.BeforeReply},
		{"SET", redistest.MidReply},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s %s", tc.cmd, tc.at), func(t *testing.T) {
			proxy := redistest.NewProxy(t, redis)
			a := newCacheFixture(t, o, []string{proxy.Addr}, 0)
			srv := httptest.NewServer(a.handler)
			t.Cleanup(srv.Close)
			// Each case its own image: nothing it asks for is in Redis yet.
			image := fmt.Sprintf("/demo/tr:w-%%d/reset-%d.jpg", i)

			// Fewer resets than the breaker's threshold apart: every one
			// meets a live command instead of a skipped one.
			const armed = 4
			proxy.ResetNext(armed, tc.cmd, tc.at)
			for width := 20; width < 32; width++ {
				resp, err := http.Get(srv.URL + fmt.Sprintf(image, width))
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("w-%d while Redis connections were reset: %d %q", width, resp.StatusCode, resp.Header.Get("X-Pictor-Error"))
				}
				if w, _ := decodeSize(t, body); w != width {
					t.Fatalf("w-%d: served an image %d wide", width, w)
				}
			}
			eventually(t, "every armed reset met a command", func() bool { return proxy.Resets() == armed })

			// Recovered: a's new variant reaches Redis, where an edge that
			// never saw a reset finds it.
			proxy.Disarm()
			b := newCacheFixture(t, o, []string{redis}, 0)
			for n := 0; ; n++ {
				target := fmt.Sprintf(image, 100+n)
				expectCache(t, a.get(target), http.StatusOK, "MISS")
				time.Sleep(50 * time.Millisecond) // a stores it after answering
				w := b.get(target)
				if w.Code == http.StatusOK && w.Header().Get("X-Cache") == "HIT-L2" {
					break
				}
				if n == 50 {
					t.Fatalf("the edge's writes did not reach Redis again after the resets stopped (last: %d %q)", w.Code, w.Header().Get("X-Cache"))
				}
			}
		})
	}
}

// eventually polls cond every 10 ms for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNegativeCacheForgottenWhenOriginsChange: a miss cached before an
// origin was added must not hide the image once the origin is there.
func TestNegativeCacheForgottenWhenOriginsChange(t *testing.T) {
	empty := newScriptedOrigin(t, photo(t, 40, 30))
	empty.set(func(o *scriptedOrigin) { o.status = 404 })
	full := newScriptedOrigin(t, photo(t, 40, 30))
	f := newCacheFixture(t, empty, nil, 0)
	if w := f.get("/demo/p.jpg"); w.Code != 404 {
		t.Fatalf("status %d, want 404", w.Code)
	}
	snap := f.snap
	snap.Version++
	acc := snap.Accounts[0]
	acc.Origins = append(acc.Origins, &configv1.Origin{Id: "o2", Type: "WEB_FOLDER", Name: "full", BaseUrl: full.URL})
	acc.Endpoints[0].OriginIds = append(acc.Endpoints[0].OriginIds, "o2")
	f.tables.Store(mustTable(t, snap))
	expectCache(t, f.get("/demo/p.jpg"), 200, "MISS")
}
