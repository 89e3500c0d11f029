package origin

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/edge/internal/membudget"
	"pictor/services/internal/errkind"
	"pictor/services/internal/netguard"
	"pictor/services/internal/sniff"
)

func testJPEG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 6)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func source(t testing.TB, id, raw string) Source {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return Source{ID: id, BaseURL: u}
}

func testConfig() Config {
	c := DefaultConfig()
	c.AllowPrivate = true
	c.FetchTimeout = 2 * time.Second
	c.MaxBodyBytes = 1 << 20
	return c
}

func TestFetchWalk(t *testing.T) {
	img := testJPEG(t)
	handlerFor := func(status int, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write(body)
		}
	}
	cases := []struct {
		name     string
		first    http.HandlerFunc
		second   http.HandlerFunc
		wantKind errkind.Kind // Internal = success
		wantFrom string
	}{
		{name: "first has it", first: handlerFor(200, img), second: handlerFor(200, img), wantFrom: "a"},
		{name: "404 moves on", first: handlerFor(404, nil), second: handlerFor(200, img), wantFrom: "b"},
		{name: "403 moves on", first: handlerFor(403, nil), second: handlerFor(200, img), wantFrom: "b"},
		{name: "410 moves on", first: handlerFor(410, nil), second: handlerFor(200, img), wantFrom: "b"},
		{name: "all missing", first: handlerFor(404, nil), second: handlerFor(410, nil), wantKind: errkind.NotFound},
		{name: "500 stops the walk", first: handlerFor(500, nil), second: handlerFor(200, img), wantKind: errkind.BadGateway},
		{name: "html is not an image", first: handlerFor(200, []byte("<html><body>hi</body></html>")), second: handlerFor(200, img), wantKind: errkind.BadGateway},
		{name: "empty body", first: handlerFor(200, nil), second: handlerFor(200, img), wantKind: errkind.BadGateway},
		// A declared Content-Length is checked before the body is read; without
		// it net/http would send this body chunked, the other path.
		{name: "content-length over cap", first: func(w http.ResponseWriter, r *http.Request) {
			body := append(img, make([]byte, 2<<20)...)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}, wantKind: errkind.Unprocessable},
		{name: "chunked body over cap", first: func(w http.ResponseWriter, r *http.Request) {
			w.Write(img)
			w.(http.Flusher).Flush()
			w.Write(make([]byte, 2<<20))
		}, wantKind: errkind.Unprocessable},
		{name: "short body", first: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.Write(img)
		}, wantKind: errkind.BadGateway},
		{name: "slow first byte", first: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}, wantKind: errkind.Timeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := httptest.NewServer(tc.first)
			defer a.Close()
			srcs := []Source{source(t, "a", a.URL)}
			if tc.second != nil {
				b := httptest.NewServer(tc.second)
				defer b.Close()
				srcs = append(srcs, source(t, "b", b.URL))
			}
			res, err := New(testConfig()).Fetch(context.Background(), Request{Sources: srcs, ImagePath: "x.jpg"})
			if tc.wantKind != errkind.Internal {
				if errkind.KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, errkind.KindOf(err), tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SourceID != tc.wantFrom || res.Format != sniff.JPEG {
				t.Fatalf("got source %s format %s, want %s jpeg", res.SourceID, res.Format, tc.wantFrom)
			}
		})
	}
}

func TestFetchHeadersSent(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	var host, uri string
	img := testJPEG(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, host, uri = r.Header.Clone(), r.Host, r.RequestURI
		mu.Unlock()
		w.Write(img)
	}))
	defer srv.Close()

	src := source(t, "a", srv.URL+"/base/")
	f := New(testConfig())
	if _, err := f.Fetch(context.Background(), Request{Sources: []Source{src}, ImagePath: "a%20b/c.jpg", ForwardQuery: "v=2", ClientHost: "images.example.com"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Req-From") != "pictor" || !strings.HasPrefix(got.Get("User-Agent"), "pictor-edge/") || got.Get("Via") != "1.1 pictor" {
		t.Fatalf("missing Pictor headers: %v", got)
	}
	for _, h := range []string{"Cookie", "Authorization", "X-Forwarded-For", "X-Forwarded-Host"} {
		if got.Get(h) != "" {
			t.Fatalf("%s forwarded to origin", h)
		}
	}
	if uri != "/base/a%20b/c.jpg?v=2" {
		t.Fatalf("origin saw %q", uri)
	}
	if host != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("Host = %q, want the base URL's host", host)
	}

	src.ForwardHostHeader = true
	if _, err := f.Fetch(context.Background(), Request{Sources: []Source{src}, ImagePath: "c.jpg", ClientHost: "images.example.com"}); err != nil {
		t.Fatal(err)
	}
	if host != "images.example.com" {
		t.Fatalf("Host = %q, want the forwarded client host", host)
	}
}

// TestFetchRedirects: up to MaxRedirects hops are followed; one more, or a
// hop to a scheme other than HTTP(S), stops the fetch with a reason that
// says so (Go's own refusal of such schemes would say "unreachable").
// https→http is checked against an edge process in scripts/e2e, where the
// edge can be made to trust a test HTTPS origin.
func TestFetchRedirects(t *testing.T) {
	img := testJPEG(t)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		// /hops/N redirects N more times, then serves the image.
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hops/"))
		if err != nil || n == 0 {
			w.Write(img)
			return
		}
		http.Redirect(w, r, srv.URL+"/hops/"+strconv.Itoa(n-1), http.StatusFound)
	}))
	defer srv.Close()
	cases := []struct {
		name, path, reason string // reason "": the image arrives
	}{
		{name: "three hops followed", path: "hops/3"},
		{name: "four hops refused", path: "hops/4", reason: "origin_too_many_redirects"},
		{name: "to ftp refused", path: "x.jpg?to=ftp://example.com/x.jpg", reason: "origin_bad_redirect"},
		{name: "to file refused", path: "x.jpg?to=file:///etc/passwd", reason: "origin_bad_redirect"},
		{name: "to gopher refused", path: "x.jpg?to=gopher://127.0.0.1:70/", reason: "origin_bad_redirect"},
	}
	f := New(testConfig())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, query, _ := strings.Cut(tc.path, "?")
			_, err := f.Fetch(context.Background(), Request{Sources: []Source{source(t, "a", srv.URL)}, ImagePath: path, ForwardQuery: query})
			if tc.reason == "" && err != nil || tc.reason != "" && (errkind.KindOf(err) != errkind.BadGateway || errkind.Reason(err) != tc.reason) {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
		})
	}
}

// TestFetchBadCertificate: an origin whose certificate fails verification
// is a 502 that names the TLS problem, and no request reaches it.
// httptest's certificate is signed by no authority the system trusts; the
// expired and wrong-name faults need an edge told to trust a test CA
// (scripts/e2e TestOriginTLSCertificates).
func TestFetchBadCertificate(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	_, err := New(testConfig()).Fetch(context.Background(), Request{Sources: []Source{source(t, "a", srv.URL)}, ImagePath: "x.jpg"})
	if errkind.KindOf(err) != errkind.BadGateway || errkind.Reason(err) != "origin_tls" ||
		errkind.SafeMessage(err) != "origin a's TLS certificate is not valid: not issued by a trusted authority" {
		t.Fatalf("err = %v (message %q), want origin_tls", err, errkind.SafeMessage(err))
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the origin", n)
	}
}

func TestCachePolicy(t *testing.T) {
	cases := []struct {
		name                        string
		hdr                         http.Header
		shareable, private, noStore bool
		maxAge                      time.Duration
	}{
		{"nothing", http.Header{}, true, false, false, -1},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=600"}}, true, false, false, 600 * time.Second},
		{"s-maxage wins", http.Header{"Cache-Control": {"max-age=60, s-maxage=120"}}, true, false, false, 120 * time.Second},
		{"private", http.Header{"Cache-Control": {"private, max-age=60"}}, false, true, false, 60 * time.Second},
		{"no-store", http.Header{"Cache-Control": {"no-store"}}, false, false, true, -1},
		{"set-cookie", http.Header{"Set-Cookie": {"a=b"}}, false, true, false, -1},
		{"bad max-age", http.Header{"Cache-Control": {"max-age=soon"}}, true, false, false, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, p, n, m := cachePolicy(tc.hdr)
			if s != tc.shareable || p != tc.private || n != tc.noStore || m != tc.maxAge {
				t.Fatalf("cachePolicy = %v %v %v %v; want %v %v %v %v", s, p, n, m, tc.shareable, tc.private, tc.noStore, tc.maxAge)
			}
		})
	}
}

func TestFetchFaults(t *testing.T) {
	img := testJPEG(t)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		kind    errkind.Kind
		reason  string
	}{
		{name: "trickled body hits the whole-fetch deadline", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.Write(img[:10])
			for i := 0; i < 100; i++ {
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				w.Write([]byte{0})
			}
		}, kind: errkind.Timeout, reason: "origin_timeout"},
		{name: "connection reset", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			conn.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			conn.Close()
		}, kind: errkind.BadGateway},
		{name: "reset after headers", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
			buf.Write(img[:100])
			buf.Flush()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}, kind: errkind.BadGateway},
		{name: "content type lies", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("<html>error page</html>"))
		}, kind: errkind.BadGateway, reason: "origin_not_image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			cfg := testConfig()
			cfg.FetchTimeout = 500 * time.Millisecond
			_, err := New(cfg).Fetch(context.Background(), Request{Sources: []Source{source(t, "a", srv.URL)}, ImagePath: "x.jpg"})
			if errkind.KindOf(err) != tc.kind || tc.reason != "" && errkind.Reason(err) != tc.reason {
				t.Fatalf("err = %v (kind %v, reason %s), want %v %s", err, errkind.KindOf(err), errkind.Reason(err), tc.kind, tc.reason)
			}
		})
	}
}

// TestGuardChecksEveryHop: the first hop is allowed, the redirect target is
// not; the check runs on the address being dialled, for every hop.
func TestGuardChecksEveryHop(t *testing.T) {
	private, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	var privateHits atomic.Int32
	ps := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { privateHits.Add(1) })}
	go ps.Serve(private)
	defer ps.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+private.Addr().String()+"/secret", http.StatusFound)
	}))
	defer public.Close()

	cfg := testConfig()
	cfg.AllowPrivate = false
	cfg.Guard = func(ip netip.Addr) string {
		if ip == netip.MustParseAddr("127.0.0.1") {
			return "" // stands in for a public address
		}
		return netguard.Check(ip)
	}
	_, err = New(cfg).Fetch(context.Background(), Request{Sources: []Source{source(t, "a", public.URL)}, ImagePath: "x.jpg"})
	if errkind.Reason(err) != "origin_address_blocked" || privateHits.Load() != 0 {
		t.Fatalf("redirect to a private address: err = %v, private server hit %d times", err, privateHits.Load())
	}
	// A web proxy's URL is guarded the same way, first hop and redirects.
	proxy := []Source{{ID: "p", Proxy: true}}
	for _, target := range []string{"http://" + private.Addr().String() + "/x.jpg", public.URL + "/x.jpg"} {
		_, err = New(cfg).Fetch(context.Background(), Request{Sources: proxy, ImagePath: target})
		if errkind.Reason(err) != "origin_address_blocked" || privateHits.Load() != 0 {
			t.Fatalf("proxied %s: err = %v, private server hit %d times", target, err, privateHits.Load())
		}
	}
}

// TestTransportIgnoresProxyEnvironment: the transport has no Proxy
// function, so HTTP_PROXY and friends cannot route a fetch through a proxy
// (whose address is all the dialer's guard would then see). This checks
// the transport rather than a fetch: http.ProxyFromEnvironment reads the
// environment once per process, so t.Setenv cannot reliably reach it, and
// Go never proxies the loopback origins a package test can run. The
// behaviour is checked against an edge process with the variables set and
// a non-loopback origin in scripts/e2e (TestOriginIgnoresProxyVariables).
func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	tr, ok := New(testConfig()).client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", New(testConfig()).client.Transport)
	}
	if tr.Proxy != nil {
		t.Fatal("the origin transport has a Proxy function")
	}
}

// A body's bytes are leased before they are read: its Content-Length up
// front, or chunk by chunk when there is none; a body the budget can never
// hold is refused, and nothing stays leased after a failure.
func TestBodyLeased(t *testing.T) {
	body := append(testJPEG(t), bytes.Repeat([]byte{0}, 600<<10)...) // a JPEG with a long tail
	cases := []struct {
		name    string
		chunked bool
		budget  int64
		maxBody int64
		reason  string
	}{
		{name: "content-length", budget: 4 << 20, maxBody: 40 << 20},
		{name: "chunked", chunked: true, budget: 4 << 20, maxBody: 40 << 20},
		{name: "content-length over the budget", budget: 64 << 10, maxBody: 40 << 20, reason: "memory_over_budget"},
		{name: "chunked over the budget", chunked: true, budget: 300 << 10, maxBody: 40 << 20, reason: "memory_over_budget"},
		{name: "chunked over the source cap", chunked: true, budget: 4 << 20, maxBody: 300 << 10, reason: "source_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				for b := body; len(b) > 0; {
					n := min(len(b), 64<<10)
					w.Write(b[:n])
					w.(http.Flusher).Flush() // without Content-Length: chunked
					b = b[n:]
				}
			}))
			defer srv.Close()
			budget := membudget.New(tc.budget, 50*time.Millisecond)
			cfg := testConfig()
			cfg.Memory, cfg.MaxBodyBytes = budget, tc.maxBody
			res, err := New(cfg).Fetch(context.Background(), Request{Sources: []Source{source(t, "o", srv.URL)}, ImagePath: "a.jpg"})
			if tc.reason != "" {
				if errkind.Reason(err) != tc.reason {
					t.Fatalf("err = %v, want %s", err, tc.reason)
				}
				if budget.InUse() != 0 {
					t.Fatalf("%d bytes leased after the refusal", budget.InUse())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Body, body) || res.Lease.Held() != int64(len(body)) || budget.InUse() != int64(len(body)) {
				t.Fatalf("body %d bytes, lease %d, in use %d; want %d each", len(res.Body), res.Lease.Held(), budget.InUse(), len(body))
			}
			if budget.Peak() < int64(len(body)) {
				t.Fatalf("peak lease %d below the body", budget.Peak())
			}
			res.Lease.Release()
		})
	}
}

// TestWebProxy: a web-proxy origin fetches absolute image paths, only from
// its allowed hosts, redirects included; the other origins serve relative
// paths, each kind skipping the other's.
func TestWebProxy(t *testing.T) {
	img := testJPEG(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if r.URL.Path == "/missing.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Write(img)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byName := fmt.Sprintf("http://localhost:%d", port)
	proxy := func(id string, hosts ...string) Source { return Source{ID: id, Proxy: true, AllowedHosts: hosts} }
	folder := source(t, "folder", srv.URL)
	for _, tc := range []struct {
		name    string
		sources []Source
		path    string
		query   string
		from    string // the source that answers, or "" for an error
		reason  string
	}{
		{name: "allowed host", sources: []Source{folder, proxy("p", "localhost")}, path: byName + "/a.jpg", from: "p"},
		{name: "relative path skips the proxy", sources: []Source{proxy("p"), folder}, path: "a.jpg", from: "folder"},
		{name: "no list: any host", sources: []Source{proxy("p")}, path: srv.URL + "/a.jpg", from: "p"},
		{name: "host not allowed", sources: []Source{proxy("p", "images.example.com", "*.localhost")}, path: byName + "/a.jpg", reason: "proxy_host_not_allowed"},
		{name: "redirect to a host not allowed", sources: []Source{proxy("p", "localhost")}, path: byName + "/a.jpg",
			query: "to=" + srv.URL + "/a.jpg", reason: "origin_redirect_host"},
		{name: "redirect within the list", sources: []Source{proxy("p", "localhost")}, path: byName + "/a.jpg",
			query: "to=" + byName + "/b.jpg", from: "p"},
		{name: "missing walks to the next proxy", sources: []Source{proxy("p1"), proxy("p2")}, path: srv.URL + "/missing.jpg", reason: "not_found"},
		{name: "absolute path without a proxy", sources: []Source{folder}, path: srv.URL + "/a.jpg", reason: "no_proxy_origin"},
		{name: "relative path with only a proxy", sources: []Source{proxy("p")}, path: "a.jpg", reason: "no_origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := New(testConfig()).Fetch(context.Background(), Request{Sources: tc.sources, ImagePath: tc.path, ForwardQuery: tc.query})
			if tc.reason != "" {
				if errkind.Reason(err) != tc.reason {
					t.Fatalf("err = %v, want reason %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SourceID != tc.from {
				t.Fatalf("served by %s, want %s", res.SourceID, tc.from)
			}
		})
	}
}
