package delivery

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/signing"
)

// frontPair serves one handler twice over real TCP: through net/http and
// through the fast front, counting the requests the fast front handed to
// net/http.
type frontPair struct {
	net, fast string
	fallbacks atomic.Int64
}

func newFrontPair(t *testing.T, h *Handler) *frontPair {
	t.Helper()
	p := &frontPair{}
	ns := httptest.NewServer(h)
	t.Cleanup(ns.Close)
	p.net = ns.URL
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fallbacks.Add(1)
		h.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fasthttp.Server{Handler: h.FastHandler(counted, true), NoDefaultServerHeader: true,
		ReadTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ReadBufferSize: 64 << 10, CloseOnShutdown: true}
	go fs.Serve(ln)
	t.Cleanup(func() { fs.Shutdown() })
	p.fast = "http://" + ln.Addr().String()
	return p
}

type reply struct {
	status int
	header http.Header
	body   string
}

func fetch(t *testing.T, method, url string, hdr map[string]string) reply {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// sameReply asserts the fast front answered exactly as net/http did: status,
// body and every header but the per-request ones.
func sameReply(t *testing.T, want, got reply) {
	t.Helper()
	want.header, got.header = want.header.Clone(), got.header.Clone() // deleted from below
	// Error bodies quote the request id, which is per request.
	want.body = strings.ReplaceAll(want.body, want.header.Get("X-Request-Id"), "ID")
	got.body = strings.ReplaceAll(got.body, got.header.Get("X-Request-Id"), "ID")
	if got.status != want.status || got.body != want.body {
		t.Fatalf("fast front: status %d, %d body bytes; net/http: %d, %d bytes", got.status, len(got.body), want.status, len(want.body))
	}
	for _, k := range []string{"X-Request-Id", "Date"} {
		if got.header.Get(k) == "" {
			t.Errorf("fast front: no %s", k)
		}
		want.header.Del(k)
		got.header.Del(k)
	}
	for k, v := range want.header {
		if g := got.header[k]; strings.Join(g, "\n") != strings.Join(v, "\n") {
			t.Errorf("header %s: fast %q, net/http %q", k, g, v)
		}
	}
	for k, v := range got.header {
		if _, ok := want.header[k]; !ok {
			t.Errorf("fast front adds header %s: %q", k, v)
		}
	}
}

// TestFastFrontMatchesNetHTTP replays TestServeImage's requests through both
// fronts: each is sent to net/http twice (warming the cache), then to the
// fast front, which must answer every image request itself (hits, misses,
// refusals) identically, and hand probes and other methods to net/http.
func TestFastFrontMatchesNetHTTP(t *testing.T) {
	f := newFixture(t)
	h := f.handler.(*Handler)
	p := newFrontPair(t, h)
	key := "private_key_one"
	signedPath := "/demo/secure/signed/pic.jpg?tr=w-100"
	sig := signing.Sign([]byte(key), "signed/pic.jpg?tr=w-100", "")
	webp := map[string]string{"Accept": "image/webp,*/*"}
	cases := []struct {
		method, target string
		hdr            map[string]string
		hit            bool // an L1 hit once warm
	}{
		{"GET", "/demo/tr:w-300/photo.jpg", nil, true},
		{"GET", "/demo/photo.jpg?tr=w-200", nil, true},
		{"GET", "/demo/tr:w-400/photo.jpg?tr=w-100", nil, true},
		{"GET", "/demo/photo.jpg", nil, true},
		{"GET", "/demo/tr:n-small/photo.jpg", nil, true},
		{"GET", "/demo/tr:w-10/dir/a%20b.jpg", nil, true},
		{"GET", "/demo/tr:w-100/photo.jpg", webp, true},
		{"GET", "/demo/tr:w-100,f-png/photo.jpg", nil, true},
		{"GET", "/demo/photo.jpg?ik-attachment=true", nil, true},
		{"GET", "/demo/tr:orig-true/photo.jpg", nil, true},
		{"GET", "/demo/tr:w-30,di-default.jpg/missing.jpg", nil, true},
		{"HEAD", "/demo/tr:w-300/photo.jpg", nil, true},
		{"GET", signedPath + "&ik-s=" + sig, nil, true},
		{"GET", "/demo/tr:w-300/nope.jpg", nil, false},
		{"GET", "/demo/tr:w-abc/photo.jpg", nil, false},
		{"GET", "/demo/photo.jpg?tr=zz-1", nil, false},
		{"GET", "/demo/tr:l-text,i-hi,l-end/photo.jpg", nil, false},
		{"GET", "/demo/tr:n-nope/photo.jpg", nil, false},
		{"GET", "/nobody/photo.jpg", nil, false},
		{"GET", "/admin/photo.jpg", nil, false},
		{"GET", "/frozen/photo.jpg", nil, false},
		{"POST", "/demo/photo.jpg", nil, false},
		{"HEAD", "/demo/tr:w-abc/photo.jpg", nil, false},
		{"GET", "/demo/photo.jpg", map[string]string{"Via": "1.1 pictor"}, false},
		{"GET", "/demo/a/../photo.jpg", nil, false},
		{"GET", "/demo/a/%2e%2e/photo.jpg", nil, false},
		{"GET", "/demo/page.html", nil, false},
		{"GET", "/demo/vector.svg", nil, false},
		{"GET", "/demo/secure/signed/pic.jpg", nil, false},
		{"GET", signedPath + "&ik-s=" + strings.Repeat("0", 40), nil, false},
		{"GET", "/demo/photo.jpg?ik-s=" + strings.Repeat("a", 40), nil, false},
		{"GET", "/demo/photo.jpg?ik-t=1000&ik-s=" + signing.Sign([]byte(key), "photo.jpg", "1000"), nil, false},
		{"GET", "/healthz", nil, false},
		{"GET", "/readyz", nil, false},
		{"GET", "/heal%74hz", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			fetch(t, tc.method, p.net+tc.target, tc.hdr) // warm: a miss at most once
			want := fetch(t, tc.method, p.net+tc.target, tc.hdr)
			before := p.fallbacks.Load()
			got := fetch(t, tc.method, p.fast+tc.target, tc.hdr)
			sameReply(t, want, got)
			// Again: a hit is now answered from its memo (hits.go), alike.
			sameReply(t, want, fetch(t, tc.method, p.fast+tc.target, tc.hdr))
			wantFast := tc.method != "POST" && tc.target != "/healthz" && tc.target != "/readyz" && tc.target != "/heal%74hz"
			if fast := p.fallbacks.Load() == before; fast != wantFast {
				t.Fatalf("served by the fast front: %v, want %v (X-Cache %q)", fast, wantFast, got.header.Get("X-Cache"))
			}
			if tc.hit && got.header.Get("X-Cache") != "HIT-L1" {
				t.Fatalf("X-Cache %q", got.header.Get("X-Cache"))
			}
			if etag := want.header.Get("Etag"); tc.hit && etag != "" {
				// 304 on If-None-Match, from both fronts alike.
				cond := map[string]string{"If-None-Match": etag}
				for k, v := range tc.hdr {
					cond[k] = v
				}
				w304, g304 := fetch(t, tc.method, p.net+tc.target, cond), fetch(t, tc.method, p.fast+tc.target, cond)
				if g304.status != http.StatusNotModified {
					t.Fatalf("If-None-Match: status %d", g304.status)
				}
				sameReply(t, w304, g304)
			}
		})
	}
}

// TestFastFrontCacheTiers runs the cache tier sequence through the fast
// front: a miss, then hits under equivalent spellings, a new variant, a
// busted key, a purge; usage and metrics see the fast front's responses.
func TestFastFrontCacheTiers(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	f := newCacheFixture(t, o, nil, 0)
	rec := &recordedUsage{}
	obs := &countingObserver{}
	f.handler.Usage, f.handler.Observer = rec, obs
	p := newFrontPair(t, f.handler)
	get := func(target, xcache string) reply {
		t.Helper()
		before := p.fallbacks.Load()
		r := fetch(t, "GET", p.fast+target, nil)
		if r.status != 200 || r.header.Get("X-Cache") != xcache {
			t.Fatalf("%s: status %d X-Cache %q, want 200 %q", target, r.status, r.header.Get("X-Cache"), xcache)
		}
		if p.fallbacks.Load() != before {
			t.Fatalf("%s: handed to net/http", target)
		}
		return r
	}
	get("/demo/tr:w-300,h-200/p.jpg", "MISS")
	get("/demo/tr:h-200,w-300/p.jpg", "HIT-L1")
	hit := get("/demo/p.jpg?tr=w-300,h-200", "HIT-L1")
	sameReply(t, fetch(t, "GET", p.net+"/demo/p.jpg?tr=w-300,h-200", nil), hit)
	get("/demo/tr:w-100/p.jpg", "MISS")
	get("/demo/tr:w-100/p.jpg?v=2", "MISS")
	get("/demo/tr:w-100/p.jpg?v=2", "HIT-L1")
	get("/demo/tr:w-100/p.jpg?v=2", "HIT-L1") // from the memo
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want 2", n)
	}
	events := rec.take()
	if len(events) != 8 || events[7].CacheStatus != "HIT-L1" || events[7].Bytes == 0 || events[7].AccountID != "demo" {
		t.Fatalf("usage events: %+v", events)
	}
	if n := obs.hits.Load(); n != 5 { // four fast hits, one net/http hit
		t.Fatalf("observer saw %d HIT-L1 responses, want 4", n)
	}
	// A purge: the purged entry is not served.
	snap := f.snap
	snap.Version = 11
	snap.Purges = []*configv1.PurgeRule{{Id: "p1", AccountId: "demo", EndpointId: "ep", Path: "p.jpg", Version: 11}}
	f.tables.Store(mustTable(t, snap))
	get("/demo/tr:w-100/p.jpg?v=2", "MISS")
	get("/demo/tr:w-100/p.jpg?v=2", "HIT-L1")
}

type countingObserver struct{ hits atomic.Int64 }

func (c *countingObserver) Response(e ResponseEvent) {
	if e.CacheStatus == "HIT-L1" {
		c.hits.Add(1)
	}
}
