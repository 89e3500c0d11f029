package delivery

import (
	"bytes"
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

// policyEdge is an edge handler over a snapshot the test writes, with a
// clock the test moves.
type policyEdge struct {
	h      *Handler
	tables *routing.Holder
	offset atomic.Int64 // nanoseconds added to the wall clock
}

func newPolicyEdge(t *testing.T, snap *configv1.Snapshot) *policyEdge {
	t.Helper()
	return newPolicyEdgeWithRedis(t, snap, nil)
}

func newPolicyEdgeWithRedis(t *testing.T, snap *configv1.Snapshot, redis []string) *policyEdge {
	t.Helper()
	e := &policyEdge{tables: &routing.Holder{}}
	e.tables.Store(mustTable(t, snap))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ocfg := origin.DefaultConfig()
	ocfg.AllowPrivate = true
	ocfg.FetchTimeout = 500 * time.Millisecond
	ccfg := cache.DefaultConfig()
	ccfg.WriteQueueBytes = 0 // two edges over one Redis read at once what one wrote
	ccfg.L1Bytes = 32 << 20
	ccfg.RedisAddrs, ccfg.OpTimeout = redis, time.Second
	store, err := cache.New(ccfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	engine := transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 64, QueueWait: 5 * time.Second, Deadline: 10 * time.Second}, log)
	e.h = New(e.tables, origin.New(ocfg), engine, store, log)
	e.h.now = func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	return e
}

func (e *policyEdge) advance(d time.Duration) { e.offset.Add(int64(d)) }

func (e *policyEdge) get(target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// oneAccount is a snapshot of account "demo" whose default endpoint has
// the given origins, TTL and grace (seconds).
func oneAccount(ttl, grace int64, origins ...*configv1.Origin) *configv1.Snapshot {
	ids := make([]string, len(origins))
	for i, o := range origins {
		ids[i] = o.Id
	}
	return &configv1.Snapshot{Version: 10, Accounts: []*configv1.Account{{
		Id: "demo", Status: "active", Origins: origins,
		Endpoints: []*configv1.Endpoint{{Id: "ep", OriginIds: ids, CacheTtlSeconds: ttl, StaleGraceSeconds: grace}},
	}}}
}

func webFolder(id, url string) *configv1.Origin {
	return &configv1.Origin{Id: id, Type: "WEB_FOLDER", Name: id, BaseUrl: url}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Past its TTL an original's variants are served at once, stale, while one
// background refresh per original — shared by all its variants — runs; a
// 304 makes every variant fresh again without remaking any.
func TestStaleWhileRevalidate(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(60, 3600, webFolder("o1", o.URL)))
	widths := []int{50, 60, 70}
	for _, w := range widths {
		expectCache(t, e.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", w)), 200, "MISS")
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times for three variants of one image, want 1", n)
	}
	e.advance(61 * time.Second)
	o.set(func(o *scriptedOrigin) { o.delay = 300 * time.Millisecond }) // a slow revalidation
	var wg sync.WaitGroup
	for _, w := range widths {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				r := e.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", w))
				if r.Code != 200 || r.Header().Get("X-Cache") != "STALE" || r.Header().Get("Cache-Control") != "public, max-age=60" {
					t.Errorf("w-%d past TTL: %d %q %q", w, r.Code, r.Header().Get("X-Cache"), r.Header().Get("Cache-Control"))
				}
				if d := time.Since(start); d > 200*time.Millisecond {
					t.Errorf("a stale answer waited %v for the origin", d)
				}
			}()
		}
	}
	wg.Wait()
	waitFor(t, "the background refresh", func() bool { return o.revalid.Load() == 1 })
	waitFor(t, "the refresh to finish", func() bool { return e.h.refreshing.Len() == 0 })
	for _, w := range widths {
		expectCache(t, e.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", w)), 200, "HIT-L1")
	}
	expectCache(t, e.get("/demo/tr:w-80/p.jpg"), 200, "MISS") // made from the renewed original
	if n, r := o.requests.Load(), o.revalid.Load(); n != 2 || r != 1 {
		t.Fatalf("origin asked %d times (%d revalidations), want 2 (1)", n, r)
	}
}

// A refresh that finds the image changed replaces the original; variants
// made from the old one are made anew.
func TestRefreshFindsNewImage(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(60, 3600, webFolder("o1", o.URL)))
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "MISS")
	o.set(func(o *scriptedOrigin) { o.body, o.etag = photo(t, 200, 100), `"v2"` })
	e.advance(61 * time.Second)
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "STALE")
	waitFor(t, "the refresh", func() bool { return o.requests.Load() == 2 && e.h.refreshing.Len() == 0 })
	r := e.get("/demo/tr:w-50/p.jpg")
	expectCache(t, r, 200, "MISS")
	if w, h := decodeSize(t, r.Body.Bytes()); w != 50 || h != 25 {
		t.Fatalf("after the refresh: %d×%d, want the new image's 50×25", w, h)
	}
}

// When the origin fails, stale copies are served until the grace period
// ends, with one refresh tried per backoff; past the grace, no stale bytes
// at all. A timeout is never remembered as a failure.
func TestStaleIfErrorUntilGrace(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(60, 120, webFolder("o1", o.URL)))
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "MISS")
	o.set(func(o *scriptedOrigin) { o.status = 500 })
	e.advance(61 * time.Second)
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "STALE")
	waitFor(t, "the failed refresh", func() bool { return o.requests.Load() == 2 && e.h.refreshing.Len() == 0 })
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "STALE")
	time.Sleep(200 * time.Millisecond) // time for a refresh, were one started
	if n := o.requests.Load(); n != 2 || e.h.refreshing.Len() != 0 {
		t.Fatalf("origin asked %d times within the refresh backoff, want 2", n)
	}
	e.advance(120 * time.Second) // past TTL + grace
	if r := e.get("/demo/tr:w-50/p.jpg"); r.Code != http.StatusBadGateway || r.Header().Get("X-Cache") != "" {
		t.Fatalf("past the grace period: %d %q, want 502 with no stale copy", r.Code, r.Header().Get("X-Cache"))
	}
	// A timeout is not remembered: once the origin answers, so does the edge.
	o.set(func(o *scriptedOrigin) { o.status, o.delay = 200, 700*time.Millisecond })
	if r := e.get("/demo/tr:w-90/p.jpg"); r.Code != http.StatusGatewayTimeout || r.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("origin timeout: %d %q (%s), want 504 no-store", r.Code, r.Header().Get("Cache-Control"), r.Header().Get("X-Pictor-Error"))
	}
	o.set(func(o *scriptedOrigin) { o.delay = 0 })
	expectCache(t, e.get("/demo/tr:w-90/p.jpg"), 200, "MISS")
}

// An image on no origin is remembered for the negative TTL, then asked
// for again.
func TestNegativeEntryExpires(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(60, 3600, webFolder("o1", o.URL)))
	for range 2 {
		r := e.get("/demo/missing.jpg")
		if r.Code != 404 || r.Header().Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("missing: %d %q", r.Code, r.Header().Get("Cache-Control"))
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times for a remembered 404, want 1", n)
	}
	e.advance(61 * time.Second)
	e.get("/demo/missing.jpg")
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin asked %d times after the negative TTL, want 2", n)
	}
}

// An original that does not decode is remembered like a 404: its other
// variants answer 422 without fetching or decoding it again, and once the
// negative TTL is over a fixed origin is served.
func TestCorruptOriginalRemembered(t *testing.T) {
	good := photo(t, 400, 300)
	o := newScriptedOrigin(t, good[:len(good)/2])
	e := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("o1", o.URL)))
	for _, w := range []int{50, 60, 70} {
		r := e.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", w))
		if r.Code != http.StatusUnprocessableEntity || r.Header().Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("w-%d of a truncated JPEG: %d %q", w, r.Code, r.Header().Get("Cache-Control"))
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times, want 1 (the failure is remembered)", n)
	}
	o.set(func(o *scriptedOrigin) { o.body, o.etag = good, `"v2"` })
	e.advance(61 * time.Second)
	expectCache(t, e.get("/demo/tr:w-80/p.jpg"), 200, "MISS")
}

// A purge removes negative entries too, and only the purged tenant's.
func TestPurgeCoversNegativeEntriesOfOneTenant(t *testing.T) {
	var mu sync.Mutex
	present := map[string]bool{}
	var asked atomic.Int32
	jpg := photo(t, 400, 300)
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		mu.Lock()
		ok := present[r.URL.Path]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(jpg)
	}))
	t.Cleanup(org.Close)
	account := func(id string) *configv1.Account {
		return &configv1.Account{Id: id, Status: "active", Origins: []*configv1.Origin{webFolder("o-"+id, org.URL+"/"+id)},
			Endpoints: []*configv1.Endpoint{{Id: "ep-" + id, OriginIds: []string{"o-" + id}}}}
	}
	snap := &configv1.Snapshot{Version: 10, Accounts: []*configv1.Account{account("alpha"), account("beta")}}
	e := newPolicyEdge(t, snap)
	for _, acc := range []string{"alpha", "beta"} {
		if r := e.get("/" + acc + "/late.jpg"); r.Code != 404 {
			t.Fatalf("%s before upload: %d", acc, r.Code)
		}
	}
	mu.Lock()
	present["/alpha/late.jpg"], present["/beta/late.jpg"] = true, true
	mu.Unlock()
	snap.Version = 11
	snap.Purges = []*configv1.PurgeRule{{Id: "p1", AccountId: "alpha", EndpointId: "ep-alpha", Path: "late.jpg", Version: 11}}
	e.tables.Store(mustTable(t, snap))
	before := asked.Load()
	if r := e.get("/alpha/late.jpg"); r.Code != 200 {
		t.Fatalf("purged negative entry still answers: %d", r.Code)
	}
	if r := e.get("/beta/late.jpg"); r.Code != 404 {
		t.Fatalf("the other tenant's negative entry was purged too: %d", r.Code)
	}
	if n := asked.Load() - before; n != 1 {
		t.Fatalf("origin asked %d times after the purge, want 1 (alpha only)", n)
	}
}

// With Host forwarded to a virtual-hosted origin, the Host is part of the
// cache key: one site's bytes never answer another's, while spellings of
// one Host share an entry.
func TestForwardedHostKeysTheCache(t *testing.T) {
	sites := map[string][]byte{"a.example": photo(t, 400, 200), "b.example": photo(t, 200, 400)}
	var asked atomic.Int32
	var seen sync.Map
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		seen.Store(r.Host, true)
		body, ok := sites[r.Host]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(org.Close)
	src := webFolder("o1", org.URL)
	src.ForwardHostHeaderToOrigin = true
	e := newPolicyEdge(t, oneAccount(3600, 3600, src))
	cases := []struct {
		host, xcache string
		w, h         int
	}{
		{"a.example", "MISS", 100, 50},
		{"b.example", "MISS", 100, 200},
		{"A.Example:80", "HIT-L1", 100, 50},
		{"a.example.:443", "HIT-L1", 100, 50},
		{"b.example", "HIT-L1", 100, 200},
	}
	for _, tc := range cases {
		r := e.get("/demo/tr:w-100/p.jpg", "Host", tc.host)
		expectCache(t, r, 200, tc.xcache)
		if w, h := decodeSize(t, r.Body.Bytes()); w != tc.w || h != tc.h {
			t.Fatalf("Host %s got %d×%d, want %d×%d: another site's image", tc.host, w, h, tc.w, tc.h)
		}
	}
	if n := asked.Load(); n != 2 {
		t.Fatalf("origin asked %d times, want 2 (one per site)", n)
	}
	if _, ok := seen.Load("A.Example:80"); ok {
		t.Fatal("the origin was sent an unnormalised Host")
	}
	// Without forwarding, Host is not part of the key.
	o := newScriptedOrigin(t, photo(t, 400, 300))
	plain := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("o1", o.URL)))
	expectCache(t, plain.get("/demo/tr:w-100/p.jpg", "Host", "a.example"), 200, "MISS")
	expectCache(t, plain.get("/demo/tr:w-100/p.jpg", "Host", "b.example"), 200, "HIT-L1")
}

// Spellings of one path share one entry, and one purge covers them all;
// the origin sees one form.
func TestPercentEncodingsShareAnEntry(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	var paths sync.Map
	inner := o.Server.Config.Handler
	o.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.EscapedPath(), true)
		inner.ServeHTTP(w, r)
	})
	snap := oneAccount(3600, 3600, webFolder("o1", o.URL))
	e := newPolicyEdge(t, snap)
	expectCache(t, e.get("/demo/tr:w-50/caf%C3%A9.jpg"), 200, "MISS")
	expectCache(t, e.get("/demo/tr:w-50/caf%c3%a9.jpg"), 200, "HIT-L1")
	expectCache(t, e.get("/demo/tr:w-50/%63af%C3%A9.jpg"), 200, "HIT-L1")
	if _, ok := paths.Load("/caf%C3%A9.jpg"); !ok {
		t.Fatal("the origin was not sent the normal form")
	}
	// A purge (the control plane writes rules in the normal form) covers
	// every spelling.
	snap.Version = 11
	snap.Purges = []*configv1.PurgeRule{{Id: "p1", AccountId: "demo", EndpointId: "ep", Path: "caf%C3%A9.jpg", Version: 11}}
	e.tables.Store(mustTable(t, snap))
	expectCache(t, e.get("/demo/tr:w-50/caf%c3%a9.jpg"), 200, "MISS")
}

// Cache-Control is decided per answer: the account's max-age for what may
// be shared, never public for what the origin marked private, no-store or
// gave a cookie (which never reaches the client); short for errors that
// stand a while, no-store for the rest.
func TestCacheControlPerAnswer(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	snap := oneAccount(3600, 3600, webFolder("o1", o.URL))
	e := newPolicyEdge(t, snap)
	cc := func(r *httptest.ResponseRecorder) string { return r.Header().Get("Cache-Control") }
	if r := e.get("/demo/tr:w-50/p.jpg"); cc(r) != "public, max-age=31536000" {
		t.Fatalf("shareable, default: %q", cc(r))
	}
	snap.Version = 11
	snap.Accounts[0].CacheMaxAgeSeconds = 3600
	e.tables.Store(mustTable(t, snap))
	if r := e.get("/demo/tr:w-50/p.jpg"); cc(r) != "public, max-age=3600" || r.Header().Get("X-Cache") != "HIT-L1" {
		t.Fatalf("account max-age on a cached entry: %q %q", cc(r), r.Header().Get("X-Cache"))
	}
	for _, tc := range []struct {
		name, header, value, want string
	}{
		{"private", "Cache-Control", "private, max-age=600", "private, no-cache"},
		{"no-store", "Cache-Control", "no-store", "no-store"},
		{"cookie", "Set-Cookie", "session=secret", "private, no-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o.set(func(o *scriptedOrigin) { o.header = http.Header{tc.header: {tc.value}} })
			for range 2 {
				r := e.get("/demo/tr:w-60/" + tc.name + ".jpg")
				if r.Code != 200 || cc(r) != tc.want || r.Header().Get("X-Cache") != "MISS" || r.Header().Get("Set-Cookie") != "" {
					t.Fatalf("%d %q %q %q; want 200, %q, MISS both times, no cookie", r.Code, cc(r), r.Header().Get("X-Cache"),
						r.Header().Get("Set-Cookie"), tc.want)
				}
			}
		})
	}
	o.set(func(o *scriptedOrigin) { o.header = http.Header{} })
	for _, tc := range []struct {
		target string
		status int
		want   string
	}{
		{"/demo/missing.jpg", 404, "public, max-age=60"},
		{"/demo/tr:w-abc/p.jpg", 400, "no-store"},
		{"/nobody/p.jpg", 404, "public, max-age=60"},
	} {
		if r := e.get(tc.target); r.Code != tc.status || cc(r) != tc.want {
			t.Fatalf("%s: %d %q, want %d %q", tc.target, r.Code, cc(r), tc.status, tc.want)
		}
	}
}

// No answer carries a format outside the output allow-list: a source Pictor
// will not deliver as it is is 422 under orig-true too, and anything
// libvips could load but Pictor refuses is 422 (not 502); what is no image
// at all is 502, even an HTML page with an <svg> inside.
func TestBlockedSourcesOnEveryPath(t *testing.T) {
	files := map[string][]byte{
		"/script.svg": []byte(`<?xml version="1.0"?><!-- a logo --><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"/doc.pdf":    []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
		"/img.ppm":    []byte("P6\n2 2\n255\n\x00\x00\x00\xff\xff\xff\x00\x00\x00\xff\xff\xff"),
		"/img.fits":   append([]byte("SIMPLE  =                    T"), bytes.Repeat([]byte(" "), 2850)...),
		"/img.jp2":    []byte("\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 "),
		"/img.tiff":   tiffBytes(t),
		"/page.html":  []byte(`<!doctype html><html><body><svg width="10" height="10"></svg></body></html>`),
		"/data.json":  []byte(`{"image": false}`),
	}
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png") // origins lie
		w.Write(body)
	}))
	t.Cleanup(org.Close)
	e := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("o1", org.URL)))
	cases := []struct {
		path   string
		status int
	}{
		{"script.svg", 422}, {"doc.pdf", 422}, {"img.ppm", 422}, {"img.fits", 422}, {"img.jp2", 422},
		{"page.html", 502}, {"data.json", 502},
	}
	for _, tc := range cases {
		for _, tr := range []string{"tr:orig-true/", "tr:w-10/", ""} {
			r := e.get("/demo/" + tr + tc.path)
			if r.Code != tc.status {
				t.Errorf("%s%s: %d (%s), want %d", tr, tc.path, r.Code, r.Header().Get("X-Pictor-Error"), tc.status)
			}
		}
	}
	// A TIFF is transformed, but not delivered as it is.
	if r := e.get("/demo/tr:orig-true/img.tiff"); r.Code != 422 {
		t.Fatalf("orig-true of a TIFF: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	if r := e.get("/demo/tr:w-10/img.tiff"); r.Code != 200 || r.Header().Get("Content-Type") == "image/tiff" {
		t.Fatalf("a TIFF transformed: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
}

// tiffBytes is a small TIFF made by the engine's own libvips (via a PNG
// transformed with f-... is not possible: TIFF is not an output), so it is
// written by hand: 2×2 8-bit grey, uncompressed.
func tiffBytes(t *testing.T) []byte {
	t.Helper()
	le := func(v uint32, n int) []byte {
		b := make([]byte, n)
		for i := range n {
			b[i] = byte(v >> (8 * i))
		}
		return b
	}
	var b bytes.Buffer
	b.Write([]byte("II*\x00"))
	b.Write(le(8, 4))
	entries := [][3]uint32{{256, 3, 2}, {257, 3, 2}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1}, {273, 4, 8 + 2 + 9*12 + 4}, {277, 3, 1}, {278, 3, 2}, {279, 4, 4}}
	b.Write(le(uint32(len(entries)), 2))
	for _, e := range entries {
		b.Write(le(e[0], 2))
		b.Write(le(e[1], 2))
		b.Write(le(1, 4))
		if e[1] == 3 {
			b.Write(le(e[2], 2))
			b.Write([]byte{0, 0})
		} else {
			b.Write(le(e[2], 4))
		}
	}
	b.Write(le(0, 4))
	b.Write([]byte{0, 85, 170, 255})
	return b.Bytes()
}

// slowServer answers after delay: with body, or 404 when body is nil.
func slowServer(t *testing.T, delay time.Duration, body []byte) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if body == nil {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// Each step of a miss has its own time limit: a walk over several origins,
// each well within the fetch timeout, is not cut short however long it
// takes in all.
func TestOriginWalkNotCutShort(t *testing.T) {
	a, b := slowServer(t, 400*time.Millisecond, nil), slowServer(t, 400*time.Millisecond, nil)
	c := slowServer(t, 400*time.Millisecond, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("a", a.URL), webFolder("b", b.URL), webFolder("c", c.URL)))
	if r := e.get("/demo/tr:w-50/p.jpg"); r.Code != 200 {
		t.Fatalf("a 1.2 s walk over three origins (500 ms fetch timeout each): %d %s", r.Code, r.Header().Get("X-Pictor-Error"))
	}
}

// Should the whole miss's safety net ever run out, no origin is blamed:
// 503, not 504.
func TestWorkSafetyNetIsNotAnOriginTimeout(t *testing.T) {
	slow := slowServer(t, 400*time.Millisecond, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("o1", slow.URL)))
	e.h.flight.Timeout, e.h.originals.Timeout = 150*time.Millisecond, 150*time.Millisecond
	r := e.get("/demo/tr:w-50/p.jpg")
	if r.Code != http.StatusServiceUnavailable || r.Header().Get("Retry-After") == "" {
		t.Fatalf("work cut short by the safety net: %d %s, want 503 with Retry-After", r.Code, r.Header().Get("X-Pictor-Error"))
	}
}

// Headers the client sends that are not part of the key never shape what
// is cached. The origin here answers differently when any of them reaches
// it, and the edge's answer to a poisoned request — and to a clean one
// after it — is compared with what a fresh edge, never poisoned, renders.
func TestUnkeyedHeadersCannotPoison(t *testing.T) {
	clean, poison := photo(t, 400, 300), photo(t, 300, 400)
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"X-Forwarded-Host", "X-Original-Url", "Cookie", "Authorization", "X-Forwarded-For"} {
			if r.Header.Get(h) != "" {
				w.Write(poison)
				return
			}
		}
		w.Write(clean)
	}))
	t.Cleanup(org.Close)
	snap := oneAccount(3600, 3600, webFolder("o1", org.URL))
	const target = "/demo/tr:w-100/p.jpg"
	reference := newPolicyEdge(t, snap).get(target)
	e := newPolicyEdge(t, snap)
	poisoned := e.get(target, "X-Forwarded-Host", "evil.example", "X-Original-URL", "/other", "Cookie", "a=b",
		"Authorization", "Basic YTpi", "X-Forwarded-For", "10.0.0.1")
	after := e.get(target)
	expectCache(t, after, 200, "HIT-L1")
	for name, r := range map[string]*httptest.ResponseRecorder{"poisoned request": poisoned, "clean request after it": after} {
		if !bytes.Equal(r.Body.Bytes(), reference.Body.Bytes()) {
			t.Fatalf("%s: bytes differ from a fresh edge's rendering", name)
		}
	}
}

// Every image answer carries the headers of DESIGN §6, and those that come
// from config follow the config in force, on an entry cached before the
// change too.
func TestResponseHeadersFollowConfig(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	src := webFolder("o1", o.URL)
	src.IncludeCanonicalHeader, src.BaseUrlForCanonicalHeader = true, "https://www.example.com"
	snap := oneAccount(3600, 3600, src)
	e := newPolicyEdge(t, snap)
	const expose = "Content-Length, Content-Type, ETag, X-Cache, X-Request-Id, X-Pictor-Error, Server-Timing, Link, Content-DPR"
	miss := e.get("/demo/tr:w-50/p.jpg")
	hit := e.get("/demo/tr:w-50/p.jpg")
	for name, r := range map[string]*httptest.ResponseRecorder{"miss": miss, "hit": hit} {
		h := r.Header()
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Access-Control-Expose-Headers") != expose ||
			h.Get("Access-Control-Allow-Origin") != "*" || h.Get("X-Request-Id") == "" {
			t.Fatalf("%s: headers %v", name, h)
		}
		if st := h.Get("Server-Timing"); !bytes.HasPrefix([]byte(st), []byte("origin;dur=")) || !bytes.Contains([]byte(st), []byte("transform;dur=")) {
			t.Fatalf("%s: Server-Timing %q", name, st)
		}
		if l := h.Get("Link"); l != `<https://www.example.com/p.jpg>; rel="canonical"` {
			t.Fatalf("%s: Link %q", name, l)
		}
	}
	if miss.Header().Get("Server-Timing") == "origin;dur=0, transform;dur=0" {
		t.Fatal("a miss reports no origin or transform time")
	}
	// The canonical link is config: turning it off (or moving it) changes
	// the cached entry's answer at once.
	snap.Version = 11
	snap.Accounts[0].Origins[0].BaseUrlForCanonicalHeader = "https://cdn.example.org"
	e.tables.Store(mustTable(t, snap))
	if l := e.get("/demo/tr:w-50/p.jpg").Header().Get("Link"); l != `<https://cdn.example.org/p.jpg>; rel="canonical"` {
		t.Fatalf("after the base moved: Link %q", l)
	}
	snap.Version = 12
	snap.Accounts[0].Origins[0].IncludeCanonicalHeader = false
	e.tables.Store(mustTable(t, snap))
	r := e.get("/demo/tr:w-50/p.jpg")
	expectCache(t, r, 200, "HIT-L1")
	if l := r.Header().Get("Link"); l != "" {
		t.Fatalf("after turning it off: Link %q", l)
	}
	errAnswer := e.get("/demo/tr:w-abc/p.jpg")
	if errAnswer.Header().Get("X-Content-Type-Options") != "nosniff" || errAnswer.Header().Get("Access-Control-Expose-Headers") != expose {
		t.Fatalf("error answer headers %v", errAnswer.Header())
	}
}

// An origin that times out while a stale copy is at hand: the copy is
// served at once, and the timeout costs the refresh, not the client.
func TestStaleWhileOriginTimesOut(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(60, 3600, webFolder("o1", o.URL)))
	expectCache(t, e.get("/demo/tr:w-50/p.jpg"), 200, "MISS")
	o.set(func(o *scriptedOrigin) { o.delay = 700 * time.Millisecond }) // past the 500 ms fetch timeout
	e.advance(61 * time.Second)
	for range 2 {
		start := time.Now()
		r := e.get("/demo/tr:w-50/p.jpg")
		expectCache(t, r, 200, "STALE")
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("a stale answer waited %v for a timing-out origin", d)
		}
		waitFor(t, "the refresh to give up", func() bool { return e.h.refreshing.Len() == 0 })
	}
}

// A path on no origin with a default image (di-): the remembered miss of
// the path does not refuse the variant, which shows the default image, on
// an edge whose L1 lacks it too (the variant and the miss are read from
// Redis).
func TestDefaultImageOverRememberedMiss(t *testing.T) {
	redis := []string{redistest.Start(t)}
	jpg := photo(t, 60, 40)
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/default.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Write(jpg)
	}))
	t.Cleanup(org.Close)
	snap := oneAccount(3600, 3600, webFolder("o1", org.URL))
	a, b := newPolicyEdgeWithRedis(t, snap, redis), newPolicyEdgeWithRedis(t, snap, redis)
	const target = "/demo/tr:w-30,di-default.jpg/missing.jpg"
	expectCache(t, a.get(target), 200, "MISS")
	expectCache(t, b.get(target), 200, "HIT-L2")
	if r := b.get("/demo/tr:w-30/missing.jpg"); r.Code != 404 {
		t.Fatalf("without di-: %d", r.Code)
	}
}

// With an admission window, an original's bytes are cached only when it is
// fetched again within the window: a one-off costs no cache write.
func TestOriginalAdmission(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	e := newPolicyEdge(t, oneAccount(3600, 3600, webFolder("o1", o.URL)))
	e.h.SetLimits(Limits{OriginalAdmission: time.Minute})
	for i, w := range []int{50, 60, 70, 80} {
		expectCache(t, e.get(fmt.Sprintf("/demo/tr:w-%d/p.jpg", w)), 200, "MISS")
		want := min(int32(i+1), 2) // fetched, fetched again (now admitted), then cached
		if n := o.requests.Load(); n != want {
			t.Fatalf("after %d variants the origin was asked %d times, want %d", i+1, n, want)
		}
	}
}
