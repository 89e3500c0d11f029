package delivery

import (
	"net/http/httptest"
	"testing"
)

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
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("GET", "/demo/tr:w-300,h-200/p.jpg", nil)
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
