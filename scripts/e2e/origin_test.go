package e2e

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"

	"pictor/services/internal/tlstest"
)

// The tests in this file check the origin fetch (DESIGN §5, RELIABILITY
// A–B) through a real edge process, each fault made by a test origin and
// observed as the client and the edge's log see it.

// TestOriginTLSCertificates: an HTTPS origin whose certificate fails
// verification is a 502 that names the TLS problem, and no request reaches
// the origin. The edge trusts only a test CA, so the expired and wrong-name
// certificates are otherwise valid: the "valid" case proves it.
func TestOriginTLSCertificates(t *testing.T) {
	ca := tlstest.NewCA(t, "pictor e2e CA")
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	const bad = "502 - origin o's TLS certificate is not valid"
	cases := []struct {
		name   string // also the account id
		cert   tlstest.Cert
		status int
		msg    string // X-Pictor-Error
	}{
		{name: "valid", cert: ca.Issue(t, tlstest.Leaf{IPs: loopback}), status: http.StatusOK},
		{name: "self-signed", cert: tlstest.New(t, "self-signed origin"),
			status: http.StatusBadGateway, msg: bad + ": not issued by a trusted authority"},
		{name: "expired", cert: ca.Issue(t, tlstest.Leaf{IPs: loopback,
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}),
			status: http.StatusBadGateway, msg: bad + ": expired or not yet valid"},
		{name: "wrong-name", cert: ca.Issue(t, tlstest.Leaf{IPs: []net.IP{net.IPv4(127, 0, 0, 2)}, DNSNames: []string{"images.example.com"}}),
			status: http.StatusBadGateway, msg: bad + ": issued for another host name"},
	}
	img := smallJPEG(t, 64, 48)
	servers, origins := map[string]*testOrigin{}, map[string]string{}
	for _, tc := range cases {
		servers[tc.name] = startOrigin(t, "127.0.0.1:0", tc.cert, serveImage(img))
		origins[tc.name] = servers[tc.name].URL
	}
	edge := startStandaloneEdge(t, append(caFiles(t, ca), "PICTOR_ALLOW_PRIVATE_ORIGINS=true"), origins)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, reason := edge.get(t, "/"+tc.name+"/photo.jpg")
			if r.status != tc.status || r.header.Get("X-Pictor-Error") != tc.msg {
				t.Fatalf("HTTP %d, X-Pictor-Error %q; want %d %q", r.status, r.header.Get("X-Pictor-Error"), tc.status, tc.msg)
			}
			if tc.status == http.StatusOK {
				return
			}
			if reason != "origin_tls" {
				t.Errorf("logged reason %q, want origin_tls", reason)
			}
			if n := servers[tc.name].requests.Load(); n != 0 {
				t.Errorf("%d requests reached the origin past a bad certificate", n)
			}
		})
	}
}

// TestOriginIgnoresProxyVariables: HTTP_PROXY, HTTPS_PROXY and their
// lower-case forms, set for the edge, do not route origin fetches through
// the proxy (the SSRF guard would then see only the proxy's address). Go
// never proxies loopback, so the origins live on another address of this
// machine, and the test first asserts Go's proxy selection would choose the
// proxy for them: a pass means the edge ignored the variables.
func TestOriginIgnoresProxyVariables(t *testing.T) {
	urlHost, listenHost := proxiedHost(t)
	t.Logf("origins at %s (listening on %s), proxy variables set for the edge", urlHost, listenHost)
	proxy := startOrigin(t, "127.0.0.1:0", tlstest.Cert{}, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "this proxy is a trap", http.StatusBadGateway)
	})
	ca := tlstest.NewCA(t, "pictor e2e CA")
	img := smallJPEG(t, 64, 48)
	listen := net.JoinHostPort(listenHost, "0")
	cases := []struct {
		name   string
		origin *testOrigin
	}{
		{name: "http", origin: startOrigin(t, listen, tlstest.Cert{}, serveImage(img))},
		{name: "https", origin: startOrigin(t, listen, ca.Issue(t, tlstest.Leaf{IPs: []net.IP{net.ParseIP(urlHost)}}), serveImage(img))},
	}
	choose := (&httpproxy.Config{HTTPProxy: proxy.URL, HTTPSProxy: proxy.URL}).ProxyFunc()
	origins := map[string]string{}
	for _, tc := range cases {
		// The origin listens on listenHost; the edge is given urlHost.
		_, port, _ := net.SplitHostPort(tc.origin.conns.Addr().String())
		u := &url.URL{Scheme: tc.name, Host: net.JoinHostPort(urlHost, port)}
		if p, err := choose(u); err != nil || p == nil || p.String() != proxy.URL {
			t.Fatalf("Go's proxy selection picks %v (%v) for %s, not the proxy: this test could not fail", p, err, u)
		}
		origins[tc.name+"-origin"] = u.String()
	}
	env := append(caFiles(t, ca), "PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL,
		"NO_PROXY=", "no_proxy=")
	edge := startStandaloneEdge(t, env, origins)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, reason := edge.get(t, "/"+tc.name+"-origin/photo.jpg")
			if r.status != http.StatusOK || tc.origin.requests.Load() != 1 {
				t.Errorf("HTTP %d (%s, reason %q), %d requests at the origin; want 200 and 1",
					r.status, r.header.Get("X-Pictor-Error"), reason, tc.origin.requests.Load())
			}
			if n := proxy.conns.accepted.Load(); n != 0 {
				t.Errorf("the proxy from HTTP(S)_PROXY received %d connections", n)
			}
		})
	}
}

// proxiedHost returns a host for origin URLs that Go's proxy selection
// does not exempt, and where to listen for it: a non-loopback address of
// this machine, or 0.0.0.0 (which Linux connects to the local host) when
// it has none.
func proxiedHost(t *testing.T) (urlHost, listenHost string) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), n.IP.String()
		}
	}
	return "0.0.0.0", "127.0.0.1"
}

// TestOriginSourceLimits: sources over the byte or pixel limit are 422.
// A declared Content-Length over the cap is refused before the body is
// read: the origin, offered 64 MiB, cannot write it all, because the edge
// closes the connection instead of reading (socket buffers take a few MB).
func TestOriginSourceLimits(t *testing.T) {
	const maxBytes, declared = 1 << 20, 64 << 20
	small, large := smallJPEG(t, 64, 48), smallJPEG(t, 200, 100) // 3,072 and 20,000 pixels
	var written atomic.Int64
	declaredDone := make(chan struct{})
	handlers := map[string]http.HandlerFunc{
		"within-limits": serveImage(small),
		"declared-too-large": func(w http.ResponseWriter, r *http.Request) {
			defer close(declaredDone)
			w.Header().Set("Content-Length", strconv.Itoa(declared))
			written.Add(int64(writeAll(w, small, declared)))
		},
		"chunked-too-large": func(w http.ResponseWriter, r *http.Request) {
			writeAll(w, small, 2*maxBytes) // no Content-Length: chunked
		},
		"too-many-pixels": serveImage(large),
	}
	cases := []struct {
		name   string // also the account id
		status int
		reason string
	}{
		{name: "within-limits", status: http.StatusOK},
		{name: "declared-too-large", status: http.StatusUnprocessableEntity, reason: "source_too_large"},
		{name: "chunked-too-large", status: http.StatusUnprocessableEntity, reason: "source_too_large"},
		{name: "too-many-pixels", status: http.StatusUnprocessableEntity, reason: "source_too_many_pixels"},
	}
	origins := map[string]string{}
	for name, h := range handlers {
		origins[name] = startOrigin(t, "127.0.0.1:0", tlstest.Cert{}, h).URL
	}
	edge := startStandaloneEdge(t, []string{"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		"PICTOR_MAX_SOURCE_BYTES=" + strconv.Itoa(maxBytes), "PICTOR_MAX_SOURCE_PIXELS=10000"}, origins)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, reason := edge.get(t, "/"+tc.name+"/photo.jpg")
			if r.status != tc.status || reason != tc.reason {
				t.Fatalf("HTTP %d (%s), reason %q; want %d %q", r.status, r.header.Get("X-Pictor-Error"), reason, tc.status, tc.reason)
			}
		})
	}
	t.Run("declared-too-large body not read", func(t *testing.T) {
		select {
		case <-declaredDone:
		case <-time.After(10 * time.Second):
			t.Fatal("the origin is still writing 10 s after the refusal: the edge kept the connection")
		}
		if n := written.Load(); n >= declared {
			t.Fatalf("the origin wrote all %d declared bytes: the edge read the body before refusing it", n)
		}
		t.Logf("the origin wrote %d of %d declared bytes before the edge closed the connection", written.Load(), declared)
	})
}

// writeAll writes img, then zero bytes up to total, 64 KiB at a time,
// until a write fails; it returns how many bytes were written.
func writeAll(w http.ResponseWriter, img []byte, total int) int {
	n, _ := w.Write(img)
	zeros := make([]byte, 64<<10)
	for n < total {
		m, err := w.Write(zeros[:min(len(zeros), total-n)])
		n += m
		if err != nil {
			break
		}
	}
	return n
}

// TestOriginGuardRefusesLocalAddresses: with PICTOR_ALLOW_PRIVATE_ORIGINS
// unset, origins at this machine's addresses, in any spelling, are refused
// when the edge dials them: 502, and no connection reaches the listener.
// A second edge with the guard lifted first fetches each origin, so the
// zero count shows a refused connection, not an unreachable listener.
func TestOriginGuardRefusesLocalAddresses(t *testing.T) {
	img := smallJPEG(t, 64, 48)
	cases := []struct {
		name, listen, host string // name is also the account id
	}{
		{name: "loopback-v4", listen: "127.0.0.1:0", host: "127.0.0.1"},
		// Linux connects 0.0.0.0 and :: to the local host (CVE-2025-24354).
		{name: "unspecified-v4", listen: "127.0.0.1:0", host: "0.0.0.0"},
		{name: "mapped-v4", listen: "127.0.0.1:0", host: "[::ffff:127.0.0.1]"},
		{name: "loopback-v6", listen: "[::1]:0", host: "[::1]"},
		{name: "unspecified-v6", listen: "[::1]:0", host: "[::]"},
		{name: "localhost", listen: "127.0.0.1:0", host: "localhost"},
	}
	servers, origins := map[string]*testOrigin{}, map[string]string{}
	for _, tc := range cases {
		servers[tc.name] = startOrigin(t, tc.listen, tlstest.Cert{}, serveImage(img))
		_, port, _ := net.SplitHostPort(servers[tc.name].conns.Addr().String())
		origins[tc.name] = "http://" + tc.host + ":" + port
	}
	open := startStandaloneEdge(t, []string{"PICTOR_ALLOW_PRIVATE_ORIGINS=true"}, origins)
	guarded := startStandaloneEdge(t, nil, origins)
	const blocked = "502 - origin o resolves to an address that is not allowed"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conns := &servers[tc.name].conns.accepted
			if r, _ := open.get(t, "/"+tc.name+"/photo.jpg"); r.status != http.StatusOK || conns.Load() != 1 {
				t.Fatalf("with the guard lifted: HTTP %d (%s), %d connections; want 200 and 1",
					r.status, r.header.Get("X-Pictor-Error"), conns.Load())
			}
			r, reason := guarded.get(t, "/"+tc.name+"/photo.jpg")
			if r.status != http.StatusBadGateway || r.header.Get("X-Pictor-Error") != blocked || reason != "origin_address_blocked" {
				t.Errorf("HTTP %d, X-Pictor-Error %q, reason %q; want %q, origin_address_blocked",
					r.status, r.header.Get("X-Pictor-Error"), reason, blocked)
			}
			if n := conns.Load() - 1; n != 0 {
				t.Errorf("%d connections reached %s under the guard", n, tc.host)
			}
		})
	}
}

// TestOriginRedirects: redirects are followed up to 3 hops and from http
// to https; a fourth hop, a hop to another scheme, or one from https down
// to http is a 502 that says why, and the http target is never contacted.
// The edge trusts a test CA so that its HTTPS origin is a valid one.
func TestOriginRedirects(t *testing.T) {
	ca := tlstest.NewCA(t, "pictor e2e CA")
	img := smallJPEG(t, 64, 48)
	plain := startOrigin(t, "127.0.0.1:0", tlstest.Cert{}, redirector(img))
	secure := startOrigin(t, "127.0.0.1:0", ca.Issue(t, tlstest.Leaf{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}), redirector(img))
	downgradeTarget := startOrigin(t, "127.0.0.1:0", tlstest.Cert{}, serveImage(img))
	to := func(target string) string { return "photo.jpg?to=" + url.QueryEscape(target) }
	cases := []struct {
		name   string // also the account id
		origin *testOrigin
		path   string
		status int
		msg    string // X-Pictor-Error
		reason string
	}{
		{name: "http-to-https", origin: plain, path: to(secure.URL + "/photo.jpg"), status: http.StatusOK},
		{name: "three-hops", origin: plain, path: "hops/3", status: http.StatusOK},
		{name: "four-hops", origin: plain, path: "hops/4", status: http.StatusBadGateway,
			msg: "502 - origin redirected more than 3 times", reason: "origin_too_many_redirects"},
		{name: "https-to-http", origin: secure, path: to(downgradeTarget.URL + "/photo.jpg"), status: http.StatusBadGateway,
			msg: "502 - origin redirected from https to http", reason: "origin_bad_redirect"},
		{name: "to-ftp", origin: plain, path: to("ftp://127.0.0.1/photo.jpg"), status: http.StatusBadGateway,
			msg: "502 - origin redirected to a non-HTTP URL", reason: "origin_bad_redirect"},
		{name: "to-file", origin: plain, path: to("file:///etc/passwd"), status: http.StatusBadGateway,
			msg: "502 - origin redirected to a non-HTTP URL", reason: "origin_bad_redirect"},
		{name: "to-gopher", origin: plain, path: to("gopher://127.0.0.1:70/1"), status: http.StatusBadGateway,
			msg: "502 - origin redirected to a non-HTTP URL", reason: "origin_bad_redirect"},
	}
	origins := map[string]string{}
	for _, tc := range cases {
		origins[tc.name] = tc.origin.URL
	}
	edge := startStandaloneEdge(t, append(caFiles(t, ca), "PICTOR_ALLOW_PRIVATE_ORIGINS=true"), origins)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, reason := edge.get(t, "/"+tc.name+"/"+tc.path)
			if r.status != tc.status || r.header.Get("X-Pictor-Error") != tc.msg || reason != tc.reason {
				t.Errorf("HTTP %d, X-Pictor-Error %q, reason %q; want %d %q %q",
					r.status, r.header.Get("X-Pictor-Error"), reason, tc.status, tc.msg, tc.reason)
			}
		})
	}
	if n := downgradeTarget.conns.accepted.Load(); n != 0 {
		t.Errorf("the http target of an https redirect received %d connections", n)
	}
}

// redirector redirects ?to=URL there, /hops/N to /hops/N-1 (N ≥ 1), and
// serves img otherwise.
func redirector(img []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hops/")); err == nil && n > 0 {
			http.Redirect(w, r, "/hops/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		serveImage(img)(w, r)
	}
}

// TestOriginTimeouts: an origin slower than PICTOR_ORIGIN_FETCH_TIMEOUT,
// to its first byte or through a trickled body, is a 504 once the timeout
// passes. Each slow origin would complete a valid image after 3 s, so a
// fetch without the deadline would answer 200, late.
func TestOriginTimeouts(t *testing.T) {
	const timeout, originTakes = 500 * time.Millisecond, 3 * time.Second
	img := smallJPEG(t, 64, 48)
	handlers := map[string]http.HandlerFunc{
		"prompt": serveImage(img),
		"slow-first-byte": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(originTakes):
			}
			serveImage(img)(w, r)
		},
		"trickled-body": func(w http.ResponseWriter, r *http.Request) { trickle(w, r, img, originTakes) },
	}
	cases := []struct {
		name   string // also the account id
		status int
		msg    string // X-Pictor-Error
		reason string
	}{
		{name: "prompt", status: http.StatusOK},
		{name: "slow-first-byte", status: http.StatusGatewayTimeout, msg: "504 - origin o timed out", reason: "origin_timeout"},
		{name: "trickled-body", status: http.StatusGatewayTimeout, msg: "504 - origin o timed out", reason: "origin_timeout"},
	}
	origins := map[string]string{}
	for name, h := range handlers {
		origins[name] = startOrigin(t, "127.0.0.1:0", tlstest.Cert{}, h).URL
	}
	edge := startStandaloneEdge(t, []string{"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		"PICTOR_ORIGIN_FETCH_TIMEOUT=" + timeout.String()}, origins)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r, reason := edge.get(t, "/"+tc.name+"/photo.jpg")
			took := time.Since(start)
			if r.status != tc.status || r.header.Get("X-Pictor-Error") != tc.msg || reason != tc.reason {
				t.Fatalf("HTTP %d, X-Pictor-Error %q, reason %q after %v; want %d %q %q",
					r.status, r.header.Get("X-Pictor-Error"), reason, took, tc.status, tc.msg, tc.reason)
			}
			// Well before the origin would finish, with room for a loaded machine.
			if took > originTakes-500*time.Millisecond {
				t.Errorf("answered after %v; the fetch timeout is %v", took, timeout)
			}
		})
	}
}

// trickle sends img with its Content-Length in 30 pieces spread over d,
// stopping when the client goes away.
func trickle(w http.ResponseWriter, r *http.Request, img []byte, d time.Duration) {
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	const pieces = 30
	size := (len(img) + pieces - 1) / pieces
	for rest := img; len(rest) > 0; rest = rest[min(size, len(rest)):] {
		if _, err := w.Write(rest[:min(size, len(rest))]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(d / pieces):
		}
	}
}
