package delivery

import (
	"context"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/panics"
)

// A CDN answers the same few thousand URLs, from the same few browsers,
// over and over. The first L1 hit of a request (host, raw URI, Accept) on
// the fast front remembers what serve worked out for it: the resolved and
// verified request, the variant's cache key, and, per L1 entry, the
// response's header block. Later requests that match it byte for byte are
// answered from that memo: one hash, one L1 look-up, the headers copied
// into fasthttp's buffers, no string built. A memo is good only under the
// routing table it was made with (a purge, a revoked key or any config
// change makes a new one), until its signed URL expires, and for the L1
// entry its headers were made from; anything else goes the whole way.

// hitSlots is the memo's size: a direct-mapped table of recent hits, so a
// look-up is one atomic load and a collision only costs a slower hit.
const hitSlots = 1 << 13

type hitMemos struct {
	seed    maphash.Seed
	slots   [hitSlots]atomic.Pointer[hitMemo]
	version atomic.Uint64 // routing version of the newest memo
}

// hitMemo is one remembered request. Everything but block is immutable.
type hitMemo struct {
	sum                 uint64
	host, uri, accept   string
	version             uint64 // routing table version req was resolved under
	expires             int64  // unix seconds the signature expires after; 0: never
	key                 string // the variant's cache key
	req                 *request
	block               atomic.Pointer[headerBlock]
	accountID, endpoint string
}

// headerBlock is a response's headers for one L1 entry instance: held is
// the entry's body (its identity: a new entry has a new one).
type headerBlock struct {
	held cache.Releaser
	kv   []headerKV
}

type headerKV struct{ k, v []byte }

func newHitMemos() *hitMemos { return &hitMemos{seed: maphash.MakeSeed()} }

func (m *hitMemos) sum(host, uri, accept []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.Write(host)
	h.WriteByte(0)
	h.Write(uri)
	h.WriteByte(0)
	h.Write(accept)
	return h.Sum64()
}

// remember keeps what serve worked out for t after it answered an L1 hit.
func (m *hitMemos) remember(t target, req *request, key string) {
	// A memo matches on Host, URI and Accept only: an answer that depends
	// on client hints as well is not remembered.
	if t.uri == "" || t.method != "GET" || t.ifNoneMatch != "" || len(t.via) > 0 || req.hints.Any() {
		return
	}
	var expires int64
	if req.query.Signature != "" && req.query.Expires != "" {
		n, err := strconv.ParseInt(req.query.Expires, 10, 64)
		if err != nil {
			return
		}
		expires = n
	}
	if v := m.version.Load(); req.version > v && m.version.CompareAndSwap(v, req.version) {
		// A new routing table: let go of the memos of the old ones, and the
		// tables they keep alive.
		for i := range m.slots {
			m.slots[i].Store(nil)
		}
	}
	sum := m.sum([]byte(t.host), []byte(t.uri), []byte(t.accept))
	m.slots[sum&(hitSlots-1)].Store(&hitMemo{sum: sum, host: t.host, uri: t.uri, accept: t.accept,
		version: req.version, expires: expires, key: key, req: req})
}

// lookup finds the memo of a request, or nil.
func (m *hitMemos) lookup(host, uri, accept []byte) *hitMemo {
	sum := m.sum(host, uri, accept)
	hm := m.slots[sum&(hitSlots-1)].Load()
	if hm == nil || hm.sum != sum || hm.host != string(host) || hm.uri != string(uri) || hm.accept != string(accept) {
		return nil
	}
	return hm
}

// serveMemoHit answers ctx from a memo when it is a plain GET the memo
// covers and L1 still holds a fresh copy; otherwise it writes nothing and
// reports false.
func (h *Handler) serveMemoHit(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() {
		return false
	}
	hdr := &ctx.Request.Header
	if len(hdr.Peek("If-None-Match")) > 0 || len(hdr.Peek("Via")) > 0 {
		return false
	}
	hm := h.hits.lookup(hdr.Host(), hdr.RequestURI(), hdr.Peek("Accept"))
	if hm == nil {
		return false
	}
	table := h.tables.Load()
	now := h.now()
	if table == nil || table.Version() != hm.version || (hm.expires != 0 && now.Unix() > hm.expires) {
		return false
	}
	e, held, ok := h.cache.ViewL1(hm.key)
	if !ok {
		return false
	}
	if !e.Fresh(now) {
		held.Release()
		return false
	}
	blk := hm.block.Load()
	if blk == nil || blk.held != held {
		if hm.req.isPurged(&e) {
			held.Release()
			return false
		}
		blk = newHeaderBlock(hm.req, hit(&e, cache.L1), held)
		hm.block.Store(blk)
	}
	h.writeMemoHit(ctx, hm, blk, e.Body, held, now)
	return true
}

// writeMemoHit writes the response: a request id made on the stack, the
// block's headers, the body from L1 in place.
func (h *Handler) writeMemoHit(ctx *fasthttp.RequestCtx, hm *hitMemo, blk *headerBlock, body []byte, held cache.Releaser, start time.Time) {
	defer func() {
		if p := recover(); p != nil {
			ctx.Response.Reset()
			panics.Recovered(h.log, panics.FastPath, p)
			ctx.Error("internal error", 500)
		}
	}()
	resp := &ctx.Response
	resp.Header.DisableNormalizing()
	var buf [32]byte
	id := appendRequestID(buf[:0])
	resp.Header.SetCanonical(requestIDKey, id)
	for _, kv := range blk.kv {
		resp.Header.SetCanonical(kv.k, kv.v)
	}
	resp.SetStatusCode(200)
	resp.SetBodyStream(heldBodyOf(body, held), len(body))
	reqID := "" // made only for the debug log, which allocates anyway
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		reqID = string(id)
	}
	h.served(context.Background(), reqID, hm.req, &memoVariant, 200, len(body), start)
}

// memoVariant is what served needs to know of a memo hit.
var memoVariant = variant{cacheStatus: "HIT-L1"}

var requestIDKey = []byte("X-Request-Id")

// newHeaderBlock records what setImageHeaders sets for v, so that it is
// the same answer as the whole way's.
func newHeaderBlock(req *request, v *variant, held cache.Releaser) *headerBlock {
	var rec headerRecorder
	setImageHeaders(&rec, req, v, "")
	return &headerBlock{held: held, kv: rec.kv}
}

type headerRecorder struct{ kv []headerKV }

func (r *headerRecorder) setHeader(k string, v []string) {
	r.kv = append(r.kv, headerKV{k: []byte(k), v: []byte(v[0])})
}

// heldBodies recycles the fast front's body streams: fasthttp closes each
// once, after writing it, and then forgets it.
var heldBodies = sync.Pool{New: func() any { return new(heldBody) }}

func heldBodyOf(b []byte, release cache.Releaser) *heldBody {
	r := heldBodies.Get().(*heldBody)
	r.b, r.off, r.release = b, 0, release
	return r
}
