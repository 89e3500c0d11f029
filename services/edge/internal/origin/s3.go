package origin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"pictor/services/internal/errkind"
	"pictor/services/internal/objectstore"
)

// Buckets and containers (ImageKit's S3, S3_COMPATIBLE and AZURE_BLOB
// origins) are fetched as any original is — through the same guarded
// client, status walk, body limits, conditional GET and sniffing — with
// requests built by objectstore: SigV4-signed GETs for S3, GETs carrying
// the SAS token for Azure.

// regions remembers Amazon S3 buckets' regions.
type regions struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *regions) get(bucket string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	region, ok := r.m[bucket]
	return region, ok
}

func (r *regions) set(bucket, region string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]string{}
	}
	r.m[bucket] = region
}

// s3Region is the region to sign a request to s in: its own, the one
// remembered for its bucket, or, for Amazon S3, the one S3 names for it.
// A discovery that got no answer is not remembered: the next request asks
// again. A region remembered wrong is corrected by the first refusal that
// names the right one (movedRegion).
func (f *Fetcher) s3Region(ctx context.Context, s *objectstore.S3) string {
	switch {
	case s.Region != "":
		return s.Region
	case !s.Amazon():
		return objectstore.DefaultRegion
	}
	if r, ok := f.regions.get(s.Bucket); ok {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.ConnectTimeout+5*time.Second)
	defer cancel()
	r, ok := s.DiscoverRegion(ctx, f.client, f.cfg.S3URL, f.cfg.UserAgent)
	if ok {
		f.regions.set(s.Bucket, r)
	}
	return r
}

// movedRegion is the region an Amazon S3 answer says the bucket is in,
// when the request was signed for another (remembered for the next);
// "" when the answer is not that refusal.
func (f *Fetcher) movedRegion(src Source, signedFor string, resp *http.Response) string {
	if src.S3 == nil || !src.S3.Amazon() || src.S3.Region != "" {
		return ""
	}
	r := objectstore.MovedRegion(resp, signedFor)
	if r != "" {
		f.regions.set(src.S3.Bucket, r)
	}
	return r
}

// objectTarget is the URL of the image in a bucket or container, and the
// region an S3 request is to be signed for.
func (f *Fetcher) objectTarget(ctx context.Context, src Source, imagePath string) (target, region string, err error) {
	if src.Azure != nil {
		return src.Azure.BlobURL(f.cfg.AzureBlobURL, imagePath), "", nil
	}
	region = f.s3Region(ctx, src.S3)
	target, err = src.S3.ObjectURL(f.cfg.S3URL, region, imagePath)
	if err != nil {
		return "", "", errkind.Wrap(errkind.Internal, "s3_endpoint", "the S3 origin's endpoint is not a URL", err)
	}
	return target, region, nil
}
