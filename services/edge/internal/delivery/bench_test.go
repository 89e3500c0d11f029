package delivery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valyala/fasthttp"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/routing"
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

// warmHitFixture is a cache fixture holding /demo/tr:w-300,h-200/p.jpg in
// L1; done closes its origin.
func warmHitFixture(b *testing.B) (*cacheFixture, func()) {
	t := &testing.T{}
	o := newScriptedOrigin(t, photo(b, 400, 300))
	f := newCacheFixture(t, o, nil, 0)
	if w := f.get("/demo/tr:w-300,h-200/p.jpg"); w.Code != 200 {
		b.Fatalf("warm-up: %d", w.Code)
	}
	return f, o.Close
}

// BenchmarkCacheHit measures the edge's own work for an L1 hit: parse,
// resolve, key, lookup, headers. make bench measures it end to end.
func BenchmarkCacheHit(b *testing.B) {
	f, done := warmHitFixture(b)
	defer done()
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
	f, done := warmHitFixture(b)
	defer done()
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

// BenchmarkHitPurgeRules measures an L1 hit on an account without purge
// rules and on one with 10,000 (half exact paths, half prefixes, none
// covering the image), as issue 17 asks: the rules are indexed, so the
// hit should cost the same (make bench-fleet compares the two).
func BenchmarkHitPurgeRules(b *testing.B) {
	for _, n := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			f, done := warmHitFixture(b)
			defer done()
			snap := f.snap
			snap.Version = 11
			snap.Purges = nil
			for i := range n {
				r := &configv1.PurgeRule{Id: fmt.Sprintf("p%d", i), AccountId: "demo", EndpointId: "ep", Path: fmt.Sprintf("other-%d.jpg", i), Version: 11}
				if i%2 == 1 {
					r.Path, r.Prefix = fmt.Sprintf("dir-%d/", i), true
				}
				snap.Purges = append(snap.Purges, r)
			}
			table, err := routing.Build(snap)
			if err != nil {
				b.Fatal(err)
			}
			f.tables.Store(table)
			r := httptest.NewRequest("GET", "/demo/tr:w-300,h-200/p.jpg", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := &discardWriter{h: make(http.Header, 16)}
				f.handler.ServeHTTP(w, r)
				if w.code != 200 || w.h.Get("X-Cache") != "HIT-L1" {
					b.Fatal(w.code, w.h.Get("X-Cache"))
				}
			}
		})
	}
}
