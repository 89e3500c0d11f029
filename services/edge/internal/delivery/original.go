package delivery

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"pictor/services/edge/internal/bufpool"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/freshness"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/panics"
	"pictor/services/edge/internal/routing"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
	"pictor/services/internal/objectstore"
)

// originalResult is an original as the variant pipeline needs it.
type originalResult struct {
	image   cache.Image
	entry   *cache.Entry // Body, Format, validators, lifetime
	elapsed time.Duration
	// shareable is false when the origin marked the response private or
	// no-store (or set a cookie): it is used, never stored, and what is
	// made from it is answered likewise.
	shareable, private, noStore bool
	stale                       bool // the origin failed; entry is a usable stale copy
	renewed                     bool // a 304 renewed the copy the caller had: its bytes
	// lease holds the body's bytes in the memory budget until the last
	// variant that reads it is done (coalesce.Share's Cleanup).
	lease *membudget.Lease
	// recycle: the body was read from the origin into a pooled buffer that
	// nothing else keeps (the cache did not take it), so the Cleanup gives
	// it back, unless a variant made of the untouched bytes (orig-true)
	// outlives the original: kept says so.
	recycle bool
	kept    atomic.Bool
}

// release ends the original's life: its lease, and its pooled buffer.
func (o *originalResult) release() {
	if o == nil {
		return
	}
	o.lease.Release()
	if o.recycle && !o.kept.Load() {
		bufpool.Put(o.entry.Body)
	}
}

// sharedOriginal is original, shared by every variant being rendered from
// the same image at the same time: one cache read or fetch, one copy of the
// bytes in memory. done must be called once the caller no longer reads the
// original (it is safe to call on error). A finished original is shared
// only while no purge that arrived since covers it.
func (h *Handler) sharedOriginal(ctx context.Context, req *request, img cache.Image, path string) (*originalResult, func(), error) {
	purged := req.purgedFunc(path)
	reuse := func(o *originalResult) bool { return !purged(o.entry) }
	o, done, _, err := h.originals.Acquire(ctx, img.OriginalKey(), reuse, func(ctx context.Context) (*originalResult, error) {
		return h.original(ctx, req, img, path)
	})
	return o, done, err
}

// original returns the original of img: its cached bytes while its record
// (or, without one, the bytes' own lifetime) says they are good, stale ones
// at once while a background refresh runs, a remembered failure, or else a
// fetch from the origins — conditional when stale bytes are at hand.
func (h *Handler) original(ctx context.Context, req *request, img cache.Image, path string) (*originalResult, error) {
	o, _, lease, err := h.cached(ctx, img.OriginalKey())
	if err != nil {
		return nil, err
	}
	rec, _ := h.cache.Get(ctx, img.RecordKey())
	verdict, drop := freshness.Decide(freshness.Facts{Now: h.now(), Entry: o, Record: rec,
		Purged: req.purgedFunc(path), OriginSet: req.route.Endpoint.OriginSet})
	h.drop(ctx, drop, img.OriginalKey(), img)
	switch verdict {
	case freshness.Renew:
		// Variants made from it now take the record's lifetime.
		o = freshness.Renewed(o, rec, h.now(), req.version)
		fallthrough
	case freshness.Serve:
		return &originalResult{image: img, entry: o, shareable: true, lease: lease}, nil
	case freshness.ServeStale:
		h.refresh(req, img, path, rec, o)
		return &originalResult{image: img, entry: o, shareable: true, lease: lease}, nil
	case freshness.Refuse:
		lease.Release()
		return nil, rememberedFailure(rec)
	}
	if drop.Record || drop.Entry {
		lease.Release()
		o, lease = nil, nil
	}
	res, err := h.fetchOriginal(ctx, req, img, path, o)
	if err != nil && o != nil && o.Usable(h.now()) && originFailure(err) {
		// stale-if-error (RFC 5861): the origin failed, the copy may still
		// be served.
		return &originalResult{image: img, entry: o, shareable: true, stale: true, lease: lease}, nil
	}
	if res != nil && res.renewed {
		res.lease = lease // the cached copy, renewed, is the one used
	} else {
		lease.Release()
	}
	return res, err
}

// fetchOriginal fetches img from the endpoint's origins, conditionally when
// stale bytes are at hand (a 304 renews them), and stores what it learns:
// the bytes and their record, or the miss.
func (h *Handler) fetchOriginal(ctx context.Context, req *request, img cache.Image, path string, stale *cache.Entry) (*originalResult, error) {
	ep := req.route.Endpoint
	freq := origin.Request{Sources: sources(ep), ImagePath: path, ForwardQuery: forwardQuery(img, path), ClientHost: img.Host}
	if stale != nil {
		freq.IfNoneMatch, freq.IfModifiedSince = stale.OriginETag, stale.OriginLastModified
	}
	res, err := h.fetcher.Fetch(ctx, freq)
	now := h.now()
	if err != nil {
		if errkind.KindOf(err) == errkind.NotFound {
			h.cache.Set(ctx, img.RecordKey(), freshness.Failure(now, req.version, http.StatusNotFound,
				errkind.Reason(err), errkind.SafeMessage(err), ep.OriginSet))
		}
		if sourceFailure(err) {
			h.rememberFailure(ctx, req, img, err)
		}
		return nil, err
	}
	out := &originalResult{image: img, elapsed: res.Elapsed, shareable: res.Shareable, private: res.Private, noStore: res.NoStore}
	fresh, grace := lifetime(ep, res)
	freshUntil, staleUntil := freshness.Lifetime(now, fresh, grace)
	if res.NotModified && stale != nil {
		renewed := *stale
		renewed.FreshUntil, renewed.StaleUntil = freshUntil, staleUntil
		if res.ETag != "" {
			renewed.OriginETag = res.ETag
		}
		freshness.Stamp(&renewed, now, req.version)
		out.entry, out.renewed = &renewed, true
	} else {
		if res.Body == nil {
			// A 304 with nothing to renew: the origin answered a question
			// that was not asked. Not an image.
			return nil, errkind.New(errkind.BadGateway, "origin_not_modified", "origin answered 304 to an unconditional request")
		}
		out.entry = &cache.Entry{Status: 200, Body: res.Body, ContentType: "image/" + string(res.Format),
			Format: string(res.Format), FreshUntil: freshUntil, StaleUntil: staleUntil,
			OriginETag: res.ETag, OriginLastModified: res.LastModified, SourceID: res.SourceID}
		freshness.Stamp(out.entry, now, req.version)
		out.lease = res.Lease
		out.recycle = true
		if res.Shareable && h.admitOriginal(img.OriginalKey()) {
			h.cache.Set(ctx, img.OriginalKey(), out.entry) // which may keep the bytes
			out.recycle = false
		}
	}
	if res.Shareable {
		h.cache.Set(ctx, img.RecordKey(), record(out.entry))
	}
	return out, nil
}

// admitOriginal decides whether an original's bytes are worth caching:
// the second fetch within the admission window is (Limits.OriginalAdmission).
func (h *Handler) admitOriginal(key string) bool {
	if h.seenOriginals == nil {
		return true
	}
	if _, seen := h.seenOriginals.GetIfPresent(key); seen {
		return true
	}
	h.seenOriginals.Set(key, struct{}{})
	return false
}

// record is the small copy of an original's entry that says whether its
// bytes are still good: validators and lifetime, no body.
func record(e *cache.Entry) *cache.Entry {
	return &cache.Entry{Status: 200, StoredAt: e.StoredAt, ConfigVersion: e.ConfigVersion,
		FreshUntil: e.FreshUntil, StaleUntil: e.StaleUntil, OriginETag: e.OriginETag,
		OriginLastModified: e.OriginLastModified, SourceID: e.SourceID}
}

// refresh revalidates an original in the background, once however many of
// its variants are served stale meanwhile (stale-while-revalidate): a 304
// renews its record, and every variant made from it is fresh again; a new
// original replaces it, and its variants are made anew on their next
// request. After a refresh that failed, none is tried for refreshBackoff.
// At most as many refreshes run at once as misses may, and one that finds
// no room is skipped (a later stale answer asks again).
func (h *Handler) refresh(req *request, img cache.Image, path string, rec, stale *cache.Entry) {
	key := img.RecordKey()
	if _, recent := h.recentRefreshes.GetIfPresent(key); recent {
		return
	}
	validators := stale
	if rec != nil && rec.Status == 200 {
		validators = rec
	}
	if h.refreshing.Len() >= max(h.limits.MaxMisses, 1) {
		return
	}
	h.refreshing.Go(key, func(ctx context.Context) {
		defer func() {
			if p := recover(); p != nil {
				panics.Recovered(h.log, panics.Refresh, p)
			}
		}()
		h.recentRefreshes.Set(key, struct{}{})
		res, err := h.fetchOriginal(ctx, req, img, path, validators)
		if err != nil {
			h.log.Info("background refresh failed; the stale copy is served until its grace period ends",
				"account_id", img.Account, "endpoint", img.Endpoint, "path", path, "reason", errkind.Reason(err))
			return
		}
		res.lease.Release()
	})
}

// refreshBackoff is how long an original whose refresh failed is served
// stale before another refresh is tried.
const refreshBackoff = 10 * time.Second

// rememberFailure records that the original of img cannot be processed (it
// does not decode, it is over a limit), so its other variants answer 422 at
// once for freshness.NegativeTTL instead of fetching and decoding it again,
// and a fixed origin is tried again soon after. Its bytes are dropped.
func (h *Handler) rememberFailure(ctx context.Context, req *request, img cache.Image, err error) {
	h.cache.Delete(ctx, img.OriginalKey())
	h.cache.Set(ctx, img.RecordKey(), freshness.Failure(h.now(), req.version, http.StatusUnprocessableEntity,
		errkind.Reason(err), errkind.SafeMessage(err), req.route.Endpoint.OriginSet))
}

// sourceFailure reports whether err is the original's own fault, the same
// for every variant and every edge: corrupt, a blocked format, over the
// byte or pixel limit. An edge's momentary lack of memory is not.
func sourceFailure(err error) bool {
	if errkind.KindOf(err) != errkind.Unprocessable {
		return false
	}
	switch errkind.Reason(err) {
	case "memory_over_budget", "source_format_not_deliverable":
		return false // this edge's budget; this request's orig-true
	}
	return true
}

// rememberedFailure is the error a failure record answers with.
func rememberedFailure(rec *cache.Entry) error {
	kind := errkind.NotFound
	if rec.Status == http.StatusUnprocessableEntity {
		kind = errkind.Unprocessable
	}
	msg := rec.ErrMessage
	if msg == "" {
		msg = "image not found on any origin"
	}
	return errkind.New(kind, rec.ErrReason, msg)
}

// lifetime is DESIGN §7: the endpoint's TTL, or the origin's own max-age
// when the endpoint says so; then a grace period in which a stale copy may
// still be served.
func lifetime(ep *routing.Endpoint, res *origin.Result) (fresh, grace time.Duration) {
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
		out[i] = origin.Source{ID: o.ID, BaseURL: o.BaseURL, ForwardHostHeader: o.ForwardHostHeader,
			Proxy: o.Proxy, AllowedHosts: o.AllowedHosts}
		if bc := o.Blob; bc != nil {
			out[i].Azure = &objectstore.Azure{Account: bc.Account, Container: bc.Container, Prefix: bc.Prefix, SAS: bc.SAS}
		}
		if st := o.Store; st != nil {
			out[i].S3 = &objectstore.S3{Endpoint: st.Endpoint, Bucket: st.Bucket, Prefix: st.Prefix,
				AccessKey: st.AccessKey, SecretKey: st.SecretKey, PathStyle: st.PathStyle}
		}
	}
	return out
}

// forwardQuery is the query part of img's path, forwarded to the origin.
func forwardQuery(img cache.Image, path string) string {
	if len(img.PathQuery) > len(path) {
		return img.PathQuery[len(path)+1:]
	}
	return ""
}

// defaultImageRef is the default image (di-) of req as an image of the
// same endpoint, without the request's forwarded query.
func (req *request) defaultImageRef() (cache.Image, string) {
	return req.endpointImage(req.defaultImage)
}

// endpointImage is the image at path p ('/' unescaped) of req's
// URL-endpoint, without the request's forwarded query: a default image or
// a layer's.
func (req *request) endpointImage(p string) (cache.Image, string) {
	path := imgurl.NormalizeEscapes(escapePath(p))
	img := req.image
	img.PathQuery = path
	return img, path
}
