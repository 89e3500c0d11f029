package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"pictor/services/internal/errkind"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/s3test"
	"pictor/services/internal/sniff"
)

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
		return Source{ID: id, S3: &objectstore.S3{Endpoint: srv.Endpoint, Bucket: "photos", Prefix: "shop", PathStyle: true,
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

// TestAmazonS3Region serves an Amazon S3 origin (no endpoint, no region)
// from SeaweedFS behind a front that answers as Amazon S3 does for a
// bucket in eu-west-1: an unsigned HEAD of the bucket names the region,
// and a request signed for another region is refused (400) naming it.
// The edge signs for eu-west-1 from its first GET, and a region it was
// never told (a failed discovery) is corrected by the first refusal.
func TestAmazonS3Region(t *testing.T) {
	const region = "eu-west-1"
	srv := s3test.Start(t)
	img := testJPEG(t)
	srv.Put(t, "photos", "shop/a.jpg", img)
	weed, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var signedFor []string
	headWorks := true
	proxy := httputil.NewSingleHostReverseProxy(weed)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodHead && r.Header.Get("Authorization") == "" {
			if !headWorks {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set(objectstore.RegionHeader, region)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		// Credential=AKID/20261202/REGION/s3/aws4_request
		_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		scope := strings.Split(strings.SplitN(cred, ",", 2)[0], "/")
		if len(scope) < 3 {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		signedFor = append(signedFor, scope[2])
		if scope[2] != region {
			w.Header().Set(objectstore.RegionHeader, region)
			http.Error(w, "<Error><Code>AuthorizationHeaderMalformed</Code></Error>", http.StatusBadRequest)
			return
		}
		proxy.ServeHTTP(w, r) // Host as signed: SeaweedFS checks the signature
	}))
	defer front.Close()
	amazon := Source{ID: "s3", S3: &objectstore.S3{Bucket: "photos", Prefix: "shop",
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey}}
	fetch := func(f *Fetcher) {
		t.Helper()
		res, err := f.Fetch(context.Background(), Request{Sources: []Source{amazon}, ImagePath: "a.jpg"})
		if err != nil || len(res.Body) != len(img) {
			t.Fatalf("fetch: %v", err)
		}
	}
	cfg := testConfig()
	cfg.S3URL = front.URL

	// Discovered before the first GET.
	fetch(New(cfg))
	if len(signedFor) != 1 || signedFor[0] != region {
		t.Fatalf("requests were signed for %v, want one for %s", signedFor, region)
	}

	// Discovery named no region (an answer without the header): signed
	// for us-east-1, refused, signed again for the region the refusal
	// names, and that is remembered.
	signedFor, headWorks = nil, false
	f := New(cfg)
	fetch(f)
	fetch(f)
	if want := []string{objectstore.DefaultRegion, region, region}; !slices.Equal(signedFor, want) {
		t.Fatalf("requests were signed for %v, want %v", signedFor, want)
	}
}
