package delivery

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/panics"
	"pictor/services/internal/imgurl"
)

// The fast front serves image requests (GET and HEAD of an image path) on
// fasthttp, without building a net/http request or copying a response:
// an L1 hit is written straight from L1's memory, any other body from the
// variant every response for it shares. It serves with serve, like the
// net/http handler, so its answer is the net/http path's answer. What is
// left (/healthz, /readyz, /metrics, other methods, absolute-form
// targets, a missing Host) goes to the net/http handler through an
// adaptor, which buffers and copies; so does everything when tracing is
// on, so that every request gets its span.

// FastHandler returns the fasthttp handler of the edge: image requests
// served directly, everything else by next (a net/http handler, normally h
// itself or h wrapped for tracing). With tracing, pass fast=false: the fast
// front starts no span, so every request must then go through next.
func (h *Handler) FastHandler(next http.Handler, fast bool) fasthttp.RequestHandler {
	fallback := fasthttpadaptor.NewFastHTTPHandler(detached(next))
	if !fast {
		return fallback
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !h.serveFast(ctx) {
			fallback(ctx)
		}
	}
}

// detached hands next a request whose strings are its own: the adaptor's
// request aliases fasthttp's connection buffers, which are reused once the
// handler returns, while the edge keeps request strings beyond that
// (coalesced work outlives its first caller; the parse memo keeps keys).
// Its context is not cancelled by shutdown either, as with net/http.
func detached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// fasthttp's RequestCtx, the adaptor's context, is cancelled when
		// shutdown starts; net/http's is not, and in-flight requests drain.
		c := *r.WithContext(context.WithoutCancel(r.Context()))
		c.Method = strings.Clone(r.Method)
		c.Proto = strings.Clone(r.Proto)
		c.Host = strings.Clone(r.Host)
		c.RequestURI = strings.Clone(r.RequestURI)
		c.RemoteAddr = strings.Clone(r.RemoteAddr)
		u, err := url.ParseRequestURI(c.RequestURI)
		if err != nil {
			http.Error(w, "bad request target", http.StatusBadRequest)
			return
		}
		c.URL = u
		c.Header = make(http.Header, len(r.Header))
		for k, vv := range r.Header {
			cv := make([]string, len(vv))
			for i, v := range vv {
				cv[i] = strings.Clone(v)
			}
			c.Header[strings.Clone(k)] = cv
		}
		c.TransferEncoding = nil
		for _, te := range r.TransferEncoding {
			c.TransferEncoding = append(c.TransferEncoding, strings.Clone(te))
		}
		next.ServeHTTP(w, &c)
	})
}

// serveFast answers ctx when it is an image request and reports whether
// it did; when it did not, nothing has been written.
func (h *Handler) serveFast(ctx *fasthttp.RequestCtx) bool {
	if h.serveMemoHit(ctx) {
		return true
	}
	t, ok := fastTarget(ctx)
	if !ok {
		return false
	}
	reqID := newRequestID()
	// serve passes canonical keys and values without line breaks, so
	// fasthttp's per-header normalising is pure cost here.
	ctx.Response.Header.DisableNormalizing()
	out := fastResponder{ctx}
	defer func() {
		if p := recover(); p != nil {
			ctx.Response.Reset() // lets go of a body it was given
			ctx.Response.Header.DisableNormalizing()
			writeErrorTo(out, t.method, reqID, panics.Recovered(h.log.With("request_id", reqID), panics.FastPath, p))
		}
	}()
	out.setHeader("X-Request-Id", []string{reqID})
	// Not ctx: fasthttp cancels a request's context when shutdown starts
	// (net/http does not, and in-flight requests drain), and never when
	// the client goes; nor does it carry a span.
	h.serve(context.Background(), reqID, t, out)
	return true
}

// fastTarget reads an image request off ctx, or reports that it is not one
// the fast front serves. Strings are copies, not aliases of fasthttp's
// buffers: see detached.
func fastTarget(ctx *fasthttp.RequestCtx) (target, bool) {
	head := ctx.IsHead()
	if !head && !ctx.IsGet() {
		return target{}, false
	}
	uri := ctx.Request.Header.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		return target{}, false
	}
	rawURI := string(uri)
	rawPath, rawQuery, _ := strings.Cut(rawURI, "?")
	if path, err := url.PathUnescape(rawPath); err != nil || isServicePath(path) {
		return target{}, false
	}
	host := ctx.Request.Header.Host()
	if len(host) == 0 {
		return target{}, false // net/http's rules for a missing Host apply
	}
	t := target{method: http.MethodGet, host: string(host), uri: rawURI, rawPath: rawPath, rawQuery: rawQuery,
		accept: string(ctx.Request.Header.Peek("Accept")), ifNoneMatch: string(ctx.Request.Header.Peek("If-None-Match")),
		hints: imgurl.Hints{Width: firstOf(string(ctx.Request.Header.Peek("Sec-CH-Width")), string(ctx.Request.Header.Peek("Width"))),
			DPR: firstOf(string(ctx.Request.Header.Peek("Sec-CH-DPR")), string(ctx.Request.Header.Peek("DPR")))}}
	if head {
		t.method = http.MethodHead
	}
	for _, v := range ctx.Request.Header.PeekAll("Via") {
		t.via = append(t.via, string(v))
	}
	return t, true
}

// isServicePath reports the paths ServeHTTP answers itself.
func isServicePath(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// fastResponder is the fast front's responder. Bodies are streamed from
// the memory they live in, L1's or the shared variant's: fasthttp writes
// them after the handler returns and closes the stream once written (or
// dropped), which releases them.
type fastResponder struct{ ctx *fasthttp.RequestCtx }

// setHeader: image headers are single-valued.
func (f fastResponder) setHeader(k string, v []string) { f.ctx.Response.Header.Set(k, v[0]) }

func (f fastResponder) send(status int, body []byte, release cache.Releaser) {
	f.ctx.SetStatusCode(status)
	switch {
	case body == nil:
		if release != nil {
			release.Release()
		}
	case release == nil:
		f.ctx.Response.SetBodyRaw(body) // immutable, and not leased
	default:
		f.ctx.Response.SetBodyStream(heldBodyOf(body, release), len(body))
	}
}

// heldBody streams bytes someone holds for the response (an L1 entry, a
// leased variant) to fasthttp and lets go of them when fasthttp closes it.
type heldBody struct {
	b       []byte
	off     int
	release cache.Releaser
}

func (r *heldBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo hands the whole body to the connection's writer in one call
// (fasthttp prefers it to Read).
func (r *heldBody) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.b[r.off:])
	r.off += n
	return int64(n), err
}

// Close releases the bytes and recycles r: fasthttp closes a body stream
// once, after writing it or when dropping it, and forgets it.
func (r *heldBody) Close() error {
	if r.release != nil {
		release := r.release
		r.b, r.release = nil, nil
		release.Release()
		heldBodies.Put(r)
	}
	return nil
}
