package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"pictor/services/controlplane/internal/httpapi"
)

const testIndex = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`

func dashboardAPI(t *testing.T, files fstest.MapFS) http.Handler {
	t.Helper()
	o := httpapi.Options{
		Log:             slog.New(slog.DiscardHandler),
		PublicEdgeURL:   "http://edge.example.com:8081/",
		SignupEnabled:   true,
		EgressAddresses: []string{"203.0.113.7", "2001:db8::/32"},
	}
	if files != nil {
		o.Dashboard = files
	}
	e, err := httpapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type dashResponse struct {
	status int
	header http.Header
	body   string
}

func dashGet(h http.Handler, method, target string, header ...string) dashResponse {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return dashResponse{rec.Code, rec.Result().Header, string(b)}
}

var dashFiles = fstest.MapFS{
	"index.html":              {Data: []byte(testIndex)},
	"assets/index-abc123.js":  {Data: []byte("console.log(1)")},
	"assets/index-def456.css": {Data: []byte("body{}")},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
}

// TestDashboardServesApp: the app shell at / and at every client-side
// route a browser navigates to, hashed assets cached for a year, the shell
// revalidated, security headers on everything the dashboard serves.
func TestDashboardServesApp(t *testing.T) {
	t.Parallel()
	h := dashboardAPI(t, dashFiles)
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

	for _, target := range []string{"/", "/index.html", "/origins", "/endpoints/abc", "/builder?endpoint=default"} {
		r := dashGet(h, "GET", target, "Accept", html)
		if r.status != 200 || r.body != testIndex || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %q %q", target, r.status, r.header.Get("Content-Type"), r.body)
		}
		if r.header.Get("Cache-Control") != "no-cache" || r.header.Get("ETag") == "" {
			t.Errorf("GET %s: Cache-Control %q ETag %q", target, r.header.Get("Cache-Control"), r.header.Get("ETag"))
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "img-src 'self' data: blob: http://edge.example.com:8081", "connect-src 'self' http://edge.example.com:8081", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", target, csp, want)
			}
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", target)
		}
	}
	// A page navigation without Accept (Sec-Fetch-Mode alone) is a page too.
	if r := dashGet(h, "GET", "/usage", "Sec-Fetch-Mode", "navigate"); r.status != 200 || r.body != testIndex {
		t.Fatalf("navigate /usage: %d", r.status)
	}

	r := dashGet(h, "GET", "/", "Accept", html)
	if r2 := dashGet(h, "GET", "/", "If-None-Match", r.header.Get("ETag")); r2.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r2.status)
	}
	if r := dashGet(h, "HEAD", "/"); r.status != 200 || r.body != "" {
		t.Fatalf("HEAD /: %d %q", r.status, r.body)
	}

	r = dashGet(h, "GET", "/assets/index-abc123.js")
	if r.status != 200 || r.body != "console.log(1)" || !strings.Contains(r.header.Get("Content-Type"), "javascript") {
		t.Fatalf("asset: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Fatalf("asset Cache-Control %q", got)
	}
	if r := dashGet(h, "GET", "/assets/index-def456.css"); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r := dashGet(h, "GET", "/favicon.svg"); r.status != 200 || r.header.Get("Cache-Control") != "no-cache" || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("favicon: %d %q %q", r.status, r.header.Get("Cache-Control"), r.header.Get("Content-Type"))
	}
	// Dot segments cannot climb out of the files.
	if r := dashGet(h, "GET", "/assets/../assets/index-abc123.js"); r.status != 200 {
		t.Fatalf("cleaned path: %d", r.status)
	}
}

// TestDashboardNeverShadowsAPI: the APIs and probes keep their JSON 404s
// and 405s; the shell is only for pages a browser navigates to.
func TestDashboardNeverShadowsAPI(t *testing.T) {
	t.Parallel()
	h := dashboardAPI(t, dashFiles)
	const html = "text/html"
	notFound := []struct{ method, target, accept string }{
		{"GET", "/v1/nope", html},
		{"GET", "/v1", html},
		{"GET", "/v1/accounts/nope", html},
		{"GET", "/admin/v1/nope", html},
		{"GET", "/admin", html},
		{"GET", "/healthz/x", html},
		{"GET", "/readyz/x", html},
		{"GET", "/nope", ""},                    // not a page request: curl, fetch, SDKs
		{"GET", "/nope", "application/json"},    // idem
		{"GET", "/assets/missing-000.js", html}, // a missing asset is never the shell
		{"POST", "/origins", html},              // only GET and HEAD
		{"DELETE", "/", html},
	}
	for _, tt := range notFound {
		r := dashGet(h, tt.method, tt.target, "Accept", tt.accept)
		if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s (Accept %q): %d %q %q, want a JSON 404", tt.method, tt.target, tt.accept, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := dashGet(h, "GET", "/healthz", "Accept", html); r.status != 200 || !strings.Contains(r.body, "ok") {
		t.Fatalf("/healthz: %d %q", r.status, r.body)
	}
	if r := dashGet(h, "DELETE", "/healthz"); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Fatalf("DELETE /healthz: %d Allow %q, want 405 Allow GET", r.status, r.header.Get("Allow"))
	}
	if r := dashGet(h, "GET", "/v1/auth/login", "Accept", html); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET /v1/auth/login: %d Allow %q, want 405 Allow POST", r.status, r.header.Get("Allow"))
	}
	if r := dashGet(h, "GET", "/v1/openapi.json", "Accept", html); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("/v1/openapi.json: %d %q", r.status, r.header.Get("Content-Type"))
	}
}

func TestDashboardConfig(t *testing.T) {
	t.Parallel()
	for _, files := range []fstest.MapFS{dashFiles, nil} {
		h := dashboardAPI(t, files)
		r := dashGet(h, "GET", "/v1/dashboard/config")
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"edgeUrl":         "http://edge.example.com:8081",
			"signupEnabled":   true,
			"egressAddresses": []any{"203.0.113.7", "2001:db8::/32"},
			"reqFromHeader":   "X-Req-From: pictor",
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Fatalf("config %s, want %s", gb, wb)
		}
	}
	// Without a dashboard the site root is the plain JSON 404 it always was.
	h := dashboardAPI(t, nil)
	if r := dashGet(h, "GET", "/", "Accept", "text/html"); r.status != 404 {
		t.Fatalf("no dashboard: GET / %d", r.status)
	}
	// No egress addresses configured: an empty list, never null.
	e, err := httpapi.New(httpapi.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if r := dashGet(e, "GET", "/v1/dashboard/config"); !strings.Contains(r.body, `"egressAddresses":[]`) || !strings.Contains(r.body, `"signupEnabled":false`) {
		t.Fatalf("defaults: %s", r.body)
	}
}
