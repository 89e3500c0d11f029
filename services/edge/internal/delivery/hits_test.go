package delivery

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"pictor/services/internal/signing"
)

// memoGet sends target to the fast front in process and reports whether
// the memo answered it.
func memoGet(h *Handler, target string, hdr ...string) (*fasthttp.RequestCtx, bool) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(target)
	ctx.Request.Header.SetHost("edge.example")
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	if h.serveMemoHit(&ctx) {
		return &ctx, true
	}
	h.serveFast(&ctx)
	return &ctx, false
}

func TestMemoHits(t *testing.T) {
	f := newFixture(t)
	h := f.handler.(*Handler)
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	h.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	key := "private_key_one"
	exp := strconv.FormatInt(clock.Load()+60, 10)
	signed := "/demo/secure/signed/pic.jpg?tr=w-100&ik-t=" + exp + "&ik-s=" + signing.Sign([]byte(key), "signed/pic.jpg?tr=w-100", exp)
	warm := func(target string, hdr ...string) {
		t.Helper()
		for i := 0; i < 2; i++ { // a miss, then the L1 hit that remembers
			if ctx, memo := memoGet(h, target, hdr...); memo || ctx.Response.StatusCode() != 200 {
				t.Fatalf("warming %s: status %d, memo %v", target, ctx.Response.StatusCode(), memo)
			}
		}
	}
	expectMemo := func(target string, want bool, status int, hdr ...string) *fasthttp.RequestCtx {
		t.Helper()
		ctx, memo := memoGet(h, target, hdr...)
		if memo != want || ctx.Response.StatusCode() != status {
			t.Fatalf("%s %v: memo %v status %d, want memo %v status %d", target, hdr, memo, ctx.Response.StatusCode(), want, status)
		}
		return ctx
	}

	t.Run("accept picks its own variant", func(t *testing.T) {
		warm("/demo/tr:w-120/photo.jpg")
		warm("/demo/tr:w-120/photo.jpg", "Accept", "image/webp,*/*")
		jpeg := expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
		webp := expectMemo("/demo/tr:w-120/photo.jpg", true, 200, "Accept", "image/webp,*/*")
		if a, b := string(jpeg.Response.Header.ContentType()), string(webp.Response.Header.ContentType()); a != "image/jpeg" || b != "image/webp" {
			t.Fatalf("content types %q and %q", a, b)
		}
		// Accept unlike any remembered one goes the whole way.
		expectMemo("/demo/tr:w-120/photo.jpg", false, 200, "Accept", "image/avif,*/*")
	})
	t.Run("conditional and proxied requests go the whole way", func(t *testing.T) {
		ctx := expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
		expectMemo("/demo/tr:w-120/photo.jpg", false, http.StatusNotModified, "If-None-Match", string(ctx.Response.Header.Peek("Etag")))
		expectMemo("/demo/tr:w-120/photo.jpg", false, http.StatusLoopDetected, "Via", "1.1 pictor")
	})
	t.Run("a new L1 entry gets new headers", func(t *testing.T) {
		before := expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
		hm := h.hits.lookup([]byte("edge.example"), []byte("/demo/tr:w-120/photo.jpg"), nil)
		e, held, ok := h.cache.ViewL1(hm.key)
		if !ok {
			t.Fatal("not in L1")
		}
		e.Body = append([]byte(nil), e.Body...)
		held.Release()
		e.ETag = `"replaced"`
		h.cache.Set(t.Context(), hm.key, &e)
		after := expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
		if b, a := string(before.Response.Header.Peek("Etag")), string(after.Response.Header.Peek("Etag")); a != `"replaced"` || b == a {
			t.Fatalf("ETag before %s, after %s", b, a)
		}
	})
	t.Run("signed URL until it expires", func(t *testing.T) {
		warm(signed)
		expectMemo(signed, true, 200)
		clock.Add(61)
		expectMemo(signed, false, http.StatusUnauthorized)
		clock.Add(-61)
	})
	t.Run("any new config forgets every memo", func(t *testing.T) {
		expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
		snap := f.snap
		snap.Version++
		f.tables.Store(mustTable(t, snap))
		expectMemo("/demo/tr:w-120/photo.jpg", false, 200) // an L1 hit: remembered again
		expectMemo("/demo/tr:w-120/photo.jpg", true, 200)
	})
	t.Run("a hit allocates nothing", func(t *testing.T) {
		memoGet(h, "/demo/tr:w-120/photo.jpg", "Accept", "image/webp,*/*") // remembered under this config
		var ctx fasthttp.RequestCtx
		allocs := testing.AllocsPerRun(200, func() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.SetRequestURI("/demo/tr:w-120/photo.jpg")
			ctx.Request.Header.SetHost("edge.example")
			ctx.Request.Header.Set("Accept", "image/webp,*/*")
			if !h.serveMemoHit(&ctx) {
				t.Fatal("not a memo hit")
			}
		})
		if allocs > 3 {
			t.Fatalf("%v allocations per hit, want at most 3", allocs)
		}
	})
}
