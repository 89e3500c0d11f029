// Package origin fetches source images from customers' web-server origins.
//
// It walks an endpoint's origins in preference order (404, 403 and 410 move
// on; anything else stops the walk), refuses to connect to non-public
// addresses at dial time (so every redirect hop and every DNS answer is
// checked on the socket address), caps the body while it streams, and only
// hands back bytes that look like an image. Nothing from the client's
// request (cookies, authorization, forwarding headers) is sent to an origin.
package origin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"pictor/services/edge/internal/bufpool"
	"pictor/services/edge/internal/membudget"
	"pictor/services/internal/errkind"
	"pictor/services/internal/hostmatch"
	"pictor/services/internal/netguard"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/sniff"
)

// Config holds the fetch limits (DESIGN §5).
type Config struct {
	ConnectTimeout time.Duration // per dial
	FetchTimeout   time.Duration // whole fetch, headers and body, per origin
	MaxBodyBytes   int64
	MaxRedirects   int
	AllowPrivate   bool // PICTOR_ALLOW_PRIVATE_ORIGINS: lifts the SSRF guard
	// AzureBlobURL is where Azure Blob accounts live ({account} the name;
	// objectstore.DefaultAzureBlobURL when "").
	AzureBlobURL string
	// S3URL is Amazon S3's service URL ({region} the bucket's;
	// objectstore.DefaultS3URL when "").
	S3URL     string
	UserAgent string
	// Guard overrides the address check (netguard.Check) — tests use it to
	// allow one loopback address and refuse another.
	Guard func(netip.Addr) string
	// Resolver looks origin host names up for the dialer; nil is the
	// system's. Tests inject one to script DNS answers (rebinding).
	Resolver *net.Resolver
	// TracerProvider, when set, makes each origin request (each redirect
	// hop) a client span "origin fetch" under the request's span. The
	// trace context is not sent to origins: they are the customers'.
	TracerProvider trace.TracerProvider
	// Memory, when set, is asked for a body's bytes before they are read:
	// the Content-Length when the origin sends one, else chunk by chunk as
	// they arrive. A refusal ends the fetch before the body is read.
	Memory Memory
}

// Memory leases bytes from the edge's memory budget (membudget.Budget).
type Memory interface {
	Reserve(ctx context.Context, n int64) (*membudget.Lease, error)
}

// DefaultConfig returns the limits of DESIGN §5.
func DefaultConfig() Config {
	return Config{
		ConnectTimeout: 3 * time.Second,
		FetchTimeout:   15 * time.Second,
		MaxBodyBytes:   40 << 20,
		MaxRedirects:   3,
		UserAgent:      "pictor-edge/dev",
	}
}

// Source is one origin of an endpoint, as the walk needs it.
type Source struct {
	ID                string
	BaseURL           *url.URL
	ForwardHostHeader bool
	// Proxy is a web-proxy origin: the image path is an absolute URL,
	// fetched only when its host, and every redirect's, is admitted by
	// AllowedHosts (hostmatch; any public host when empty). A proxy serves
	// only absolute paths, the other origins only relative ones.
	Proxy        bool
	AllowedHosts []string
	// S3, when set, is a bucket: paths are its objects' keys under the
	// prefix, fetched with signed requests.
	S3 *objectstore.S3
	// Azure, when set, is a blob container, read with its SAS token.
	Azure *objectstore.Azure
}

// IsAbsolute reports whether an image path is an absolute http(s) URL,
// which only a web-proxy origin serves.
func IsAbsolute(imagePath string) bool {
	p := strings.ToLower(imagePath)
	return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")
}

// allowedHostsKey carries a proxied fetch's host list to the redirect check.
type allowedHostsKey struct{}

// Request describes one image to fetch.
type Request struct {
	Sources      []Source
	ImagePath    string // escaped, no leading slash
	ForwardQuery string // raw query forwarded to the origin, "" for none
	ClientHost   string // the incoming Host, sent when a source forwards it
	// Validators for a conditional request (revalidating a cached copy).
	IfNoneMatch     string
	IfModifiedSince string
}

// Result is a fetched original.
type Result struct {
	SourceID string
	// Body is nil when NotModified. It comes from bufpool: whoever holds
	// the last reference may give it back with bufpool.Put.
	Body         []byte
	Format       sniff.Format
	ETag         string
	LastModified string
	CacheControl string
	NotModified  bool
	Elapsed      time.Duration
	// Shareable is false when the origin marks the response private
	// (Cache-Control private/no-store, or it sets a cookie): such a response
	// is served but never put in a shared cache. Private (private, or a
	// cookie) and NoStore say which, for what the edge answers.
	Shareable, Private, NoStore bool
	// MaxAge is the origin's Cache-Control max-age (or s-maxage), -1 if none.
	MaxAge time.Duration
	// Lease holds Body's bytes in the memory budget (nil without a
	// budget); whoever ends up owning the body releases it.
	Lease *membudget.Lease
}

// Fetcher fetches originals over HTTP with the SSRF guard in its dialer.
type Fetcher struct {
	cfg     Config
	client  *http.Client
	regions regions // of Amazon S3 buckets
}

// errFetchTimeout is the cause of a fetch that ran past FetchTimeout.
var errFetchTimeout = errors.New("origin fetch timeout")

// New returns a Fetcher. Its transport ignores proxy settings from the
// environment: with a proxy the dialer would only ever see the proxy's
// address and the SSRF guard would check the wrong thing.
func New(cfg Config) *Fetcher {
	dialer := &net.Dialer{
		Timeout:   cfg.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Resolver:  cfg.Resolver,
		Control:   netguard.DialControl(cfg.AllowPrivate, cfg.Guard),
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	var rt http.RoundTripper = transport
	if cfg.TracerProvider != nil {
		rt = otelhttp.NewTransport(transport,
			otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
			otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "origin fetch" }))
	}
	client := &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return errkind.New(errkind.BadGateway, "origin_too_many_redirects",
					fmt.Sprintf("origin redirected more than %d times", cfg.MaxRedirects))
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errkind.New(errkind.BadGateway, "origin_bad_redirect", "origin redirected to a non-HTTP URL")
			}
			if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
				return errkind.New(errkind.BadGateway, "origin_bad_redirect", "origin redirected from https to http")
			}
			if hosts, ok := req.Context().Value(allowedHostsKey{}).([]string); ok && !hostmatch.Match(req.URL.Host, hosts) {
				return errkind.New(errkind.BadGateway, "origin_redirect_host",
					"origin redirected to "+req.URL.Hostname()+", a host this web-proxy origin may not fetch from")
			}
			// Go copies the original headers to each hop; the Host override
			// must not follow a redirect to another host.
			req.Host = ""
			return nil
		},
	}
	return &Fetcher{cfg: cfg, client: client}
}

// Fetch walks req.Sources in order and returns the first image found. All
// sources missing is errkind.NotFound; any other failure stops the walk.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Result, error) {
	if len(req.Sources) == 0 {
		return nil, errkind.New(errkind.NotFound, "no_origin", "the URL-endpoint has no origin")
	}
	abs, tried := IsAbsolute(req.ImagePath), false
	for _, src := range req.Sources {
		if src.Proxy != abs {
			continue
		}
		tried = true
		res, err := f.fetchOne(ctx, src, req)
		if err == nil {
			return res, nil
		}
		if errkind.KindOf(err) != errkind.NotFound {
			return nil, err
		}
	}
	if !tried && abs {
		return nil, errkind.New(errkind.NotFound, "no_proxy_origin", "the URL-endpoint has no web-proxy origin for absolute URLs")
	}
	if !tried {
		return nil, errkind.New(errkind.NotFound, "no_origin", "the URL-endpoint has only web-proxy origins, which fetch absolute URLs")
	}
	return nil, errkind.New(errkind.NotFound, "not_found", "image not found on any origin")
}

func (f *Fetcher) fetchOne(ctx context.Context, src Source, req Request) (*Result, error) {
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.FetchTimeout, errFetchTimeout)
	defer cancel()

	hreq, region, err := f.newRequest(ctx, src, req)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(hreq)
	if err == nil {
		if moved := f.movedRegion(src, region, resp); moved != "" {
			// Signed for the wrong region (a bucket asked before S3
			// could say where it lives): once more, signed for its own.
			resp.Body.Close()
			if hreq, _, err = f.newRequest(ctx, src, req); err != nil {
				return nil, err
			}
			resp, err = f.client.Do(hreq)
		}
	}
	if err != nil {
		return nil, classify(parent, src, err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNotModified && (req.IfNoneMatch != "" || req.IfModifiedSince != ""):
		res := &Result{SourceID: src.ID, NotModified: true, ETag: resp.Header.Get("ETag"),
			LastModified: resp.Header.Get("Last-Modified"), CacheControl: resp.Header.Get("Cache-Control"),
			Elapsed: time.Since(start)}
		res.Shareable, res.Private, res.NoStore, res.MaxAge = cachePolicy(resp.Header)
		return res, nil
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusForbidden, resp.StatusCode == http.StatusGone:
		return nil, errkind.New(errkind.NotFound, "origin_missing", fmt.Sprintf("origin answered %d", resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, errkind.New(errkind.BadGateway, "origin_status",
			fmt.Sprintf("origin %s answered %d", src.ID, resp.StatusCode))
	}

	if resp.ContentLength > f.cfg.MaxBodyBytes {
		return nil, tooLarge(f.cfg.MaxBodyBytes)
	}
	body, lease, err := f.readBody(ctx, resp)
	if err != nil {
		if errkind.Of(err) != nil {
			return nil, err
		}
		return nil, classify(parent, src, err)
	}
	format := sniff.Sniff(body)
	if format == sniff.Unknown {
		lease.Release()
		return nil, errkind.New(errkind.BadGateway, "origin_not_image",
			fmt.Sprintf("origin %s did not return an image", src.ID))
	}
	res := &Result{
		SourceID:     src.ID,
		Body:         body,
		Format:       format,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		CacheControl: resp.Header.Get("Cache-Control"),
		Elapsed:      time.Since(start),
		Lease:        lease,
	}
	res.Shareable, res.Private, res.NoStore, res.MaxAge = cachePolicy(resp.Header)
	return res, nil
}

// newRequest is the GET for req's image on src, and the region an S3
// request was signed for. It carries the proxied fetch's allowed hosts in
// its context for the redirect check.
func (f *Fetcher) newRequest(ctx context.Context, src Source, req Request) (*http.Request, string, error) {
	target, region := req.ImagePath, ""
	switch {
	case src.S3 != nil || src.Azure != nil:
		var err error
		if target, region, err = f.objectTarget(ctx, src, req.ImagePath); err != nil {
			return nil, "", err
		}
	case !src.Proxy:
		target = strings.TrimRight(src.BaseURL.String(), "/") + "/" + req.ImagePath
	}
	// A bucket is not sent the client's query: it would name another
	// object version or sub-resource, and is not part of what is signed.
	bucket := src.S3 != nil || src.Azure != nil
	if req.ForwardQuery != "" && !bucket {
		target += "?" + req.ForwardQuery
	}
	if src.Proxy {
		ctx = context.WithValue(ctx, allowedHostsKey{}, src.AllowedHosts)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, "", errkind.Wrap(errkind.Invalid, "bad_image_path", "image path cannot be fetched", err)
	}
	if src.Proxy && !hostmatch.Match(hreq.URL.Host, src.AllowedHosts) {
		return nil, "", errkind.New(errkind.Forbidden, "proxy_host_not_allowed",
			"host "+hreq.URL.Hostname()+" is not among this web-proxy origin's allowed hosts")
	}
	hreq.Header.Set("User-Agent", f.cfg.UserAgent)
	hreq.Header.Set("X-Req-From", "pictor")
	hreq.Header.Set("Via", "1.1 pictor")
	hreq.Header.Set("Accept", "image/*,*/*;q=0.8")
	if src.ForwardHostHeader && !src.Proxy && !bucket && req.ClientHost != "" {
		hreq.Host = req.ClientHost
	}
	if req.IfNoneMatch != "" {
		hreq.Header.Set("If-None-Match", req.IfNoneMatch)
	}
	if req.IfModifiedSince != "" {
		hreq.Header.Set("If-Modified-Since", req.IfModifiedSince)
	}
	if src.S3 != nil {
		if err := src.S3.Sign(ctx, hreq, region); err != nil {
			return nil, "", errkind.Wrap(errkind.Internal, "s3_sign", "the request to the bucket could not be signed", err)
		}
	}
	return hreq, region, nil
}

// cachePolicy reads what the origin says about caching its response. A
// cookie makes the response private: it was meant for one client.
func cachePolicy(h http.Header) (shareable, private, noStore bool, maxAge time.Duration) {
	private, maxAge = len(h.Values("Set-Cookie")) > 0, -1
	var sMaxAge time.Duration = -1
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(strings.ToLower(d)), "=")
			switch name {
			case "private":
				private = true
			case "no-store":
				noStore = true
			case "max-age", "s-maxage":
				n, err := strconv.ParseInt(strings.Trim(arg, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if name == "s-maxage" {
					sMaxAge = time.Duration(n) * time.Second
				} else {
					maxAge = time.Duration(n) * time.Second
				}
			}
		}
	}
	if sMaxAge >= 0 {
		maxAge = sMaxAge // a shared cache obeys s-maxage over max-age
	}
	return !private && !noStore, private, noStore, maxAge
}

func tooLarge(max int64) error {
	return errkind.New(errkind.Unprocessable, "source_too_large",
		fmt.Sprintf("source image is larger than %d MB", max>>20))
}

// readBody reads the whole body, failing hard once more than the cap
// arrives: a silently truncated image must never be transformed or cached.
// With a Content-Length the bytes are leased up front and read into one
// buffer of exactly that size; without one they are leased and read in
// chunks as they arrive, then joined.
func (f *Fetcher) readBody(ctx context.Context, resp *http.Response) ([]byte, *membudget.Lease, error) {
	lease, err := f.reserve(ctx, max(resp.ContentLength, 0))
	if err != nil {
		return nil, nil, err
	}
	var body []byte
	if resp.ContentLength >= 0 {
		body = bufpool.Get(int(resp.ContentLength))
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = readChunked(ctx, resp.Body, f.cfg.MaxBodyBytes, lease)
	}
	if err != nil {
		lease.Release()
		bufpool.Put(body)
		return nil, nil, err
	}
	return body, lease, nil
}

// fill reads into buf until it is full or r fails; unlike io.ReadFull it
// keeps the reader's own io.EOF and io.ErrUnexpectedEOF apart.
func fill(r io.Reader, buf []byte) ([]byte, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return buf[:n], err
		}
	}
	return buf, nil
}

func (f *Fetcher) reserve(ctx context.Context, n int64) (*membudget.Lease, error) {
	if f.cfg.Memory == nil {
		return nil, nil // a nil lease holds nothing; its methods are no-ops
	}
	return f.cfg.Memory.Reserve(ctx, n)
}

// chunkSize is how much of a body without a Content-Length is leased at a
// time.
const chunkSize = 256 << 10

// readChunked reads a body of unknown length, leasing each chunk before
// reading it. Joining the chunks holds the body twice for a moment; the
// lease covers that, then gives the chunks' share back.
func readChunked(ctx context.Context, r io.Reader, max int64, lease *membudget.Lease) ([]byte, error) {
	var chunks [][]byte
	var total int64
	for {
		if err := lease.Grow(ctx, chunkSize); err != nil {
			return nil, err
		}
		chunk, err := fill(r, bufpool.Get(chunkSize))
		chunks = append(chunks, chunk)
		total += int64(len(chunk))
		if total > max {
			return nil, tooLarge(max)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err // io.ErrUnexpectedEOF here is a chunked body cut short
		}
	}
	if err := lease.Grow(ctx, total); err != nil {
		return nil, err
	}
	body := bufpool.Get(int(total))[:0]
	for _, c := range chunks {
		body = append(body, c...)
		bufpool.Put(c)
	}
	lease.Shrink(int64(len(chunks)) * chunkSize)
	return body, nil
}

// classify turns a transport error into a kind: timeouts are 504, refused
// addresses, certificates that fail verification, resets and short bodies
// 502.
func classify(parent context.Context, src Source, err error) error {
	if e := errkind.Of(err); e != nil {
		return e
	}
	if parent.Err() != nil {
		// The work this fetch was part of ran out of time, or its callers
		// all left: not the origin's doing, so no 504 names it.
		return errkind.Wrap(errkind.Unavailable, "work_timeout", "the image took too long to prepare, retry later", context.Cause(parent))
	}
	if problem, ok := certProblem(err); ok {
		return errkind.Wrap(errkind.BadGateway, "origin_tls",
			fmt.Sprintf("origin %s's TLS certificate is not valid%s", src.ID, problem), err)
	}
	var netErr net.Error
	switch {
	case errors.Is(err, netguard.ErrBlocked):
		return errkind.Wrap(errkind.BadGateway, "origin_address_blocked",
			fmt.Sprintf("origin %s resolves to an address that is not allowed", src.ID), err)
	case errors.Is(err, errFetchTimeout), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return errkind.Wrap(errkind.Timeout, "origin_timeout", fmt.Sprintf("origin %s timed out", src.ID), err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errkind.Wrap(errkind.BadGateway, "origin_short_body", fmt.Sprintf("origin %s closed the connection early", src.ID), err)
	case errors.Is(err, context.Canceled):
		return errkind.Wrap(errkind.Unavailable, "canceled", "request canceled", err)
	}
	return errkind.Wrap(errkind.BadGateway, "origin_unreachable", fmt.Sprintf("origin %s could not be reached", src.ID), err)
}

// certProblem reports whether err is the origin's certificate failing
// verification and, when it can tell, why, as a suffix safe for the client
// (the certificate is public: anyone connecting sees it).
func certProblem(err error) (string, bool) {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		return ": not issued by a trusted authority", true
	case errors.As(err, &hostname):
		return ": issued for another host name", true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ": expired or not yet valid", true
	case errors.As(err, &invalid), errors.As(err, &verify):
		return "", true
	}
	return "", false
}
