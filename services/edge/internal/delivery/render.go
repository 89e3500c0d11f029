package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/freshness"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
	"pictor/services/internal/sniff"
)

// render is the back half of the line: look up, decide, produce, store.
// release must be called once the variant's body is no longer read.
//
// A fresh L1 hit is read in place, without a copy. Everything else runs
// once per variant however many requests want it — the L2 read too, so a
// burst for one variant that L1 lacks reads Redis once — and the result
// stays shared while responses still write it, its bytes leased from the
// memory budget until the last is done.
func (h *Handler) render(ctx context.Context, req *request) (*variant, cache.Releaser, error) {
	key := req.image.VariantKey(req.canonical, req.format+origFlag(req.original))
	req.key = key
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
	return v, releaseFunc(release), unfinished(err)
}

// unfinished gives a bare context error a kind: work that ran out of time
// or lost its callers is not an origin's timeout (origin.classify names
// those), so it is a 503, never a 504.
func unfinished(err error) error {
	if err == nil || errkind.Of(err) != nil {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errkind.Wrap(errkind.Unavailable, "work_timeout", "the image took too long to prepare, retry later", err)
	}
	return err
}

// releaseFunc is a release function as a cache.Releaser.
type releaseFunc func()

func (f releaseFunc) Release() { f() }

// freshL1Hit is the variant when L1 holds a fresh, unpurged copy, read in
// place (release lets go of it), else nil: everything else is for lookup.
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

// lookup reads the variant and its original's record, asks freshness what
// they are good for, and acts on the verdict once.
func (h *Handler) lookup(ctx context.Context, req *request, key string) (*variant, error) {
	e, tier, lease, err := h.cached(ctx, key)
	if err != nil {
		return nil, err
	}
	rec, _ := h.cache.Get(ctx, req.image.RecordKey())
	if req.defaultImage != "" && rec != nil && rec.Status == 404 {
		// The path's miss is why the variant shows the default image: it
		// does not refuse it.
		rec = nil
	}
	now := h.now()
	verdict, drop := freshness.Decide(freshness.Facts{Now: now, Entry: e, Record: rec,
		Purged: req.purgedFunc(req.imagePath), OriginSet: req.route.Endpoint.OriginSet})
	h.drop(ctx, drop, key, req.image)
	var v *variant
	switch verdict {
	case freshness.Serve:
		v = hit(e, tier)
	case freshness.Renew:
		renewed := freshness.Renewed(e, rec, now, req.version)
		h.cache.Set(ctx, key, renewed)
		v = hit(renewed, tier)
	case freshness.ServeStale:
		h.refresh(req, req.image, req.imagePath, rec, e)
		v = variantFromEntry(e, "STALE")
	case freshness.Refuse:
		lease.Release()
		return nil, rememberedFailure(rec)
	default:
		lease.Release()
		return h.produce(ctx, req, key)
	}
	v.lease, v.version = lease, req.version
	return v, nil
}

// drop deletes what a purge covers: the variant, or the original's record
// and bytes.
func (h *Handler) drop(ctx context.Context, d freshness.Drop, key string, img cache.Image) {
	if d.Entry {
		h.cache.Delete(ctx, key)
	}
	if d.Record {
		h.cache.Delete(ctx, img.RecordKey())
		h.cache.Delete(ctx, img.OriginalKey())
	}
}

func hit(e *cache.Entry, tier cache.Tier) *variant {
	return variantFromEntry(e, "HIT-"+string(tier))
}

func origFlag(original bool) string {
	if original {
		return "+orig"
	}
	return ""
}

// isPurged reports whether a purge rule that arrived after e was stored
// covers e's image path. Rules match on the path without the query, so a
// purge removes every variant and every forwarded-query version.
func (req *request) isPurged(e *cache.Entry) bool { return req.purgedFunc(req.imagePath)(e) }

// purgedFunc is isPurged for the entries of another image path (a default
// image).
func (req *request) purgedFunc(path string) func(*cache.Entry) bool {
	return func(e *cache.Entry) bool { return req.purges.Covers(req.route.Endpoint.ID, path, e.ConfigVersion) }
}

// produce makes a variant that nothing cached can answer. It is admitted
// first: a miss that would only wait behind too many others is refused
// before it fetches anything, so no queue of waiting requests holds bodies.
func (h *Handler) produce(ctx context.Context, req *request, key string) (*variant, error) {
	admitted, err := h.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer admitted()
	orig, done, err := h.sharedOriginal(ctx, req, req.image, req.imagePath)
	if errkind.KindOf(err) == errkind.NotFound && req.defaultImage != "" {
		done()
		img, path := req.defaultImageRef()
		orig, done, err = h.sharedOriginal(ctx, req, img, path)
	}
	defer func() { done() }()
	if err != nil {
		return nil, err
	}
	v, err := h.makeVariant(ctx, req, key, orig)
	if err != nil && sourceFailure(err) && orig.shareable {
		h.rememberFailure(ctx, req, orig.image, err)
	}
	if v != nil {
		v.version = req.version
	}
	return v, err
}

// makeVariant makes the variant from its original and stores it.
func (h *Handler) makeVariant(ctx context.Context, req *request, key string, orig *originalResult) (*variant, error) {
	src := orig.entry
	v := &variant{sourceID: src.SourceID, originDur: orig.elapsed, cacheStatus: "MISS",
		private: orig.private, noStore: orig.noStore}
	if orig.stale {
		v.cacheStatus = "STALE"
	}
	if req.original {
		// No response carries a format outside the output allow-list, the
		// untouched bytes included.
		if !sniff.Format(src.Format).Deliverable() {
			return nil, errkind.New(errkind.Unprocessable, "source_format_not_deliverable",
				fmt.Sprintf("the source is %s, which is not delivered as it is; ask for a transformation (f-jpg, f-png, f-webp, ...)", src.Format))
		}
		// The original's own lease ends with the last variant reading it;
		// this response gets one of its own.
		lease, err := h.reserve(ctx, int64(len(src.Body)))
		if err != nil {
			return nil, err
		}
		orig.kept.Store(true) // the response and the cache keep these bytes
		v.body, v.contentType, v.lease = src.Body, "image/"+src.Format, lease
	} else {
		layers, done, err := h.layerSources(ctx, req, v)
		defer done()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		tctx, span := startSpan(ctx, "transform")
		res, err := h.transform.Transform(tctx, transform.Request{
			Source:         src.Body,
			Transformation: req.tr,
			Format:         req.format,
			DefaultQuality: req.route.Account.DefaultQuality,
			Layers:         layers,
		})
		span.End()
		if err != nil {
			return nil, err
		}
		v.transDur = time.Since(start)
		v.body, v.contentType, v.lease = res.Body, res.ContentType(), res.Lease
	}
	v.etag = etagOf(v.body)
	if orig.shareable && !orig.stale && !v.private && !v.noStore && v.cacheStatus != "STALE" {
		e := &cache.Entry{Status: 200, Body: v.body, ContentType: v.contentType, ETag: v.etag,
			FreshUntil: src.FreshUntil, StaleUntil: src.StaleUntil,
			OriginETag: src.OriginETag, OriginLastModified: src.OriginLastModified, SourceID: src.SourceID}
		freshness.Stamp(e, h.now(), req.version)
		h.cache.Set(ctx, key, e)
	}
	return v, nil
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

func variantFromEntry(e *cache.Entry, status string) *variant {
	return &variant{body: e.Body, contentType: e.ContentType, etag: e.ETag, sourceID: e.SourceID, cacheStatus: status}
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// layerSources gets the originals of req's image layers, and the font
// files of its text layers, the way any
// original is got — from the cache, or from the endpoint's origins with
// coalescing — and returns their bytes by path. done lets go of them once
// the transform is over. A layer made from a private, no-store or stale
// original makes v so too, so the composite is not stored. A composite is
// cached under its base image's path: purging the base removes it,
// purging only the layer's image does not (it lives until its lifetime,
// the base original's, runs out).
func (h *Handler) layerSources(ctx context.Context, req *request, v *variant) (map[string][]byte, func(), error) {
	images := req.tr.LayerImages()
	paths := append(images, req.tr.LayerFonts()...)
	if len(paths) == 0 {
		return nil, func() {}, nil
	}
	var dones []func()
	done := func() {
		for _, d := range dones {
			d()
		}
	}
	out := make(map[string][]byte, len(paths))
	for i, p := range paths {
		img, path := req.endpointImage(p)
		orig, d, err := h.sharedOriginal(ctx, req, img, path)
		dones = append(dones, d)
		if err != nil {
			what := "layer image "
			if i >= len(images) {
				what = "layer font "
			}
			return nil, done, errkind.Wrap(errkind.KindOf(err), "layer_"+errkind.Reason(err),
				what+p+": "+errkind.SafeMessage(err), err)
		}
		out[p] = orig.entry.Body
		v.private = v.private || orig.private
		v.noStore = v.noStore || orig.noStore
		if orig.stale {
			v.cacheStatus = "STALE"
		}
	}
	return out, done, nil
}
