// Package objectstore addresses images kept in object storage — Amazon S3
// and S3-compatible services (requests signed with SigV4), Azure Blob
// containers (read with a SAS token) — so the edge's fetcher and the
// control plane's "Test origin" build the very same requests.
//
// Requests are plain GETs sent by the caller's own HTTP client: the edge
// sends them through the one guarded path every origin takes (dial guard,
// limits, conditional GET, sniffing). The signer is aws-sdk-go-v2's; no
// SDK client is used, because each would bring its own retries, redirects
// and body handling beside that path.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// DefaultS3URL is Amazon S3's regional service URL, {region} the
// bucket's region. PICTOR_S3_URL replaces it (another partition, a FIPS or
// dual-stack endpoint, or a test server).
const DefaultS3URL = "https://s3.{region}.amazonaws.com"

// DefaultAzureBlobURL is Azure's public cloud, {account} the storage
// account's name. PICTOR_AZURE_BLOB_URL replaces it (a sovereign cloud,
// Azurite).
const DefaultAzureBlobURL = "https://{account}.blob.core.windows.net"

// DefaultRegion signs requests whose region is not known (yet).
const DefaultRegion = "us-east-1"

// emptyPayload is the SHA-256 of a GET's empty body, which S3 wants in
// x-amz-content-sha256.
const emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// S3 is a bucket an origin reads from.
type S3 struct {
	// Endpoint is an S3-compatible service's base URL; "" is Amazon S3,
	// at the service URL the caller is configured with (DefaultS3URL).
	Endpoint  string
	Bucket    string
	Prefix    string // key prefix, no leading or trailing '/'
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket in the path (host/bucket/key), as
	// most S3-compatible services want; otherwise in the host.
	PathStyle bool
	// Region signs requests; "" discovers it for Amazon S3 and means
	// us-east-1 elsewhere.
	Region string
}

// Amazon reports whether the bucket is Amazon S3's (its region found by
// asking S3) rather than an S3-compatible service's.
func (s *S3) Amazon() bool { return s.Endpoint == "" }

// CheckS3URL checks an Amazon S3 service URL template: http(s), no query,
// {region} optional (a single-region endpoint has none).
func CheckS3URL(t string) error {
	u, err := url.Parse(strings.ReplaceAll(t, "{region}", DefaultRegion))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return errors.New("want an http(s) URL such as " + DefaultS3URL)
	}
	return nil
}

// ObjectURL is the URL of imagePath's object (imagePath escaped, under
// the prefix). serviceURL is Amazon S3's template (DefaultS3URL when "")
// and region the region the request is signed for.
func (s *S3) ObjectURL(serviceURL, region, imagePath string) (string, error) {
	key := UnderPrefix(s.Prefix, imagePath)
	base, pathStyle := s.Endpoint, s.PathStyle
	if s.Amazon() {
		if serviceURL == "" {
			serviceURL = DefaultS3URL
		}
		base = strings.ReplaceAll(serviceURL, "{region}", region)
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", errors.New("the S3 service URL is not an http(s) URL")
	}
	if s.Amazon() {
		// A dotted bucket would break the wildcard certificate in the
		// host; an address or a name without dots cannot take a bucket
		// in front of it.
		host := u.Hostname()
		pathStyle = strings.Contains(s.Bucket, ".") || net.ParseIP(host) != nil || !strings.Contains(host, ".")
	}
	if pathStyle {
		return u.String() + "/" + s.Bucket + "/" + key, nil
	}
	u.Host = s.Bucket + "." + u.Host
	return u.String() + "/" + key, nil
}

// Sign signs req for the bucket with SigV4, once its other headers are set.
func (s *S3) Sign(ctx context.Context, req *http.Request, region string) error {
	req.Header.Set("X-Amz-Content-Sha256", emptyPayload)
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	// S3 takes the path as sent, escaped once: no second escaping.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, creds, req, emptyPayload, "s3", region, time.Now()); err != nil {
		return fmt.Errorf("sign request to bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// RegionHeader is where Amazon S3 names a bucket's region: on a HEAD of
// the bucket, and on a request signed for the wrong region, which S3
// refuses (301 or 400) while naming the right one.
const RegionHeader = "X-Amz-Bucket-Region"

// MovedRegion is the region S3 names when it refuses a request signed for
// another one ("" when the answer is not such a refusal).
func MovedRegion(resp *http.Response, signedFor string) string {
	r := resp.Header.Get(RegionHeader)
	if r == "" || r == signedFor {
		return ""
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusBadRequest, http.StatusTemporaryRedirect:
		return r
	}
	return ""
}

// Doer sends a request: the caller's guarded HTTP client.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// DiscoverRegion asks Amazon S3 where an Amazon bucket lives, by an
// unsigned HEAD of the bucket at the us-east-1 service URL: S3 names the
// region even when it refuses the request, and an answer naming none
// means DefaultRegion. ok is false when no answer came at all (the caller
// should not remember DefaultRegion then).
func (s *S3) DiscoverRegion(ctx context.Context, client Doer, serviceURL, userAgent string) (region string, ok bool) {
	target, err := s.ObjectURL(serviceURL, DefaultRegion, "")
	if err != nil {
		return DefaultRegion, false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err != nil {
		return DefaultRegion, false
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return DefaultRegion, false
	}
	resp.Body.Close()
	if r := resp.Header.Get(RegionHeader); r != "" {
		return r, true
	}
	return DefaultRegion, true
}

// Azure is a Blob Storage container an origin reads from.
type Azure struct {
	Account   string
	Container string
	Prefix    string // no leading or trailing '/'
	SAS       string // the SAS token, a query string with or without '?'
}

// CheckAzureBlobURL checks the account URL template: http(s), with
// {account} in it.
func CheckAzureBlobURL(t string) error {
	if !strings.Contains(t, "{account}") {
		return errors.New("want a URL with {account} in it, such as " + DefaultAzureBlobURL)
	}
	u, err := url.Parse(strings.ReplaceAll(t, "{account}", "account"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return errors.New("want an http(s) URL such as " + DefaultAzureBlobURL)
	}
	return nil
}

// BlobURL is the URL of imagePath's blob, its SAS token as the query; the
// token is the whole authorisation, so nothing is signed. template is
// where accounts live (DefaultAzureBlobURL when "").
func (a *Azure) BlobURL(template, imagePath string) string {
	if template == "" {
		template = DefaultAzureBlobURL
	}
	name := UnderPrefix(a.Prefix, imagePath)
	base := strings.TrimRight(strings.ReplaceAll(template, "{account}", a.Account), "/")
	return base + "/" + a.Container + "/" + name + "?" + strings.TrimPrefix(a.SAS, "?")
}

// UnderPrefix is an object's key, escaped: the (unescaped) prefix, then
// the (already escaped) image path.
func UnderPrefix(prefix, imagePath string) string {
	if prefix == "" {
		return imagePath
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/") + "/" + imagePath
}
