package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
)

// negativeTTL is how long "not on any origin" is remembered (RELIABILITY 14).
const negativeTTL = 60 * time.Second

// render is the back half of the line: cache lookup, then — coalesced per
// variant — fetch (or revalidate) the original, transform, store. release
// must be called once the variant's body is no longer read.
//
// A fresh L1 hit is read in place, without a copy. Everything else runs
// once per variant however many requests want it: the L2 read too, so a
// burst for one variant that L1 lacks reads Redis once. The result stays
// shared while responses still write it, its bytes leased from the memory
// budget until the last is done.
func (h *Handler) render(ctx context.Context, req *request) (*variant, cache.Releaser, error) {
	key := h.variantKey(req)
	if v, held := h.freshL1Hit(req, key); v != nil {
		return v, held, nil
	}
	// A finished variant still being written is reused only under the
	// config it was made with: a purge since must not be answered from it.
	reuse := func(v *variant) bool { return v.version == req.version }
	v, release, shared, err := h.flight.Acquire(ctx, key, reuse, func(ctx context.Context) (*variant, error) {
		return h.lookup(ctx, req, key)
	})
	req.coalesced = shared
	return v, releaseFunc(release), err
}

// releaseFunc is a release function as a cache.Releaser.
type releaseFunc func()

func (f releaseFunc) Release() { f() }

// freshL1Hit is the variant when L1 holds a fresh, unpurged copy, read in
// place (release lets go of it), else nil: the full path then also drops
// purged entries and serves or revalidates stale ones.
func (h *Handler) freshL1Hit(req *request, key string) (*variant, cache.Releaser) {
	e, held, ok := h.cache.ViewL1(key)
	if !ok {
		return nil, nil
	}
	if req.isPurged(&e) || !e.Fresh(h.now()) {
		held.Release()
		return nil, nil
	}
	return hit(&e, cache.L1), held
}

// lookup reads the variant from the cache (L1, then L2), leased from the
// memory budget; a fresh copy is served, a stale one is what produce may
// fall back on.
func (h *Handler) lookup(ctx context.Context, req *request, key string) (*variant, error) {
	e, tier, lease, err := h.cached(ctx, key)
	if err != nil {
		return nil, err
	}
	if e != nil {
		switch {
		case req.isPurged(e):
			h.cache.Delete(ctx, key)
		case e.Fresh(h.now()):
			v := hit(e, tier)
			v.lease, v.version = lease, req.version
			return v, nil
		default:
			return h.produce(ctx, req, key, stale{e, tier, lease})
		}
	}
	lease.Release()
	return h.produce(ctx, req, key, stale{})
}

// stale is a cached variant past its freshness, with its bytes' lease.
type stale struct {
	entry *cache.Entry
	tier  cache.Tier
	lease *membudget.Lease
}

// serve makes a variant of the stale copy, handing it the lease.
func (s stale) serve(status string) *variant {
	v := variantFromEntry(s.entry, status)
	v.lease = s.lease
	return v
}

func hit(e *cache.Entry, tier cache.Tier) *variant {
	return variantFromEntry(e, "HIT-"+string(tier))
}

func (h *Handler) variantKey(req *request) string {
	return cache.VariantKey(req.route.Account.ID, req.route.Endpoint.ID, req.pathQuery(), req.canonical, req.format+origFlag(req.original))
}

func origFlag(original bool) string {
	if original {
		return "+orig"
	}
	return ""
}

func (req *request) pathQuery() string {
	if req.query.Forward == "" {
		return req.imagePath
	}
	return req.imagePath + "?" + req.query.Forward
}

// isPurged reports whether a purge rule that arrived after e was stored
// covers e's image path. Rules match on the path without the query, so a
// purge removes every variant and every forwarded-query version.
func (req *request) isPurged(e *cache.Entry) bool {
	for i := range req.purges {
		if req.purges[i].Covers(req.route.Endpoint.ID, req.imagePath, e.ConfigVersion) {
			return true
		}
	}
	return false
}

// produce runs once per variant key at a time, detached from the caller.
// It is admitted first: a miss that would only wait behind too many others
// is refused before it fetches anything, so no queue of waiting requests
// holds bodies.
func (h *Handler) produce(ctx context.Context, req *request, key string, st stale) (v *variant, err error) {
	defer func() {
		if v == nil || v.lease != st.lease {
			st.lease.Release() // the stale copy was not what got served
		}
		if v != nil {
			v.version = req.version
		}
	}()
	usable := st.entry != nil && st.entry.Usable(h.now())
	admitted, err := h.admit(ctx)
	if err != nil {
		if usable {
			return st.serve("STALE"), nil
		}
		return nil, err
	}
	defer admitted()
	orig, done, err := h.sharedOriginal(ctx, req, req.imagePath, req.query.Forward, st.entry)
	if errkind.KindOf(err) == errkind.NotFound && req.defaultImage != "" {
		done()
		orig, done, err = h.sharedOriginal(ctx, req, escapePath(req.defaultImage), "", nil)
	}
	defer func() { done() }()
	if err != nil {
		if usable && originFailure(err) {
			return st.serve("STALE"), nil
		}
		return nil, err
	}
	if orig.stale && st.entry != nil {
		// The origin failed; the cached variant may still be served.
		return st.serve("STALE"), nil
	}
	if orig.notModified && st.entry != nil && st.entry.OriginETag == orig.entry.OriginETag &&
		st.entry.OriginLastModified == orig.entry.OriginLastModified {
		// 304: the variant is still right; only its freshness moves.
		refreshed := *st.entry
		refreshed.FreshUntil, refreshed.StaleUntil = orig.entry.FreshUntil, orig.entry.StaleUntil
		refreshed.ConfigVersion = req.version
		h.cache.Set(ctx, key, &refreshed)
		st.entry = &refreshed
		v := st.serve("HIT-" + string(st.tier))
		v.originDur = orig.elapsed // the origin was asked, even if it only said 304
		return v, nil
	}
	if orig.entry.Body == nil {
		// Revalidated without a cached original to fall back on: fetch it whole.
		done()
		orig, done, err = h.sharedOriginal(ctx, req, req.imagePath, req.query.Forward, nil)
		if err != nil {
			return nil, err
		}
	}
	return h.makeVariant(ctx, req, key, orig)
}

// makeVariant makes the variant from its original and stores it.
func (h *Handler) makeVariant(ctx context.Context, req *request, key string, orig *originalResult) (*variant, error) {
	v := &variant{sourceID: orig.entry.SourceID, originDur: orig.elapsed, cacheStatus: "MISS"}
	if orig.stale {
		v.cacheStatus = "STALE"
	}
	src := orig.entry
	if req.original {
		// The original's own lease ends with the last variant reading it;
		// this response gets one of its own.
		lease, err := h.reserve(ctx, int64(len(src.Body)))
		if err != nil {
			return nil, err
		}
		v.body, v.contentType, v.lease = src.Body, "image/"+src.Format, lease
	} else {
		switch origin.Format(src.Format) {
		case origin.SVG, origin.PDF, origin.JXL, origin.ICO, origin.BMP:
			return nil, errkind.New(errkind.Unprocessable, "source_format_blocked",
				fmt.Sprintf("source format %s is not accepted", src.Format))
		}
		start := time.Now()
		tctx, span := startSpan(ctx, "transform")
		res, err := h.transform.Transform(tctx, transform.Request{
			Source:         src.Body,
			Transformation: req.tr,
			Format:         req.format,
			DefaultQuality: req.route.Account.DefaultQuality,
		})
		span.End()
		if err != nil {
			return nil, err
		}
		v.transDur = time.Since(start)
		v.body, v.contentType, v.lease = res.Body, res.ContentType(), res.Lease
	}
	v.etag = etagOf(v.body)
	if orig.shareable {
		h.cache.Set(ctx, key, &cache.Entry{
			Status:             200,
			Body:               v.body,
			ContentType:        v.contentType,
			ETag:               v.etag,
			ConfigVersion:      req.version,
			StoredAt:           h.now(),
			FreshUntil:         src.FreshUntil,
			StaleUntil:         src.StaleUntil,
			OriginETag:         src.OriginETag,
			OriginLastModified: src.OriginLastModified,
			SourceID:           src.SourceID,
		})
	}
	return v, nil
}

// originalResult is an original as the variant pipeline needs it.
type originalResult struct {
	entry       *cache.Entry
	elapsed     time.Duration
	shareable   bool
	notModified bool // the origin confirmed the caller's validators
	stale       bool // the origin failed; entry is a usable stale copy
	// lease holds the body's bytes in the memory budget until the last
	// variant that reads it is done (coalesce.Share's Cleanup).
	lease *membudget.Lease
}

// sharedOriginal is original, shared by every variant being rendered from
// the same image at the same time: one cache read or fetch, one copy of the
// bytes in memory. done must be called once the caller no longer reads the
// original (it is safe to call on error). A finished original is shared
// only while no purge that arrived since covers it.
func (h *Handler) sharedOriginal(ctx context.Context, req *request, path, fwd string, staleVariant *cache.Entry) (*originalResult, func(), error) {
	pathQuery := path
	if fwd != "" {
		pathQuery += "?" + fwd
	}
	key := cache.OriginalKey(req.route.Account.ID, req.route.Endpoint.ID, pathQuery)
	if staleVariant != nil {
		// A conditional fetch answers for these validators only.
		key += "\x00" + staleVariant.OriginETag + "\x00" + staleVariant.OriginLastModified
	}
	reuse := func(o *originalResult) bool { return !req.isPurgedPath(path, o.entry) }
	o, done, _, err := h.originals.Acquire(ctx, key, reuse, func(ctx context.Context) (*originalResult, error) {
		return h.original(ctx, req, path, fwd, staleVariant)
	})
	return o, done, err
}

// original returns the original of path: from the cache while fresh,
// otherwise from the origins (conditionally when validators are known).
// A miss on every origin is remembered for negativeTTL.
func (h *Handler) original(ctx context.Context, req *request, path, fwd string, staleVariant *cache.Entry) (*originalResult, error) {
	ep := req.route.Endpoint
	pathQuery := path
	if fwd != "" {
		pathQuery += "?" + fwd
	}
	key := cache.OriginalKey(req.route.Account.ID, ep.ID, pathQuery)
	now := h.now()
	cached, _, lease, err := h.cached(ctx, key)
	if err != nil {
		return nil, err
	}
	// Whatever is returned below owns lease; on every other way out it is
	// given back.
	var out *originalResult
	defer func() {
		if out == nil || out.lease != lease {
			lease.Release()
		}
	}()
	switch {
	case cached == nil:
	case req.isPurgedPath(path, cached):
		h.cache.Delete(ctx, key)
		cached = nil
	case cached.Status == 404 && cached.OriginSet != ep.OriginSet:
		cached = nil // the origins changed since the miss was cached
	}
	if cached != nil && cached.Fresh(now) {
		if cached.Status == 404 {
			return nil, errkind.New(errkind.NotFound, "not_found", "image not found on any origin")
		}
		out = &originalResult{entry: cached, shareable: true, lease: lease}
		return out, nil
	}

	freq := origin.Request{Sources: sources(ep), ImagePath: path, ForwardQuery: fwd, ClientHost: req.clientHost}
	switch {
	case cached != nil && cached.Status == 200:
		freq.IfNoneMatch, freq.IfModifiedSince = cached.OriginETag, cached.OriginLastModified
	case staleVariant != nil:
		freq.IfNoneMatch, freq.IfModifiedSince = staleVariant.OriginETag, staleVariant.OriginLastModified
	}
	res, err := h.fetcher.Fetch(ctx, freq)
	if err != nil {
		if errkind.KindOf(err) == errkind.NotFound {
			h.cache.Set(ctx, key, &cache.Entry{Status: 404, ConfigVersion: req.version, StoredAt: now,
				FreshUntil: now.Add(negativeTTL), StaleUntil: now.Add(negativeTTL), OriginSet: ep.OriginSet})
			return nil, err
		}
		if cached != nil && cached.Status == 200 && cached.Usable(now) && originFailure(err) {
			out = &originalResult{entry: cached, stale: true, shareable: true, lease: lease}
			return out, nil
		}
		return nil, err
	}
	fresh, staleFor := freshness(ep, res)
	out = &originalResult{elapsed: res.Elapsed, shareable: res.Shareable, lease: lease}
	if res.NotModified {
		base := &cache.Entry{Status: 200, OriginETag: freq.IfNoneMatch, OriginLastModified: freq.IfModifiedSince}
		if cached != nil && cached.Status == 200 {
			base = cached
		}
		refreshed := *base
		refreshed.FreshUntil, refreshed.StaleUntil = now.Add(fresh), now.Add(fresh+staleFor)
		refreshed.ConfigVersion = req.version
		if res.ETag != "" {
			refreshed.OriginETag = res.ETag
		}
		if refreshed.Body != nil && res.Shareable {
			h.cache.Set(ctx, key, &refreshed)
		}
		out.entry, out.notModified = &refreshed, true
		return out, nil
	}
	lease.Release() // the cached copy, if any, is replaced by the new body
	out.lease = res.Lease
	out.entry = &cache.Entry{
		Status:             200,
		Body:               res.Body,
		ContentType:        "image/" + string(res.Format),
		Format:             string(res.Format),
		ConfigVersion:      req.version,
		StoredAt:           now,
		FreshUntil:         now.Add(fresh),
		StaleUntil:         now.Add(fresh + staleFor),
		OriginETag:         res.ETag,
		OriginLastModified: res.LastModified,
		SourceID:           res.SourceID,
	}
	if res.Shareable {
		h.cache.Set(ctx, key, out.entry)
	}
	return out, nil
}

// cached reads an entry from the cache with its bytes leased from the
// memory budget: the object cap before the read, trued up to the real size
// after it. A miss holds no lease.
func (h *Handler) cached(ctx context.Context, key string) (*cache.Entry, cache.Tier, *membudget.Lease, error) {
	lease, err := h.reserve(ctx, h.limits.ObjectCap)
	if err != nil {
		return nil, cache.Miss, nil, err
	}
	e, tier := h.cache.Get(ctx, key)
	if e == nil {
		lease.Release()
		return nil, cache.Miss, nil, nil
	}
	lease.Shrink(lease.Held() - int64(len(e.Body)))
	return e, tier, lease, nil
}

// reserve leases n bytes from the memory budget (nothing without one).
func (h *Handler) reserve(ctx context.Context, n int64) (*membudget.Lease, error) {
	if h.limits.Memory == nil {
		return nil, nil
	}
	return h.limits.Memory.Reserve(ctx, n)
}

func (req *request) isPurgedPath(path string, e *cache.Entry) bool {
	for i := range req.purges {
		if req.purges[i].Covers(req.route.Endpoint.ID, path, e.ConfigVersion) {
			return true
		}
	}
	return false
}

// freshness is DESIGN §7: the endpoint's TTL, or the origin's own max-age
// when the endpoint says so; then a grace period in which a stale copy may
// still be served if the origin fails.
func freshness(ep *routing.Endpoint, res *origin.Result) (fresh, grace time.Duration) {
	fresh = ep.CacheTTL
	if ep.UseOriginCacheControl && res.MaxAge >= 0 {
		fresh = res.MaxAge
	}
	return fresh, ep.StaleGrace
}

// originFailure reports whether err is the origin failing (RFC 5861
// stale-if-error), as opposed to the image being bad or missing.
func originFailure(err error) bool {
	switch errkind.KindOf(err) {
	case errkind.BadGateway, errkind.Timeout:
		return true
	}
	return false
}

func sources(ep *routing.Endpoint) []origin.Source {
	out := make([]origin.Source, len(ep.Origins))
	for i, o := range ep.Origins {
		out[i] = origin.Source{ID: o.ID, BaseURL: o.BaseURL, ForwardHostHeader: o.ForwardHostHeader}
	}
	return out
}

func variantFromEntry(e *cache.Entry, status string) *variant {
	return &variant{body: e.Body, contentType: e.ContentType, etag: e.ETag, sourceID: e.SourceID, cacheStatus: status}
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
