// Package probe fetches one image from an origin the way an edge would —
// the same SSRF guard at dial time and on every redirect, the same request
// headers, the same format sniffing — for the dashboard's "Test origin",
// so a customer sees what the edge would get before saving.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pictor/services/internal/hostmatch"
	"pictor/services/internal/netguard"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/sniff"
)

// Limits of one probe: a test, not a transfer.
const (
	Timeout      = 10 * time.Second
	MaxBytes     = 64 << 20
	maxRedirects = 3
	sniffBytes   = 4096
)

// Result is what the origin answered. Status 0 means no answer came
// (Error says why); Format is "" when the bytes are no image.
type Result struct {
	URL         string `json:"url"`
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Bytes       int64  `json:"bytes"`
	Format      string `json:"format"`
	Image       bool   `json:"image"`
	ElapsedMs   int64  `json:"elapsedMs"`
	Error       string `json:"error"`
}

// Prober fetches with a guarded client.
type Prober struct {
	client    *http.Client
	userAgent string
	// Where Amazon S3 buckets and Azure storage accounts live, as the
	// edges are told (PICTOR_S3_URL, PICTOR_AZURE_BLOB_URL).
	s3URL, azureURL string
}

type hostsKey struct{}

// refusal is a reason this package words itself, safe to show as it is.
type refusal string

func (r refusal) Error() string { return string(r) }

func refused(format string, args ...any) error { return refusal(fmt.Sprintf(format, args...)) }

// New returns a Prober; allowPrivate lifts the address guard
// (PICTOR_ALLOW_PRIVATE_ORIGINS, as for base URLs). s3URL and azureURL
// are where Amazon S3 and Azure Blob live ("" for Amazon's and Azure's
// public clouds).
func New(allowPrivate bool, s3URL, azureURL string) *Prober {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: netguard.DialControl(allowPrivate, nil)}
	transport := &http.Transport{Proxy: nil, DialContext: dialer.DialContext, TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression: true, MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) > maxRedirects:
			return refused("the origin redirected more than %d times", maxRedirects)
		case req.URL.Scheme != "http" && req.URL.Scheme != "https":
			return refused("the origin redirected to a non-HTTP URL")
		case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http":
			return refused("the origin redirected from https to http")
		}
		if hosts, ok := req.Context().Value(hostsKey{}).([]string); ok && !hostmatch.Match(req.URL.Host, hosts) {
			return refused("the origin redirected to %s, which is not among the allowed hosts", req.URL.Hostname())
		}
		return nil
	}}
	return &Prober{client: client, userAgent: "Pictor/1 (origin test)", s3URL: s3URL, azureURL: azureURL}
}

// Fetch GETs target (an absolute http(s) URL). A web proxy passes its
// allowed hosts (nil for any), checked for target and every redirect.
func (p *Prober) Fetch(ctx context.Context, target string, proxyHosts []string) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if proxyHosts != nil {
		ctx = context.WithValue(ctx, hostsKey{}, proxyHosts)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return done(Result{URL: target}, start, refused("the URL cannot be fetched"))
	}
	if proxyHosts != nil && !hostmatch.Match(req.URL.Host, proxyHosts) {
		return done(Result{URL: target}, start, refused("%s is not among the allowed hosts", req.URL.Hostname()))
	}
	p.setHeaders(req)
	return p.fetch(req, start, true)
}

// FetchS3 GETs the object at imagePath (escaped) in an S3 bucket, signed
// as an edge signs it; an Amazon bucket's region is asked of S3 first.
func (p *Prober) FetchS3(ctx context.Context, s *objectstore.S3, imagePath string) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	region := s.Region
	if region == "" {
		region = objectstore.DefaultRegion
		if s.Amazon() {
			region, _ = s.DiscoverRegion(ctx, p.client, p.s3URL, p.userAgent)
		}
	}
	target, err := s.ObjectURL(p.s3URL, region, imagePath)
	if err != nil {
		return done(Result{}, start, refused("the bucket's endpoint is not an http(s) URL"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return done(Result{URL: target}, start, refused("the object's URL cannot be fetched"))
	}
	p.setHeaders(req) // before signing: the signature covers them
	if err := s.Sign(ctx, req, region); err != nil {
		return done(Result{URL: target}, start, refused("the request could not be signed"))
	}
	return p.fetch(req, start, true)
}

// FetchAzure GETs the blob at imagePath (escaped) in an Azure container
// with its SAS token. The URL shown back leaves the token out.
func (p *Prober) FetchAzure(ctx context.Context, a *objectstore.Azure, imagePath string) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	target := a.BlobURL(p.azureURL, imagePath)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return done(Result{URL: withoutQuery(target)}, start, refused("the blob's URL cannot be fetched"))
	}
	p.setHeaders(req)
	return p.fetch(req, start, false)
}

func (p *Prober) setHeaders(req *http.Request) {
	req.Header.Set("User-Agent", p.userAgent)
	req.Header.Set("Via", "1.1 pictor")
	req.Header.Set("X-Req-From", "pictor")
	req.Header.Set("Accept", "image/*,*/*;q=0.8")
}

// fetch sends req (its headers set, and signed when it is) and reads what
// came back. showQuery false keeps the
// request's query (a SAS token) out of the Result.
func (p *Prober) fetch(req *http.Request, start time.Time, showQuery bool) Result {
	show := func(u *url.URL) string {
		if showQuery {
			return u.String()
		}
		return withoutQuery(u.String())
	}
	res := Result{URL: show(req.URL)}
	resp, err := p.client.Do(req)
	if err != nil {
		return done(res, start, err)
	}
	defer resp.Body.Close()
	res.Status, res.ContentType, res.URL = resp.StatusCode, resp.Header.Get("Content-Type"), show(resp.Request.URL)
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return done(res, start, err)
	}
	rest, err := io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBytes-int64(n)+1))
	res.Bytes = int64(n) + rest
	if err != nil {
		return done(res, start, err)
	}
	if res.Bytes > MaxBytes {
		return done(res, start, refused("the answer is over %d MB", MaxBytes>>20))
	}
	if f := sniff.Sniff(head[:n]); f != sniff.Unknown && resp.StatusCode == http.StatusOK {
		res.Format = string(f)
		res.Image = f != sniff.TrueType && f != sniff.OpenType
	}
	return done(res, start, nil)
}

func done(res Result, start time.Time, err error) Result {
	res.ElapsedMs = time.Since(start).Milliseconds()
	if err != nil {
		res.Error = safe(err)
	}
	return res
}

func withoutQuery(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base
}

// safe words a failure for the customer without internal detail.
func safe(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var dns *net.DNSError
	var own refusal
	switch {
	case errors.As(err, &own):
		return string(own)
	case errors.Is(err, netguard.ErrBlocked):
		return "the address is not allowed: it is private, loopback or otherwise not public"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("the origin did not answer within %s", Timeout)
	case errors.As(err, &dns):
		return "the host name does not resolve"
	case strings.Contains(err.Error(), "connection refused"):
		return "the connection was refused"
	case strings.Contains(err.Error(), "certificate"):
		return "the origin's TLS certificate is not valid"
	}
	return "the fetch failed (the connection broke or the answer was malformed)"
}
