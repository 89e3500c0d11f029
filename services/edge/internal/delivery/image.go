package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/freshness"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
	"pictor/services/internal/signing"
)

// request is an image request once parsed, resolved and verified.
type request struct {
	route        routing.Route
	imagePath    string      // escaped in its one normal form, as forwarded to the origin
	image        cache.Image // the image as the cache names it
	query        imgurl.Query
	tr           imgurl.Transformation
	canonical    string // tr's canonical form, the cache key's view of it
	key          string // the variant's cache key (render)
	format       string // negotiated; "" = the source's format
	vary         bool
	hints        imgurl.HintUse // the client hints w-auto and dpr-auto consulted
	original     bool           // orig-true: the source bytes untouched
	defaultImage string         // di-: fetched when no origin has the image
	version      uint64         // routing table version the request was resolved with
	purges       *routing.PurgeIndex
	coalesced    bool // the variant came from another request's work
}

// variant is what gets written back.
type variant struct {
	body        []byte
	contentType string
	etag        string
	sourceID    string
	cacheStatus string // X-Cache
	originDur   time.Duration
	transDur    time.Duration
	version     uint64 // routing table version it was made under
	// private and noStore: made from an original the origin marked private
	// (or with a cookie) or no-store; answered as such, never stored.
	private, noStore bool
	// lease holds body's bytes in the memory budget until the last
	// response writing it is done (coalesce.Share's Cleanup); nil for
	// bodies the budget does not count apart (L1's own, small ones).
	lease *membudget.Lease
}

func (h *Handler) serveImage(w http.ResponseWriter, r *http.Request, reqID string) {
	rawPath, rawQuery := requestTarget(r)
	h.serve(r.Context(), reqID, target{method: r.Method, host: r.Host, rawPath: rawPath, rawQuery: rawQuery,
		accept: r.Header.Get("Accept"), via: r.Header.Values("Via"), ifNoneMatch: r.Header.Get("If-None-Match"),
		hints: imgurl.Hints{Width: firstOf(r.Header.Get("Sec-CH-Width"), r.Header.Get("Width")),
			DPR: firstOf(r.Header.Get("Sec-CH-DPR"), r.Header.Get("DPR"))}},
		netResponder{w})
}

// serve is the whole image request on either HTTP front: parse, render,
// respond or refuse, then account for it.
func (h *Handler) serve(ctx context.Context, reqID string, t target, out responder) {
	start := time.Now()
	req, err := h.parseTarget(t)
	if err == nil {
		var v *variant
		var release cache.Releaser
		v, release, err = h.render(ctx, req)
		if err == nil {
			status, n := respond(out, t, req, v, release)
			h.served(ctx, reqID, req, v, status, n, start)
			if status == http.StatusOK && v.cacheStatus == "HIT-L1" {
				h.hits.remember(t, req, req.key)
			}
			return
		}
		if release != nil {
			release.Release()
		}
	}
	status := writeErrorTo(out, t.method, reqID, err)
	h.recordUsage(req, status, 0, nil, errkind.Reason(err))
	if h.Observer != nil {
		h.Observer.Response(ResponseEvent{Status: status, Reason: errkind.Reason(err), Kind: errkind.KindOf(err), Total: time.Since(start)})
	}
	annotate(ctx, reqID, req, status, "")
	attrs := []any{"request_id", reqID, "status", status, "reason", errkind.Reason(err), "path", t.rawPath}
	if req != nil {
		attrs = append(attrs, "account_id", req.route.Account.ID, "endpoint", req.route.Endpoint.ID)
	}
	switch {
	case status >= 500:
		h.log.Warn("image request failed", append(attrs, "err", err.Error())...)
	default:
		h.log.Info("image request refused", attrs...)
	}
}

// served records an image response that was written: usage, metrics, the
// request's span and the debug log. Both fronts call it.
func (h *Handler) served(ctx context.Context, reqID string, req *request, v *variant, status, n int, start time.Time) {
	h.recordUsage(req, status, n, v, "")
	if h.Observer != nil {
		h.Observer.Response(ResponseEvent{Status: status, CacheStatus: v.cacheStatus, Bytes: n,
			Total: time.Since(start), Origin: v.originDur, Transform: v.transDur})
	}
	annotate(ctx, reqID, req, status, v.cacheStatus)
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("image served", "request_id", reqID, "status", status, "cache", v.cacheStatus,
			"account_id", req.route.Account.ID, "endpoint", req.route.Endpoint.ID, "bytes_out", n)
	}
}

// target is an image request as plain values, whichever HTTP front read
// it: both the net/http handler and the fast front (fast.go) serve it with
// serve, so they route, verify, negotiate and answer identically.
type target struct {
	method, host      string
	uri               string // the fast front's request target, whole and raw
	rawPath, rawQuery string // exactly as the client sent them
	accept            string // the first Accept header
	via               []string
	ifNoneMatch       string
	hints             imgurl.Hints // Sec-CH-Width (or Width) and Sec-CH-DPR (or DPR)
}

// firstOf is a if it is set, else b: the Sec-CH- spelling of a client hint
// wins over the older one.
func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (h *Handler) parseTarget(t target) (*request, error) {
	if t.method != http.MethodGet && t.method != http.MethodHead {
		return nil, errkind.New(errkind.MethodNotAllowed, "method_not_allowed", "only GET and HEAD are served")
	}
	for _, via := range t.via {
		if strings.Contains(strings.ToLower(via), "pictor") {
			return nil, errkind.New(errkind.Loop, "loop_detected", "request loop: an origin points back at Pictor")
		}
	}
	table := h.tables.Load()
	if table == nil {
		return nil, errkind.New(errkind.Unavailable, "not_ready", "edge has no configuration yet")
	}
	rawPath, rawQuery := t.rawPath, t.rawQuery
	route, err := table.Resolve(t.host, rawPath)
	if err != nil {
		return nil, err
	}
	req := &request{route: route, version: table.Version(), purges: table.Purges(route.Account.ID)}
	steps, imagePath := imgurl.SplitPath(route.Rest)
	if req.imagePath, err = checkImagePath(imagePath); err != nil {
		return req, err
	}
	if req.imagePath, err = proxiedURL(req.imagePath); err != nil {
		return req, err
	}
	if req.query, err = imgurl.SplitQuery(rawQuery); err != nil {
		return req, err
	}
	req.image = imageOf(route, req.imagePath, req.query.Forward, t.host)
	if req.query.Signature != "" || route.Endpoint.RestrictUnsignedURLs {
		target := strings.TrimPrefix(rawPath, route.BasePath)
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		if err := signing.Verify(route.Account.Keys, signing.StripParams(target), req.query.Signature, req.query.Expires, h.now()); err != nil {
			return req, err
		}
	}
	if req.tr, req.canonical, err = h.transformations.parse(steps, req.query.Transformation, route.Account); err != nil {
		return req, err
	}
	if req.tr.UsesHints() {
		// The variant is named by what the hints resolved to, so each hint
		// value the rounding allows has its own cache entry.
		req.tr, req.hints = req.tr.ResolveHints(t.hints)
		req.canonical = req.tr.String()
	}
	for _, st := range req.tr.Steps {
		if st.Original {
			req.original = true
		}
		if st.DefaultImage != "" {
			req.defaultImage = st.DefaultImage
		}
	}
	if req.original && req.tr.CountLayers() > 0 {
		return req, errkind.New(errkind.Invalid, "invalid_parameter", "orig-true serves the original untouched: it cannot be combined with layers")
	}
	req.format, req.vary = transform.NegotiateFormat(transform.RequestedFormat(req.tr), t.accept, route.Account.AVIFEnabled)
	return req, nil
}

// imageOf names the image of a request in the cache. The path and the
// forwarded query are in their one normal form (RFC 3986 §6.2.2), so
// spellings of one URL share an entry and one purge covers them; the Host
// is part of the name only when the endpoint's origins are sent it (a
// virtual-hosted origin answers per Host, so one Host's bytes must never
// answer another's).
func imageOf(route routing.Route, path, fwd, host string) cache.Image {
	img := cache.Image{Account: route.Account.ID, Endpoint: route.Endpoint.ID, PathQuery: path}
	if fwd != "" {
		img.PathQuery += "?" + imgurl.NormalizeEscapes(fwd)
	}
	for _, o := range route.Endpoint.Origins {
		if o.ForwardHostHeader {
			img.Host = routing.NormalizeHost(host)
			break
		}
	}
	return img
}

// requestTarget returns the path and query exactly as the client sent them:
// the signature covers the raw bytes, and the origin gets the same escaping.
func requestTarget(r *http.Request) (path, query string) {
	if strings.HasPrefix(r.RequestURI, "/") {
		path, query, _ = strings.Cut(r.RequestURI, "?")
		return path, query
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// proxiedURL reads an image path that is an absolute URL, for a web-proxy
// origin, as ImageKit takes it: plain ("https://host/a.jpg", or with its
// "//" merged into one by a client or proxy on the way) or percent-encoded
// whole ("https%3A%2F%2Fhost%2Fa.jpg"). It returns the URL in one escaped
// form, so every spelling shares a cache entry; a relative path is
// returned as it is.
func proxiedURL(path string) (string, error) {
	p, lower := path, strings.ToLower(path)
	if strings.HasPrefix(lower, "http%3a") || strings.HasPrefix(lower, "https%3a") {
		d, err := url.PathUnescape(p)
		if err != nil {
			return "", errkind.New(errkind.Invalid, "bad_path", "malformed path escaping")
		}
		p, lower = d, strings.ToLower(d)
	}
	if !strings.HasPrefix(lower, "http:/") && !strings.HasPrefix(lower, "https:/") {
		return path, nil
	}
	scheme, rest, _ := strings.Cut(p, ":")
	if strings.HasPrefix(rest, "///") {
		rest = "" // no host
	} else if !strings.HasPrefix(rest, "//") {
		rest = "/" + rest // the "//" merged into one on the way
	}
	u, err := url.Parse(strings.ToLower(scheme) + ":" + rest)
	if err != nil || rest == "" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", errkind.New(errkind.Invalid, "bad_proxy_url",
			"the image path is not a usable http(s) URL (a host, no user, its query in the request's own query string)")
	}
	u.Host = strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// canonicalURL is the Link rel="canonical" target of an image served by o:
// the base for canonical links and the path, or for a web proxy the
// proxied URL itself (its path under the base, when one is set).
func canonicalURL(o *routing.Origin, imagePath string) string {
	if !o.Proxy {
		return o.CanonicalBase + "/" + imagePath
	}
	if o.CanonicalBase == "" {
		return imagePath
	}
	u, err := url.Parse(imagePath)
	if err != nil {
		return imagePath
	}
	return o.CanonicalBase + u.EscapedPath()
}

// checkImagePath refuses paths that would climb out of the origin's base
// URL, however they are escaped, before anything is sent anywhere.
func checkImagePath(p string) (string, error) {
	if p == "" {
		return "", errkind.New(errkind.NotFound, "image_path_missing", "not found")
	}
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return "", errkind.New(errkind.Invalid, "bad_path", "malformed path escaping")
	}
	if strings.ContainsAny(decoded, "\\\x00") {
		return "", errkind.New(errkind.Invalid, "bad_path", "path contains a forbidden character")
	}
	for _, seg := range strings.Split(decoded, "/") {
		if seg == "." || seg == ".." {
			return "", errkind.New(errkind.Invalid, "bad_path", "path must not contain '.' or '..' segments")
		}
	}
	return imgurl.NormalizeEscapes(p), nil
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// respond writes a 200 (or 304) with the headers of DESIGN §6. Headers that
// come from config are computed here, per response, never stored. release
// is called once the body is no longer read. It returns the status and the
// body bytes written.
func respond(out responder, t target, req *request, v *variant, release cache.Releaser) (status, n int) {
	status = setImageHeaders(out, req, v, t.ifNoneMatch)
	if status != http.StatusOK || t.method == http.MethodHead {
		out.send(status, nil, nil)
		release.Release()
		return status, 0
	}
	out.send(status, v.body, release)
	return http.StatusOK, len(v.body)
}

// headerSetter is where setImageHeaders puts headers: net/http's header map
// or the fast front's response header. values are shared and never modified.
type headerSetter interface {
	setHeader(canonicalKey string, values []string)
}

// responder is one HTTP front's response: headers, then the status and
// body, which may be written after send returns (the fast front streams
// it); release, when not nil, is called once the body is no longer read.
type responder interface {
	headerSetter
	send(status int, body []byte, release cache.Releaser)
}

// netResponder is net/http's front.
type netResponder struct{ w http.ResponseWriter }

func (n netResponder) setHeader(k string, v []string) { n.w.Header()[k] = v }

func (n netResponder) send(status int, body []byte, release cache.Releaser) {
	n.w.WriteHeader(status)
	if body != nil {
		n.w.Write(body)
	}
	if release != nil {
		release.Release()
	}
}

// setImageHeaders sets the headers of an image response and returns its
// status: 304 when ifNoneMatch matches the variant's ETag, else 200 (with
// Content-Type and Content-Length).
func setImageHeaders(hdr headerSetter, req *request, v *variant, ifNoneMatch string) int {
	etag := v.etag
	hdr.setHeader("Etag", []string{etag})
	hdr.setHeader("Cache-Control", cacheControlOf(freshness.Answer{Stale: v.cacheStatus == "STALE",
		Private: v.private, NoStore: v.noStore, MaxAge: req.route.Account.CacheMaxAge}))
	if vary := varyValues[varyIndex(req.vary, req.hints)]; vary != nil {
		hdr.setHeader("Vary", vary)
	}
	if req.hints.ContentDPR > 0 {
		hdr.setHeader("Content-Dpr", []string{imgurl.FormatDPR(req.hints.ContentDPR)})
	}
	hdr.setHeader("Access-Control-Allow-Origin", anyOriginValue)
	hdr.setHeader("Access-Control-Expose-Headers", exposedHeadersValue)
	hdr.setHeader("X-Cache", []string{v.cacheStatus})
	if v.originDur > 0 || v.transDur > 0 {
		hdr.setHeader("Server-Timing", []string{"origin;dur=" + millis(v.originDur) + ", transform;dur=" + millis(v.transDur)})
	} else {
		hdr.setHeader("Server-Timing", cachedTimingValue)
	}
	for _, o := range req.route.Endpoint.Origins {
		if o.ID == v.sourceID && o.IncludeCanonicalHeader {
			hdr.setHeader("Link", []string{fmt.Sprintf(`<%s>; rel="canonical"`, canonicalURL(o, req.imagePath))})
		}
	}
	if req.query.Attachment {
		name := req.imagePath[strings.LastIndex(req.imagePath, "/")+1:]
		if u, err := url.PathUnescape(name); err == nil {
			name = u
		}
		hdr.setHeader("Content-Disposition", []string{fmt.Sprintf("attachment; filename=%q", sanitizeHeader(name))})
	}
	if etagMatches(ifNoneMatch, etag) {
		return http.StatusNotModified
	}
	hdr.setHeader("Content-Type", []string{v.contentType})
	hdr.setHeader("X-Content-Type-Options", nosniffValue)
	hdr.setHeader("Content-Length", []string{strconv.Itoa(len(v.body))})
	return http.StatusOK
}

// Constant header values, shared by every response; net/http never
// modifies them.
var (
	anyOriginValue      = []string{"*"}
	exposedHeadersValue = []string{exposedHeaders}
	nosniffValue        = []string{"nosniff"}
	cachedTimingValue   = []string{"origin;dur=0, transform;dur=0"}
	textPlainValue      = []string{"text/plain; charset=utf-8"}
)

// varyValues are the Vary values by varyIndex: what the answer depends on
// beyond the URL — Accept when the format was negotiated, and both
// spellings of each client hint the transformation consulted (either may
// be the one read).
var varyValues = func() [8][]string {
	var v [8][]string
	for i := range v {
		var names []string
		if i&1 != 0 {
			names = append(names, "Accept")
		}
		if i&2 != 0 {
			names = append(names, "Sec-CH-Width", "Width")
		}
		if i&4 != 0 {
			names = append(names, "Sec-CH-DPR", "DPR")
		}
		if names != nil {
			v[i] = []string{strings.Join(names, ", ")}
		}
	}
	return v
}()

func varyIndex(accept bool, hints imgurl.HintUse) int {
	i := 0
	if accept {
		i |= 1
	}
	if hints.Width {
		i |= 2
	}
	if hints.DPR {
		i |= 4
	}
	return i
}

// cacheControls memoises Cache-Control values: a handful of answers (per
// account max-age) serve every response, so none allocates one.
var cacheControls sync.Map // freshness.Answer → []string

func cacheControlOf(a freshness.Answer) []string {
	if v, ok := cacheControls.Load(a); ok {
		return v.([]string)
	}
	v, _ := cacheControls.LoadOrStore(a, []string{freshness.CacheControl(a)})
	return v.([]string)
}

// millis formats a duration as milliseconds with one decimal, for Server-Timing.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
