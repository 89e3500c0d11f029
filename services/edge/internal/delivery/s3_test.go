package delivery

import (
	"testing"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/routing"
	"pictor/services/internal/s3test"
)

// TestS3OriginThroughTheEdge: an endpoint whose first origin is a bucket
// on a real S3-compatible server, its web server second, serves objects
// under the bucket's prefix and falls back for what the bucket lacks.
func TestS3OriginThroughTheEdge(t *testing.T) {
	srv := s3test.Start(t)
	srv.Put(t, "images", "site/products/shoe.jpg", photo(t, 400, 300))
	f := newFixture(t)
	snap := proto.CloneOf(f.snap)
	snap.Version++
	acc := snap.Accounts[0]
	acc.Origins = append(acc.Origins, &configv1.Origin{Id: "s3", Type: "S3_COMPATIBLE", Name: "bucket",
		Bucket: "images", Prefix: "site", AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		Endpoint: srv.Endpoint, S3ForcePathStyle: true})
	acc.Endpoints = append(acc.Endpoints, &configv1.Endpoint{Id: "ep-s3", UrlPrefix: "bucket", OriginIds: []string{"s3", "o1"}})
	table, err := routing.Build(snap)
	if err != nil {
		t.Fatal(err)
	}
	f.tables.Store(table)
	for _, tc := range []struct {
		name, target  string
		status, width int
	}{
		{"an object in the bucket", "/demo/bucket/tr:w-100/products/shoe.jpg", 200, 100},
		{"the web server behind it", "/demo/bucket/tr:w-120/photo.jpg", 200, 120},
		{"on neither", "/demo/bucket/tr:w-100/products/boot.jpg", 404, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("GET", tc.target, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.width > 0 {
				if got, _ := decodeSize(t, w.Body.Bytes()); got != tc.width {
					t.Fatalf("width %d, want %d", got, tc.width)
				}
			}
		})
	}
}
