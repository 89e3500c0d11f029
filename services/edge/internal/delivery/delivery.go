// Package delivery is the edge's HTTP front: it turns one image request into
// a response along a straight line — parse the URL, resolve the tenant and
// URL-endpoint, verify the signature, fetch the original, transform it,
// respond — and maps every failure to the status table of DESIGN §6.
//
// Each step is a package of its own behind a small interface declared here,
// so this file reads as the request path and nothing else.
package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"pictor/services/edge/internal/admission"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/coalesce"
	"pictor/services/edge/internal/freshness"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/panics"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
)

// Tables gives the routing table in force; nil until a config is loaded.
type Tables interface {
	Load() *routing.Table
}

// Fetcher fetches originals from an endpoint's origins.
type Fetcher interface {
	Fetch(ctx context.Context, req origin.Request) (*origin.Result, error)
}

// Transformer renders variants.
type Transformer interface {
	Transform(ctx context.Context, req transform.Request) (*transform.Result, error)
}

// Cache is the two-tier cache of originals and variants.
type Cache interface {
	// ViewL1 reads L1 alone, in place: e.Body is the cache's own memory,
	// valid until release.
	ViewL1(key string) (e cache.Entry, held cache.Releaser, ok bool)
	// Get reads L1, then L2; the entry is the caller's own copy.
	Get(ctx context.Context, key string) (*cache.Entry, cache.Tier)
	Set(ctx context.Context, key string, e *cache.Entry)
	Delete(ctx context.Context, key string)
}

// Handler serves images plus /healthz and /readyz.
type Handler struct {
	tables    Tables
	fetcher   Fetcher
	transform Transformer
	cache     Cache
	flight    coalesce.Share[*variant]
	originals coalesce.Share[*originalResult]
	// refreshing runs background refreshes of stale originals, one per
	// original; recentRefreshes holds the originals refreshed (or tried)
	// in the last refreshBackoff, which are not tried again.
	refreshing      coalesce.Background
	recentRefreshes *otter.Cache[string, struct{}]
	// seenOriginals holds the originals fetched once within the admission
	// window (Limits.OriginalAdmission); nil admits every original.
	seenOriginals *otter.Cache[string, struct{}]
	limits        Limits
	misses        *admission.Gate // nil: misses are not bounded
	// transformations memoises parsing: a CDN sees the same few thousand
	// transformation strings over and over.
	transformations *parseMemo
	// hits remembers recent L1 hits of the fast front (hits.go).
	hits *hitMemos
	log  *slog.Logger
	now  func() time.Time

	// Usage, when set, counts every image response per account.
	Usage UsageRecorder
	// Observer, when set, sees every image response (metrics).
	Observer Observer
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
}

// Observer receives one event per image response. It is called on the
// request path and must not block.
type Observer interface {
	Response(ResponseEvent)
}

// ResponseEvent describes one image response, with bounded label values
// only: no paths, no accounts.
type ResponseEvent struct {
	Status      int
	CacheStatus string // HIT-L1, HIT-L2, MISS, STALE; "" for errors
	Reason      string // the error's reason for refusals, "" on success
	Kind        errkind.Kind
	Bytes       int
	Total       time.Duration
	Origin      time.Duration // 0 when the origin was not asked
	Transform   time.Duration // 0 when nothing was transformed
}

// workSafetyNet bounds a miss's detached work only to catch a bug: every
// step has its own limit (the wait for a place, each origin's fetch
// timeout, the memory waits, the transform queue and deadline), so a miss
// that walks several origins, or revalidates and then refetches, is never
// cut short by a sum that did not foresee it. Should it fire, the answer is
// 503 (origin.classify), not a 504 blaming an origin.
const workSafetyNet = 5 * time.Minute

// New returns the edge's HTTP handler.
func New(tables Tables, fetcher Fetcher, transformer Transformer, c Cache, log *slog.Logger) *Handler {
	workTimeout := workSafetyNet
	h := &Handler{tables: tables, fetcher: fetcher, transform: transformer, cache: c, log: log, now: time.Now,
		transformations: newParseMemo(4096), hits: newHitMemos()}
	h.flight.Timeout = workTimeout
	h.originals.Timeout = workTimeout
	h.refreshing.Timeout = workTimeout
	h.recentRefreshes = otter.Must(&otter.Options[string, struct{}]{MaximumSize: 100_000,
		ExpiryCalculator: otter.ExpiryWriting[string, struct{}](refreshBackoff)})
	h.flight.OnPanic = func(p any) error { return panics.Recovered(log, panics.CoalescedWork, p) }
	h.flight.Cleanup = func(v *variant) { v.lease.Release() }
	h.originals.OnPanic = func(p any) error { return panics.Recovered(log, panics.OriginalFetch, p) }
	h.originals.Cleanup = (*originalResult).release
	return h
}

// Limits bound what misses may hold. The zero Limits bounds nothing.
type Limits struct {
	// MaxMisses is how many variants may be in production at once:
	// fetching their original, waiting for a transform worker or
	// transforming. Up to MissQueue more wait at most MissWait for a place,
	// before fetching anything; the rest are refused with 503. Like
	// imgproxy's workers, a place is taken before the download: a request
	// that would only wait behind others holds no body while it waits.
	MaxMisses int
	MissQueue int
	MissWait  time.Duration
	// Memory leases the bytes of originals read from the cache; ObjectCap
	// is the most such a read can return.
	Memory    Memory
	ObjectCap int64
	// OriginalAdmission: an original's bytes are cached only when it is
	// fetched a second time within this window (0: always). Most originals
	// of a cold-miss flood are asked for once; storing each costs a
	// multi-megabyte Redis write and the room of many variants.
	OriginalAdmission time.Duration
}

// Memory is the edge's memory budget (membudget.Budget).
type Memory interface {
	Reserve(ctx context.Context, n int64) (*membudget.Lease, error)
}

// SetLimits installs l; call it before serving.
func (h *Handler) SetLimits(l Limits) {
	h.limits = l
	h.seenOriginals = nil
	if l.OriginalAdmission > 0 {
		h.seenOriginals = otter.Must(&otter.Options[string, struct{}]{MaximumSize: 200_000,
			ExpiryCalculator: otter.ExpiryWriting[string, struct{}](l.OriginalAdmission)})
	}
	h.misses = nil
	if l.MaxMisses > 0 {
		h.misses = admission.NewGate(l.MaxMisses, l.MissQueue, l.MissWait, "transform_queue")
	}
}

// admit takes a place among the misses in production, or refuses.
func (h *Handler) admit(ctx context.Context) (leave func(), err error) {
	if h.misses == nil {
		return func() {}, nil
	}
	return h.misses.Enter(ctx)
}

// MissesInFlight reports the variants being produced.
func (h *Handler) MissesInFlight() int64 {
	if h.misses == nil {
		return 0
	}
	return int64(h.misses.Inside())
}

// MissesWaiting reports the variants waiting for a place.
func (h *Handler) MissesWaiting() int64 {
	if h.misses == nil {
		return 0
	}
	return h.misses.Waiting()
}

// ServeHTTP routes the two health endpoints and sends everything else down
// the image path. A panic is a bug: it is logged with its stack and answered
// 500, and the process keeps serving.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header()["X-Request-Id"] = []string{reqID}
	defer func() {
		if p := recover(); p != nil {
			writeError(w, r, reqID, panics.Recovered(h.log.With("request_id", reqID), panics.RequestHandler, p))
		}
	}()
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
		return
	case "/metrics":
		if h.Metrics != nil {
			h.Metrics.ServeHTTP(w, r)
			return
		}
	case "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if t := h.tables.Load(); t != nil {
			fmt.Fprintf(w, "ready: config version %d\n", t.Version())
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: no config loaded\n"))
		return
	}
	h.serveImage(w, r, reqID)
}

// Request ids are a random per-process prefix and a counter: unique across
// a fleet without a syscall per request, and they need not be secret.
var (
	requestIDPrefix = func() string {
		var b [6]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	requestCounter atomic.Uint64
)

func newRequestID() string {
	var buf [32]byte
	return string(appendRequestID(buf[:0]))
}

// appendRequestID appends a new request id to b: the memo hit path builds
// it on the stack.
func appendRequestID(b []byte) []byte {
	b = append(b, requestIDPrefix...)
	return strconv.AppendUint(b, requestCounter.Add(1), 36)
}

// statusOf is the edge's one table from error kind to HTTP status.
func statusOf(k errkind.Kind) int {
	switch k {
	case errkind.Invalid, errkind.Unsupported:
		return http.StatusBadRequest
	case errkind.Unauthorized:
		return http.StatusUnauthorized
	case errkind.Forbidden:
		return http.StatusForbidden
	case errkind.NotFound:
		return http.StatusNotFound
	case errkind.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case errkind.Conflict:
		return http.StatusConflict
	case errkind.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errkind.Unprocessable:
		return http.StatusUnprocessableEntity
	case errkind.RateLimited:
		return http.StatusTooManyRequests
	case errkind.BadGateway:
		return http.StatusBadGateway
	case errkind.Unavailable:
		return http.StatusServiceUnavailable
	case errkind.Timeout:
		return http.StatusGatewayTimeout
	case errkind.Loop:
		return http.StatusLoopDetected
	}
	return http.StatusInternalServerError
}

// writeError answers with a short text body and X-Pictor-Error; the message
// is the error's safe one, never its internal cause.
func writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) int {
	return writeErrorTo(netResponder{w}, r.Method, reqID, err)
}

// writeErrorTo is writeError on either front.
func writeErrorTo(out responder, method, reqID string, err error) int {
	status := statusOf(errkind.KindOf(err))
	if status == http.StatusInternalServerError {
		internalErrors.Add(1)
	}
	msg := errkind.SafeMessage(err)
	out.setHeader("Content-Type", textPlainValue)
	out.setHeader("X-Content-Type-Options", nosniffValue)
	out.setHeader("Cache-Control", []string{freshness.ErrorCacheControl(status, errkind.Reason(err))})
	out.setHeader("Access-Control-Allow-Origin", anyOriginValue)
	out.setHeader("Access-Control-Expose-Headers", exposedHeadersValue)
	out.setHeader("X-Pictor-Error", []string{fmt.Sprintf("%d - %s", status, sanitizeHeader(msg))})
	switch status {
	case http.StatusServiceUnavailable:
		out.setHeader("Retry-After", []string{"1"})
	case http.StatusMethodNotAllowed:
		out.setHeader("Allow", []string{"GET, HEAD"})
	}
	body := []byte(fmt.Sprintf("%d %s: %s (request id %s)\n", status, http.StatusText(status), msg, reqID))
	out.setHeader("Content-Length", []string{strconv.Itoa(len(body))})
	if method == http.MethodHead {
		body = nil
	}
	out.send(status, body, nil)
	return status
}

// sanitizeHeader keeps a message safe as a header value.
func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '×': // image sizes: "4000×3000" reads as "4000x3000"
			return 'x'
		case r < 0x20 || r == 0x7f || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// internalErrors counts 500s: each one is a bug (bad input has a kind).
// The package's tests fail if any test input produced one.
var internalErrors atomic.Int64

const exposedHeaders = "Content-Length, Content-Type, ETag, X-Cache, X-Request-Id, X-Pictor-Error, Server-Timing, Link, Content-DPR"
