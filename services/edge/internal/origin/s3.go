package origin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"pictor/services/internal/errkind"
)

// S3 origins (ImageKit's S3 and S3_COMPATIBLE). An object is fetched as
// any original is — through the same guarded client, status walk, body
// limits, conditional GET and sniffing — by a plain GET signed with SigV4.
// The signer is aws-sdk-go-v2's; its S3 client is not used, because it
// would bring its own HTTP path (retries, redirects, body handling) beside
// the one every origin goes through.

// S3 is a bucket an origin reads from.
type S3 struct {
	// Endpoint is the service's base URL: "" for Amazon S3 (the bucket's
	// regional endpoint, its region discovered), or an S3-compatible
	// service's.
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

// emptyPayload is the SHA-256 of a GET's empty body, which S3 wants in
// x-amz-content-sha256.
const emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const defaultRegion = "us-east-1"

// s3Target is the URL of imagePath's object in the bucket.
func s3Target(s *S3, region, imagePath string) (string, error) {
	key := underPrefix(s.Prefix, imagePath)
	if s.Endpoint == "" {
		host := "s3." + region + ".amazonaws.com"
		if region == defaultRegion {
			host = "s3.amazonaws.com"
		}
		if strings.Contains(s.Bucket, ".") {
			// A dotted bucket breaks the wildcard certificate in the host.
			return "https://" + host + "/" + s.Bucket + "/" + key, nil
		}
		return "https://" + s.Bucket + "." + host + "/" + key, nil
	}
	base, err := url.Parse(strings.TrimRight(s.Endpoint, "/"))
	if err != nil || base.Host == "" {
		return "", errkind.New(errkind.Internal, "s3_endpoint", "the S3 origin's endpoint is not a URL")
	}
	if s.PathStyle {
		return base.String() + "/" + s.Bucket + "/" + key, nil
	}
	base.Host = s.Bucket + "." + base.Host
	return base.String() + "/" + key, nil
}

// underPrefix is an object's key, escaped: the (unescaped) prefix, then
// the (escaped) image path.
func underPrefix(prefix, imagePath string) string {
	if prefix == "" {
		return imagePath
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/") + "/" + imagePath
}

// regions remembers Amazon S3 buckets' regions.
type regions struct {
	mu sync.Mutex
	m  map[string]string
}

// s3Region is the region to sign a request to s in: its own, the one
// remembered for its bucket, or, for Amazon S3, the one S3 names in the
// x-amz-bucket-region header of a HEAD on the bucket (sent even when the
// request itself is refused).
func (f *Fetcher) s3Region(ctx context.Context, s *S3) string {
	switch {
	case s.Region != "":
		return s.Region
	case s.Endpoint != "":
		return defaultRegion
	}
	f.regions.mu.Lock()
	r, ok := f.regions.m[s.Bucket]
	f.regions.mu.Unlock()
	if ok {
		return r
	}
	r = defaultRegion
	target, _ := s3Target(s, defaultRegion, "")
	ctx, cancel := context.WithTimeout(ctx, f.cfg.ConnectTimeout+5*time.Second)
	defer cancel()
	if req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil); err == nil {
		req.Header.Set("User-Agent", f.cfg.UserAgent)
		if resp, err := f.client.Do(req); err == nil {
			resp.Body.Close()
			if h := resp.Header.Get("X-Amz-Bucket-Region"); h != "" {
				r = h
			}
		}
	}
	f.regions.mu.Lock()
	if f.regions.m == nil {
		f.regions.m = map[string]string{}
	}
	f.regions.m[s.Bucket] = r
	f.regions.mu.Unlock()
	return r
}

// signS3 signs req for s with SigV4, once its other headers are set.
func signS3(ctx context.Context, req *http.Request, s *S3, region string) error {
	req.Header.Set("X-Amz-Content-Sha256", emptyPayload)
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	// S3 takes the path as sent, escaped once: no second escaping.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, creds, req, emptyPayload, "s3", region, time.Now()); err != nil {
		return errkind.Wrap(errkind.Internal, "s3_sign", "the request to the bucket could not be signed", err)
	}
	return nil
}
