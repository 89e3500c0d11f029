package delivery

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/signing"
)

// testOrigin is a real HTTP origin on 127.0.0.1 that records what it is asked.
type testOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	files    map[string][]byte
}

func (o *testOrigin) hits() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.requests)
}

func (o *testOrigin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[len(o.requests)-1]
}

func newTestOrigin(t *testing.T, files map[string][]byte) *testOrigin {
	o := &testOrigin{files: files}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.requests = append(o.requests, r.Clone(r.Context()))
		o.mu.Unlock()
		body, ok := o.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

func photo(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 99, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type fixture struct {
	handler http.Handler
	origin  *testOrigin
	tables  *routing.Holder
	snap    *configv1.Snapshot
	store   *cache.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := cache.DefaultConfig()
	cfg.L1Bytes = 64 << 20
	return newFixtureWithCache(t, cfg)
}

func dejavuSerif(t *testing.T) []byte {
	b, err := os.ReadFile("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
	if err != nil {
		t.Fatalf("%v (the bootstrap installs fonts-dejavu-core)", err)
	}
	return b
}

func newFixtureWithCache(t *testing.T, cacheCfg cache.Config) *fixture {
	t.Helper()
	jpg := photo(t, 600, 400)
	org := newTestOrigin(t, map[string][]byte{
		"/img/photo.jpg":       jpg,
		"/img/dir/a b.jpg":     jpg,
		"/img/default.jpg":     photo(t, 60, 40),
		"/img/page.html":       []byte("<!doctype html><html><body>not an image</body></html>"),
		"/img/vector.svg":      []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
		"/img/signed/pic.jpg":  jpg,
		"/img/query/photo.jpg": jpg,
		"/img/brand/logo.png":  bluePNG(t, 40, 20),
		"/img/fonts/Brand.ttf": dejavuSerif(t),
		"/img/fonts/Fake.ttf":  bluePNG(t, 4, 4),
	})
	snap := &configv1.Snapshot{
		Version: 3,
		Accounts: []*configv1.Account{
			{
				Id: "demo", Status: "active", DefaultQuality: 80,
				Keys: []*configv1.SigningKey{{Id: "k1", Secret: "private_key_one"}},
				Origins: []*configv1.Origin{
					{Id: "o1", Type: "WEB_FOLDER", Name: "web", BaseUrl: org.URL + "/img", IncludeCanonicalHeader: true,
						BaseUrlForCanonicalHeader: "https://www.example.com"},
					{Id: "px", Type: "WEB_PROXY", Name: "proxy", AllowedHosts: []string{"localhost"}, IncludeCanonicalHeader: true},
				},
				Endpoints: []*configv1.Endpoint{
					{Id: "ep-default", OriginIds: []string{"o1"}},
					{Id: "ep-secure", UrlPrefix: "secure", OriginIds: []string{"o1"}, RestrictUnsignedUrls: true},
					{Id: "ep-proxy", UrlPrefix: "proxy", OriginIds: []string{"px", "o1"}},
				},
				NamedTransformations: []*configv1.NamedTransformation{{Name: "small", Transformation: "w-50", Enabled: true}},
			},
			{Id: "frozen", Status: "suspended", Endpoints: []*configv1.Endpoint{{Id: "f"}}},
		},
	}
	table, err := routing.Build(snap)
	if err != nil {
		t.Fatal(err)
	}
	var holder routing.Holder
	holder.Store(table)
	cfg := origin.DefaultConfig()
	cfg.AllowPrivate = true
	cfg.FetchTimeout = 5 * time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 8, QueueWait: time.Second, Deadline: 10 * time.Second}, log)
	store, err := cache.New(cacheCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &fixture{handler: New(&holder, origin.New(cfg), engine, store, log), origin: org, tables: &holder, store: store, snap: snap}
}

func (f *fixture) do(method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func decodeSize(t *testing.T, body []byte) (int, int) {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return cfg.Width, cfg.Height
}

func TestServeImage(t *testing.T) {
	f := newFixture(t)
	key := "private_key_one"
	signedPath := "/demo/secure/signed/pic.jpg?tr=w-100"
	sig := signing.Sign([]byte(key), "signed/pic.jpg?tr=w-100", "")
	cases := []struct {
		name        string
		method      string
		target      string
		hdr         map[string]string
		status      int
		width       int // checked when > 0
		contentType string
		errHas      string
		headers     map[string]string
	}{
		{name: "path transformation", target: "/demo/tr:w-300/photo.jpg", status: 200, width: 300, contentType: "image/jpeg",
			headers: map[string]string{"X-Cache": "MISS", "Cache-Control": "public, max-age=31536000", "Access-Control-Allow-Origin": "*", "Vary": "Accept"}},
		{name: "query transformation", target: "/demo/photo.jpg?tr=w-200", status: 200, width: 200},
		{name: "path then query chained", target: "/demo/tr:w-400/photo.jpg?tr=w-100", status: 200, width: 100},
		{name: "no transformation", target: "/demo/photo.jpg", status: 200, width: 600},
		{name: "named transformation", target: "/demo/tr:n-small/photo.jpg", status: 200, width: 50},
		{name: "escaped path", target: "/demo/tr:w-10/dir/a%20b.jpg", status: 200, width: 10},
		{name: "webp negotiated", target: "/demo/tr:w-100/photo.jpg", hdr: map[string]string{"Accept": "image/webp,*/*"}, status: 200, contentType: "image/webp"},
		{name: "explicit png no vary", target: "/demo/tr:w-100,f-png/photo.jpg", status: 200, contentType: "image/png"},
		{name: "attachment", target: "/demo/photo.jpg?ik-attachment=true", status: 200,
			headers: map[string]string{"Content-Disposition": `attachment; filename="photo.jpg"`}},
		{name: "canonical link", target: "/demo/photo.jpg", status: 200,
			headers: map[string]string{"Link": `<https://www.example.com/photo.jpg>; rel="canonical"`}},
		{name: "original bytes", target: "/demo/tr:orig-true/photo.jpg", status: 200, width: 600, contentType: "image/jpeg"},
		{name: "default image", target: "/demo/tr:w-30,di-default.jpg/missing.jpg", status: 200, width: 30},
		{name: "head", method: "HEAD", target: "/demo/tr:w-300/photo.jpg", status: 200},
		{name: "expression", target: "/demo/tr:w-iw_div_3/photo.jpg", status: 200, width: 200},
		{name: "image layer", target: "/demo/tr:w-300,l-image,i-brand@@logo.png,w-20,l-end/photo.jpg", status: 200, width: 300},
		{name: "text layer", target: "/demo/tr:w-300,l-text,i-Hello%20World,fs-20,l-end/photo.jpg", status: 200, width: 300},
		{name: "original with a layer", target: "/demo/tr:orig-true,l-text,i-x,l-end/photo.jpg", status: 400, errHas: "orig-true"},
		{name: "layer image missing", target: "/demo/tr:l-image,i-nope.png,l-end/photo.jpg", status: 404, errHas: "layer image nope.png"},
		{name: "layer image not an image", target: "/demo/tr:l-image,i-page.html,l-end/photo.jpg", status: 502, errHas: "layer image page.html"},
		{name: "text in the account's font", target: "/demo/tr:w-300,l-text,i-Hello,fs-20,ff-fonts@@Brand.ttf,l-end/photo.jpg", status: 200, width: 300},
		{name: "layer font missing", target: "/demo/tr:l-text,i-Hello,ff-fonts@@Gone.ttf,l-end/photo.jpg", status: 404, errHas: "layer font fonts/Gone.ttf"},
		{name: "layer font not a font", target: "/demo/tr:l-text,i-Hello,ff-fonts@@Fake.ttf,l-end/photo.jpg", status: 400, errHas: "layer font fonts/Fake.ttf: font file: not a TrueType"},
		{name: "a font as the image", target: "/demo/tr:w-100/fonts/Brand.ttf", status: 422},
		{name: "layer in a conditional", target: "/demo/tr:w-300,if-iw_gt_100,l-image,i-brand@@logo.png,w-20,l-end,if-end/photo.jpg", status: 200, width: 300},
		{name: "chained conditional", target: "/demo/tr:if-iar_gt_1,w-120:rt-90,if-end/photo.jpg", status: 200, width: 80},
		{name: "conditional", target: "/demo/tr:if-iar_gt_1,w-120,if-else,w-60,if-end/photo.jpg", status: 200, width: 120},
		{name: "expression impossible for this image", target: "/demo/tr:w-iw_sub_ih_mul_2/photo.jpg", status: 400, errHas: `"w"`},

		{name: "missing", target: "/demo/tr:w-300/nope.jpg", status: 404, errHas: "not found"},
		{name: "bad width", target: "/demo/tr:w-abc/photo.jpg", status: 400, errHas: `"w"`},
		{name: "unknown parameter", target: "/demo/photo.jpg?tr=zz-1", status: 400, errHas: `"zz"`},
		{name: "unsupported layer", target: "/demo/tr:l-video,i-clip.mp4,l-end/photo.jpg", status: 400, errHas: "unsupported"},
		{name: "unknown named", target: "/demo/tr:n-nope/photo.jpg", status: 400, errHas: "nope"},
		{name: "unknown account", target: "/nobody/photo.jpg", status: 404},
		{name: "reserved account", target: "/admin/photo.jpg", status: 404},
		{name: "suspended", target: "/frozen/photo.jpg", status: 403},
		{name: "method", method: "POST", target: "/demo/photo.jpg", status: 405, headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "loop", target: "/demo/photo.jpg", hdr: map[string]string{"Via": "1.1 pictor"}, status: 508},
		{name: "dot dot", target: "/demo/a/../photo.jpg", status: 400},
		{name: "encoded dot dot", target: "/demo/a/%2e%2e/photo.jpg", status: 400},
		{name: "not an image", target: "/demo/page.html", status: 502},
		{name: "svg refused", target: "/demo/vector.svg", status: 422},
		{name: "unsigned on restricted", target: "/demo/secure/signed/pic.jpg", status: 401},
		{name: "signed on restricted", target: signedPath + "&ik-s=" + sig, status: 200, width: 100},
		{name: "tampered signature", target: signedPath + "&ik-s=" + strings.Repeat("0", 40), status: 401},
		{name: "wrong signature on open endpoint", target: "/demo/photo.jpg?ik-s=" + strings.Repeat("a", 40), status: 401},
		{name: "expired", target: "/demo/photo.jpg?ik-t=1000&ik-s=" + signing.Sign([]byte(key), "photo.jpg", "1000"), status: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			w := f.do(method, tc.target, tc.hdr)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %q; error %q", w.Code, tc.status, w.Body.String(), w.Header().Get("X-Pictor-Error"))
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
			for k, v := range tc.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.status >= 400 {
				if !strings.Contains(w.Header().Get("X-Pictor-Error"), tc.errHas) {
					t.Fatalf("X-Pictor-Error %q does not contain %q", w.Header().Get("X-Pictor-Error"), tc.errHas)
				}
				return
			}
			if tc.contentType != "" && w.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("Content-Type = %q, want %q", w.Header().Get("Content-Type"), tc.contentType)
			}
			if method == "HEAD" {
				if w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
					t.Fatalf("HEAD: body %d bytes, Content-Length %q", w.Body.Len(), w.Header().Get("Content-Length"))
				}
				return
			}
			if tc.width > 0 {
				if gw, _ := decodeSize(t, w.Body.Bytes()); gw != tc.width {
					t.Fatalf("width = %d, want %d", gw, tc.width)
				}
			}
		})
	}
}

func TestNothingReachesOriginOnRefusal(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/nobody/photo.jpg", "/demo/a/../photo.jpg", "/demo/a/%2e%2e/x.jpg", "/demo/tr:w-abc/photo.jpg", "/demo/secure/signed/pic.jpg"} {
		f.do("GET", target, nil)
	}
	if n := f.origin.hits(); n != 0 {
		t.Fatalf("origin received %d requests for refused URLs", n)
	}
}

func TestOriginRequest(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/demo/query/photo.jpg?v=2&tr=w-10", map[string]string{
		"Cookie": "session=secret", "Authorization": "Bearer x", "X-Forwarded-Host": "evil.example",
	})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	r := f.origin.last()
	if r.URL.RawQuery != "v=2" {
		t.Fatalf("origin query = %q, want the forwarded v=2 only", r.URL.RawQuery)
	}
	for _, h := range []string{"Cookie", "Authorization", "X-Forwarded-Host"} {
		if r.Header.Get(h) != "" {
			t.Fatalf("%s reached the origin", h)
		}
	}
	if r.Header.Get("X-Req-From") != "pictor" {
		t.Fatal("X-Req-From missing")
	}
}

func TestConditionalRequest(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/demo/tr:w-50/photo.jpg", nil)
	etag := w.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	w = f.do("GET", "/demo/tr:w-50/photo.jpg", map[string]string{"If-None-Match": etag})
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Fatalf("status %d with %d bytes, want 304 and no body", w.Code, w.Body.Len())
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var empty routing.Holder
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(&empty, nil, nil, nil, log)
	for _, tc := range []struct {
		target string
		status int
	}{{"/healthz", 200}, {"/readyz", 503}, {"/demo/photo.jpg", 503}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.target, nil))
		if w.Code != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.target, w.Code, tc.status)
		}
		if tc.status == 503 && tc.target != "/readyz" && w.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", tc.target)
		}
	}
	f := newFixture(t)
	if w := f.do("GET", "/readyz", nil); w.Code != 200 {
		t.Fatalf("readyz with config: %d", w.Code)
	}
}

// TestPanicIsContained: a bug in a step is answered 500 and the process
// keeps serving. It resets the 500 counter TestMain checks, since this is
// the one deliberate 500.
func TestPanicIsContained(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(panicTables{}, nil, nil, nil, log)
	before := internalErrors.Load()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/demo/x.jpg", nil))
	if w.Code != 500 || w.Header().Get("X-Request-Id") == "" {
		t.Fatalf("status %d, want 500 with a request id", w.Code)
	}
	if strings.Contains(w.Body.String(), "boom") {
		t.Fatal("panic text leaked to the client")
	}
	internalErrors.Store(before)
}

type panicTables struct{}

func (panicTables) Load() *routing.Table { panic("boom") }

func bluePNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i+2], img.Pix[i+3] = 255, 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
