package delivery

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"pictor/services/edge/internal/panics"
)

// The fast front answers the one request a CDN sees most — a GET or HEAD of
// a variant that L1 holds fresh — on fasthttp, without building a net/http
// request. It parses with parseTarget, keys and checks purges with the same
// functions as render, writes the headers with setImageHeaders and records
// the response with served, so its answer is the net/http path's answer.
// Everything else (misses, L2 hits, stale or purged entries, errors,
// /healthz, /readyz, /metrics, other methods, absolute-form targets) goes
// to the net/http handler through an adaptor.

// FastHandler returns the fasthttp handler of the edge: L1 hits served
// directly, everything else by next (a net/http handler, normally h itself
// or h wrapped for tracing). With tracing, pass fast=false: the fast front
// starts no span, so every request must then go through next.
func (h *Handler) FastHandler(next http.Handler, fast bool) fasthttp.RequestHandler {
	fallback := fasthttpadaptor.NewFastHTTPHandler(detached(next))
	l1, ok := h.cache.(l1Cache)
	if !fast || !ok {
		return fallback
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !h.serveFast(ctx, l1) {
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

// serveFast answers ctx when it is a fresh L1 hit and reports whether it
// did; when it did not, nothing has been written.
func (h *Handler) serveFast(ctx *fasthttp.RequestCtx, l1 l1Cache) (served bool) {
	start := time.Now()
	head := ctx.IsHead()
	if !head && !ctx.IsGet() {
		return false
	}
	uri := ctx.Request.Header.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			panics.Recovered(h.log, panics.FastPath, p) // the full path answers instead
			ctx.Response.Reset()
			served = false
		}
	}()
	// Copies, not aliases: see detached.
	rawPath, rawQuery, _ := strings.Cut(string(uri), "?")
	if path, err := url.PathUnescape(rawPath); err != nil || isServicePath(path) {
		return false
	}
	host := ctx.Request.Header.Host()
	if len(host) == 0 {
		return false // net/http's rules for a missing Host apply
	}
	t := target{method: http.MethodGet, host: string(host), rawPath: rawPath, rawQuery: rawQuery,
		accept: string(ctx.Request.Header.Peek("Accept"))}
	if head {
		t.method = http.MethodHead
	}
	for _, v := range ctx.Request.Header.PeekAll("Via") {
		t.via = append(t.via, string(v))
	}
	req, err := h.parseTarget(t)
	if err != nil {
		return false // errors are answered, logged and counted on the full path
	}
	v, release := h.freshL1Hit(l1, req)
	if v == nil {
		return false
	}
	reqID := newRequestID()
	// setImageHeaders passes canonical keys and values without line breaks,
	// so fasthttp's per-header normalising is pure cost on this path.
	ctx.Response.Header.DisableNormalizing()
	hdr := fastHeader{&ctx.Response.Header}
	hdr.setHeader("X-Request-Id", []string{reqID})
	status := setImageHeaders(hdr, req, v, string(ctx.Request.Header.Peek("If-None-Match")))
	ctx.SetStatusCode(status)
	n := 0
	if status == http.StatusOK && !head {
		// The body is written after this handler returns, straight from
		// L1's memory; fasthttp closes the stream once it is written (or
		// the response is dropped), which lets go of the entry.
		ctx.Response.SetBodyStream(newL1Body(v.body, release), len(v.body))
		n = len(v.body)
	} else {
		release()
	}
	h.served(ctx, reqID, req, v, status, n, start)
	return true
}

// isServicePath reports the paths ServeHTTP answers itself.
func isServicePath(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// fastHeader is a headerSetter on a fasthttp response; image headers are
// single-valued.
type fastHeader struct{ h *fasthttp.ResponseHeader }

func (f fastHeader) setHeader(k string, v []string) { f.h.Set(k, v[0]) }

// l1Body streams an L1 entry's bytes to fasthttp and releases the entry
// when fasthttp closes it.
type l1Body struct {
	b       []byte
	off     int
	release func()
}

func newL1Body(b []byte, release func()) *l1Body { return &l1Body{b: b, release: release} }

func (r *l1Body) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo hands the whole body to the connection's writer in one call
// (fasthttp prefers it to Read).
func (r *l1Body) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.b[r.off:])
	r.off += n
	return int64(n), err
}

// Close releases the entry, once however often it is called: after it the
// reader no longer points at the entry's memory.
func (r *l1Body) Close() error {
	if r.release != nil {
		release := r.release
		r.b, r.release = nil, nil
		release()
	}
	return nil
}
