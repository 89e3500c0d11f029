package delivery

import (
	"github.com/valyala/fasthttp"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler rather than a recorder's buffer.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// BenchmarkCacheHit measures the edge's own work for an L1 hit: parse,
// resolve, key, lookup, headers. make bench measures it end to end.
func BenchmarkCacheHit(b *testing.B) {
	t := &testing.T{}
	o := newScriptedOrigin(t, photo(b, 400, 300))
	defer o.Close()
	f := newCacheFixture(t, o, nil, 0)
	if w := f.get("/demo/tr:w-300,h-200/p.jpg"); w.Code != 200 {
		b.Fatalf("warm-up: %d", w.Code)
	}
	r := httptest.NewRequest("GET", "/demo/tr:w-300,h-200/p.jpg", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := &discardWriter{h: make(http.Header, 16)}
		f.handler.ServeHTTP(w, r)
		if w.code != 200 {
			b.Fatal(w.code)
		}
	}
}

// BenchmarkFastHit measures the fasthttp front's work for an L1 hit.
func BenchmarkFastHit(b *testing.B) {
	t := &testing.T{}
	o := newScriptedOrigin(t, photo(b, 400, 300))
	defer o.Close()
	f := newCacheFixture(t, o, nil, 0)
	if w := f.get("/demo/tr:w-300,h-200/p.jpg"); w.Code != 200 {
		b.Fatalf("warm-up: %d", w.Code)
	}
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI("/demo/tr:w-300,h-200/p.jpg")
		ctx.Request.Header.SetHost("edge.example")
		if !f.handler.serveFast(&ctx) {
			b.Fatal("not served on the fast path")
		}
	}
}
