package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"pictor/services/internal/errkind"
	"pictor/services/internal/s3test"
	"pictor/services/internal/sniff"
)

func TestS3Target(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s3     S3
		region string
		want   string
	}{
		{"Amazon, us-east-1", S3{Bucket: "photos", Prefix: "shop"}, "us-east-1", "https://photos.s3.amazonaws.com/shop/a.jpg"},
		{"Amazon, another region", S3{Bucket: "photos"}, "eu-west-3", "https://photos.s3.eu-west-3.amazonaws.com/a.jpg"},
		{"Amazon, dotted bucket in the path", S3{Bucket: "img.example.com"}, "eu-west-3", "https://s3.eu-west-3.amazonaws.com/img.example.com/a.jpg"},
		{"compatible, path style", S3{Endpoint: "http://127.0.0.1:9000/", Bucket: "b", Prefix: "a b/c", PathStyle: true}, "us-east-1", "http://127.0.0.1:9000/b/a%20b/c/a.jpg"},
		{"compatible, host style", S3{Endpoint: "https://s3.example.net", Bucket: "b"}, "us-east-1", "https://b.s3.example.net/a.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s3Target(&tc.s3, tc.region, "a.jpg")
			if err != nil || got != tc.want {
				t.Fatalf("s3Target = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestS3Origin fetches from a real S3-compatible server (SeaweedFS) with
// signed requests: objects under the prefix, a missing or refused object
// walking on to the next origin, revalidation, and the usual refusals.
func TestS3Origin(t *testing.T) {
	srv := s3test.Start(t)
	img := testJPEG(t)
	srv.Put(t, "photos", "shop/a b.jpg", img)
	srv.Put(t, "photos", "shop/page.html", []byte("<html>no</html>"))
	srv.Put(t, "photos", "outside.jpg", img)
	bucket := func(id, secret string) Source {
		return Source{ID: id, S3: &S3{Endpoint: srv.Endpoint, Bucket: "photos", Prefix: "shop", PathStyle: true,
			AccessKey: s3test.AccessKey, SecretKey: secret}}
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer web.Close()
	f := New(testConfig())
	for _, tc := range []struct {
		name    string
		sources []Source
		path    string
		from    string
		reason  string
	}{
		{name: "an object under the prefix", sources: []Source{bucket("s3", s3test.SecretKey)}, path: "a%20b.jpg", from: "s3"},
		{name: "missing walks on", sources: []Source{bucket("s3", s3test.SecretKey), source(t, "web", web.URL)}, path: "nope.jpg", from: "web"},
		{name: "wrong secret: refused, walks on", sources: []Source{bucket("s3", "wrong"), source(t, "web", web.URL)}, path: "a%20b.jpg", from: "web"},
		{name: "wrong secret alone", sources: []Source{bucket("s3", "wrong")}, path: "a%20b.jpg", reason: "not_found"},
		{name: "not an image", sources: []Source{bucket("s3", s3test.SecretKey)}, path: "page.html", reason: "origin_not_image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.Fetch(context.Background(), Request{Sources: tc.sources, ImagePath: tc.path})
			if tc.reason != "" {
				if errkind.Reason(err) != tc.reason {
					t.Fatalf("err = %v, want reason %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SourceID != tc.from || res.Format != sniff.JPEG || len(res.Body) != len(img) {
				t.Fatalf("got %s %s (%d bytes), want %s's JPEG", res.SourceID, res.Format, len(res.Body), tc.from)
			}
		})
	}
	// Revalidation: the object's ETag asked again is 304, not its bytes.
	first, err := f.Fetch(context.Background(), Request{Sources: []Source{bucket("s3", s3test.SecretKey)}, ImagePath: "a%20b.jpg"})
	if err != nil || first.ETag == "" {
		t.Fatalf("first fetch: %v, ETag %q", err, first.ETag)
	}
	again, err := f.Fetch(context.Background(), Request{Sources: []Source{bucket("s3", s3test.SecretKey)}, ImagePath: "a%20b.jpg", IfNoneMatch: first.ETag})
	if err != nil || !again.NotModified {
		t.Fatalf("conditional fetch: %+v, %v; want 304", again, err)
	}
}
