package delivery

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestWebProxyOrigin: on an endpoint with a WEB_PROXY origin the image path
// may be an absolute URL, in any of the spellings ImageKit takes, fetched
// from the allowed hosts only; relative paths go to the endpoint's other
// origins, and an endpoint without a proxy serves no absolute URL.
func TestWebProxyOrigin(t *testing.T) {
	f := newFixture(t)
	port := strconv.Itoa(f.origin.Listener.Addr().(*net.TCPAddr).Port)
	photo := "http://localhost:" + port + "/img/photo.jpg"
	for _, tc := range []struct {
		name   string
		target string
		status int
		width  int
		cache  string // X-Cache, when set
		errHas string
	}{
		{name: "plain URL", target: "/demo/proxy/tr:w-100/" + photo, status: 200, width: 100, cache: "MISS"},
		{name: "its '//' merged: the same entry", target: "/demo/proxy/tr:w-100/http:/localhost:" + port + "/img/photo.jpg", status: 200, width: 100, cache: "HIT"},
		{name: "percent-encoded whole: the same entry", target: "/demo/proxy/tr:w-100/" + url.QueryEscape(photo), status: 200, width: 100, cache: "HIT"},
		{name: "query transformation", target: "/demo/proxy/" + photo + "?tr=w-120", status: 200, width: 120},
		{name: "upper-case scheme and host", target: "/demo/proxy/tr:w-100/HTTP://LOCALHOST:" + port + "/img/photo.jpg", status: 200, width: 100, cache: "HIT"},
		{name: "host not allowed", target: "/demo/proxy/tr:w-100/http://127.0.0.1:" + port + "/img/photo.jpg", status: 403, errHas: "allowed hosts"},
		{name: "missing on the proxied host", target: "/demo/proxy/tr:w-100/http://localhost:" + port + "/img/nope.jpg", status: 404},
		{name: "relative path: the endpoint's web server", target: "/demo/proxy/tr:w-100/photo.jpg", status: 200, width: 100},
		{name: "no proxy on the endpoint", target: "/demo/tr:w-100/" + photo, status: 404, errHas: "web-proxy"},
		{name: "no host", target: "/demo/proxy/tr:w-100/http:///img/photo.jpg", status: 400, errHas: "http(s) URL"},
		{name: "user in the URL", target: "/demo/proxy/tr:w-100/" + url.QueryEscape("http://u:p@localhost:"+port+"/img/photo.jpg"), status: 400, errHas: "http(s) URL"},
		{name: "query inside the encoded URL", target: "/demo/proxy/tr:w-100/" + url.QueryEscape(photo+"?a=1"), status: 400, errHas: "query"},
		{name: "dot segments", target: "/demo/proxy/tr:w-100/http://localhost:" + port + "/img/../photo.jpg", status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("GET", tc.target, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.errHas != "" && !strings.Contains(w.Body.String(), tc.errHas) {
				t.Fatalf("body %q, want it to say %q", w.Body, tc.errHas)
			}
			if tc.width > 0 {
				if got, _ := decodeSize(t, w.Body.Bytes()); got != tc.width {
					t.Fatalf("width %d, want %d", got, tc.width)
				}
			}
			if tc.cache != "" && !strings.HasPrefix(w.Header().Get("X-Cache"), tc.cache) {
				t.Fatalf("X-Cache %q, want %q", w.Header().Get("X-Cache"), tc.cache)
			}
			if tc.status == 200 && strings.Contains(tc.target, "localhost") {
				if link := w.Header().Get("Link"); link != `<`+photo+`>; rel="canonical"` {
					t.Fatalf("Link %q, want the proxied URL", link)
				}
			}
		})
	}
}

// FuzzProxiedURL: any path reads as a relative path, a 400, or one
// absolute http(s) URL that reads back as itself.
func FuzzProxiedURL(f *testing.F) {
	for _, s := range []string{"photo.jpg", "http://localhost:8080/img/photo.jpg", "http:/localhost/a.jpg",
		"https%3A%2F%2Fexample.com%2Fa%2520b.jpg", "HTTP://EXAMPLE.COM", "http:///x", "https://u@h/x", "http://h/a?b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := proxiedURL(p)
		if err != nil {
			return
		}
		lower := strings.ToLower(got)
		if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			if got != p {
				t.Fatalf("relative %q came back as %q", p, got)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("proxiedURL(%q) = %q: not a usable URL", p, got)
		}
		if again, err := proxiedURL(got); err != nil || again != got {
			t.Fatalf("proxiedURL(%q) = %q, then %q, %v", p, got, again, err)
		}
	})
}
