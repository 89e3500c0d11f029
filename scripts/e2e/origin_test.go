package e2e

import (
	"net"
	"net/http"
	"net/url"
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
