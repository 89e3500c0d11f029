package delivery

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/offheap"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/panics"
	"pictor/services/edge/internal/transform"
)

// panicOnce is a Transformer that panics on its first call, as a bug
// triggered by one bad image would.
type panicOnce struct {
	Transformer
	fired atomic.Bool
}

func (p *panicOnce) Transform(ctx context.Context, req transform.Request) (*transform.Result, error) {
	if p.fired.CompareAndSwap(false, true) {
		var m map[string]int
		m["write to a nil map"] = 1
	}
	return p.Transformer.Transform(ctx, req)
}

// A panic inside the coalesced fetch-and-transform costs the requests
// waiting on it a 500 with their request id, is counted, and the next
// request for the same image is served.
func TestPanicInCoalescedWork(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	f := newCacheFixture(t, o, nil, 3600)
	o.set(func(o *scriptedOrigin) { o.delay = 100 * time.Millisecond }) // let the callers coalesce
	f.handler.transform = &panicOnce{Transformer: f.handler.transform}
	before := internalErrors.Load()
	counted := panics.Counts()[panics.CoalescedWork]

	var wg sync.WaitGroup
	codes := make([]int, 5)
	ids := make([]string, 5)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.get("/demo/tr:w-100/photo.jpg")
			codes[i], ids[i] = w.Code, w.Header().Get("X-Request-Id")
			if strings.Contains(w.Body.String(), "nil map") {
				t.Error("the panic's text reached a client")
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusInternalServerError || ids[i] == "" {
			t.Fatalf("request %d: status %d, request id %q; want 500 with an id", i, c, ids[i])
		}
	}
	if got := panics.Counts()[panics.CoalescedWork] - counted; got != 1 {
		t.Fatalf("pictor_edge_panics_total{where=coalesced work} rose by %d, want 1", got)
	}
	internalErrors.Store(before) // these 500s were the point
	expectCache(t, f.get("/demo/tr:w-100/photo.jpg"), http.StatusOK, "MISS")
}

// Misses beyond the gate are refused with 503 and Retry-After before they
// fetch anything; the admitted one is served.
func TestMissAdmission(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	f := newCacheFixture(t, o, nil, 3600)
	o.set(func(o *scriptedOrigin) { o.delay = 300 * time.Millisecond })
	f.handler.SetLimits(Limits{MaxMisses: 1, MissQueue: 0, MissWait: 10 * time.Millisecond})
	first := make(chan int)
	go func() { first <- f.get("/demo/tr:w-100/photo.jpg").Code }()
	for deadline := time.Now().Add(5 * time.Second); o.requests.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the first miss never reached the origin")
		}
		time.Sleep(time.Millisecond)
	}
	w := f.get("/demo/tr:w-200/photo.jpg")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("second miss: status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if code := <-first; code != http.StatusOK {
		t.Fatalf("admitted miss: %d", code)
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times; the refused miss must not fetch", n)
	}
	// With room again, the refused variant is served.
	expectCache(t, f.get("/demo/tr:w-200/photo.jpg"), http.StatusOK, "MISS")
}

// Every variant of one image rendered at the same time reads one fetch of
// its original, even one too large to cache.
func TestVariantsShareOneOriginal(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 800, 600))
	f := newCacheFixture(t, o, nil, 3600)
	// Originals over the cache's object cap are never cached: without
	// sharing, each variant would fetch its own.
	ccfg := cache.DefaultConfig()
	ccfg.MaxObject = 1 << 10
	store, err := cache.New(ccfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.handler.cache = store
	o.set(func(o *scriptedOrigin) { o.delay = 200 * time.Millisecond })
	budget := membudget.New(64<<20, time.Second)
	f.handler.SetLimits(Limits{Memory: budget, ObjectCap: 10 << 20})
	f.handler.fetcher = fetcherWithMemory(t, budget)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := f.get(fmt.Sprintf("/demo/tr:w-%d/photo.jpg", 50+i)); w.Code != http.StatusOK {
				t.Errorf("variant %d: %d %s", i, w.Code, w.Header().Get("X-Pictor-Error"))
			}
		}()
	}
	wg.Wait()
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times for 12 concurrent variants of one image, want 1", n)
	}
	if used := budget.InUse(); used != 0 {
		t.Fatalf("%d bytes still leased after every variant was served", used)
	}
	if f.handler.originals.Held() != 0 {
		t.Fatal("a shared original outlived its variants")
	}
}

// Leases are given back on every way a miss can end: served, not found,
// not an image, refused by the budget.
func TestMemoryLeasesReturned(t *testing.T) {
	f := newFixture(t)
	h := f.handler.(*Handler)
	budget := membudget.New(8<<20, 100*time.Millisecond)
	h.SetLimits(Limits{Memory: budget, ObjectCap: 1 << 20})
	h.fetcher = fetcherWithMemory(t, budget)
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/demo/tr:w-100/photo.jpg", 200},
		{"/demo/tr:w-101/photo.jpg", 200},
		{"/demo/tr:w-100/missing.jpg", 404},
		{"/demo/tr:w-100/page.html", 502},
		{"/demo/tr:orig-true/photo.jpg", 200},
	} {
		if w := f.do("GET", tc.target, nil); w.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.target, w.Code, tc.status)
		}
		if used := budget.InUse(); used != 0 {
			t.Fatalf("after %s: %d bytes still leased", tc.target, used)
		}
	}
	// A body larger than the whole budget can never be read: 422, before
	// the body is.
	small := membudget.New(1<<10, 100*time.Millisecond)
	h.fetcher = fetcherWithMemory(t, small)
	h.SetLimits(Limits{Memory: small})
	w := f.do("GET", "/demo/tr:w-102/dir/a%20b.jpg", nil) // not fetched yet
	if w.Code != http.StatusUnprocessableEntity || small.InUse() != 0 {
		t.Fatalf("body over the budget: %d (%s), %d leased", w.Code, w.Header().Get("X-Pictor-Error"), small.InUse())
	}
}

// The fast front streams L1 hits from L1's own memory and lets go of it
// once written: after the entries are gone from L1, nothing stays
// allocated, however the responses ended.
func TestFastFrontReleasesL1(t *testing.T) {
	f := newFixture(t)
	h := f.handler.(*Handler)
	pair := newFrontPair(t, h)
	base := offheap.Allocated()
	for i := range 5 {
		fetch(t, "GET", fmt.Sprintf("%s/demo/tr:w-%d/photo.jpg", pair.net, 60+i), nil) // fill L1
	}
	filled := offheap.Allocated() - base
	if filled <= 0 {
		t.Fatal("L1 holds nothing off heap")
	}
	for round := range 3 {
		for i := range 5 {
			url := fmt.Sprintf("%s/demo/tr:w-%d/photo.jpg", pair.fast, 60+i)
			if r := fetch(t, "GET", url, nil); r.status != 200 || r.header.Get("X-Cache") != "HIT-L1" {
				t.Fatalf("round %d: %d %s", round, r.status, r.header.Get("X-Cache"))
			}
			fetch(t, "HEAD", url, nil)
			fetch(t, "GET", url, map[string]string{"If-None-Match": "*"})
		}
	}
	// A client that hangs up before reading its response.
	conn, err := net.Dial("tcp", strings.TrimPrefix(pair.fast, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /demo/tr:w-60/photo.jpg HTTP/1.1\r\nHost: x\r\n\r\n")
	conn.Close()
	if got := offheap.Allocated() - base; got != filled {
		t.Fatalf("L1 hits changed the bytes held off heap: %d, want %d", got, filled)
	}
	f.store.Close()
	deadline := time.Now().Add(5 * time.Second)
	for offheap.Allocated() != base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := offheap.Allocated() - base; got != 0 {
		t.Fatalf("%d bytes still off heap after L1 was emptied: a hit never let go", got)
	}
}

// fetcherWithMemory is the fixtures' fetcher with bodies leased from m.
func fetcherWithMemory(t *testing.T, m origin.Memory) *origin.Fetcher {
	t.Helper()
	cfg := origin.DefaultConfig()
	cfg.AllowPrivate = true
	cfg.FetchTimeout = 5 * time.Second
	cfg.Memory = m
	return origin.New(cfg)
}

// A response the client has not read yet keeps its body leased, so slow
// readers cannot hold more than the budget; the lease ends when the
// response is written, or dropped.
func TestSlowReaderKeepsItsBodyLeased(t *testing.T) {
	o := newScriptedOrigin(t, noise(t, 2000, 1500))
	f := newCacheFixture(t, o, nil, 3600)
	budget := membudget.New(512<<20, time.Second)
	f.handler.SetLimits(Limits{MaxMisses: 4, MissQueue: 4, MissWait: time.Second, Memory: budget, ObjectCap: 10 << 20})
	f.handler.fetcher = fetcherWithMemory(t, budget)
	f.handler.transform = transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 8,
		QueueWait: time.Second, Deadline: 10 * time.Second, Memory: budget}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A PNG of this much noise is about 9 MB: more than sockets take in.
	const target = "/demo/tr:f-png/photo.jpg?slow=1"
	pair := newFrontPair(t, f.handler)
	conn, err := net.Dial("tcp", strings.TrimPrefix(pair.fast, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
	deadline := time.Now().Add(20 * time.Second)
	for o.requests.Load() == 0 || f.handler.MissesInFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the variant was never made")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // made; now the response waits for its reader
	held := budget.InUse()
	if held < 1<<20 {
		t.Fatalf("%d bytes leased while a multi-megabyte response waits for its reader", held)
	}
	conn.Close() // the reader leaves without reading
	for budget.InUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("%d bytes still leased after the reader left", n)
	}
	// The same through the fast front for every kind of body: nothing
	// stays leased once responses are read.
	for _, target := range []string{"/demo/tr:w-100/photo.jpg", "/demo/tr:w-100/photo.jpg", "/demo/tr:orig-true/photo.jpg",
		"/demo/tr:w-100/missing.jpg"} {
		fetch(t, "GET", pair.fast+target, nil)
	}
	for budget.InUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("%d bytes still leased after every response was read", n)
	}
}

// noise is a JPEG of random pixels: it does not compress, so its variants
// are as large as their pixels.
func noise(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
