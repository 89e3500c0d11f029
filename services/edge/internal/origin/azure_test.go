package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"pictor/services/internal/azuretest"
	"pictor/services/internal/errkind"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/sniff"
)

// TestAzureOrigin fetches from Azurite with a container SAS token: blobs
// under the prefix, a missing blob or a bad token walking on, 304 on
// revalidation.
func TestAzureOrigin(t *testing.T) {
	az := azuretest.Start(t)
	img := testJPEG(t)
	az.Put(t, "images", "site/a b.jpg", img)
	token := az.SAS(t, "images")
	cfg := testConfig()
	cfg.AzureBlobURL = az.URLTemplate
	f := New(cfg)
	blob := func(id, sas string) Source {
		return Source{ID: id, Azure: &objectstore.Azure{Account: azuretest.Account, Container: "images", Prefix: "site", SAS: sas}}
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer web.Close()
	for _, tc := range []struct {
		name    string
		sources []Source
		path    string
		from    string
		reason  string
	}{
		{name: "a blob under the prefix", sources: []Source{blob("az", token)}, path: "a%20b.jpg", from: "az"},
		{name: "a token with its '?'", sources: []Source{blob("az", "?"+token)}, path: "a%20b.jpg", from: "az"},
		{name: "missing walks on", sources: []Source{blob("az", token), source(t, "web", web.URL)}, path: "nope.jpg", from: "web"},
		{name: "a forged token is refused, walks on", sources: []Source{blob("az", token+"x"), source(t, "web", web.URL)}, path: "a%20b.jpg", from: "web"},
		{name: "a forged token alone", sources: []Source{blob("az", "sv=2024-08-04&sig=Zm9yZ2Vk")}, path: "a%20b.jpg", reason: "not_found"},
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
	first, err := f.Fetch(context.Background(), Request{Sources: []Source{blob("az", token)}, ImagePath: "a%20b.jpg"})
	if err != nil || first.ETag == "" {
		t.Fatalf("first fetch: %v, ETag %q", err, first.ETag)
	}
	again, err := f.Fetch(context.Background(), Request{Sources: []Source{blob("az", token)}, ImagePath: "a%20b.jpg", IfNoneMatch: first.ETag})
	if err != nil || !again.NotModified {
		t.Fatalf("conditional fetch: %+v, %v; want 304", again, err)
	}
}
