package httpapi_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/internal/azuretest"
	"pictor/services/internal/s3test"
)

// TestOriginTestBuckets: "Test origin" reads an object from a real
// S3-compatible server (SeaweedFS, also standing in for Amazon S3 at
// PICTOR_S3_URL) and a blob from Azurite, signed or carrying its token as
// an edge would; a saved origin is tried with its stored secret, which
// never comes back, and neither secret is in what the test shows.
func TestOriginTestBuckets(t *testing.T) {
	t.Parallel()
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 8, 6)), nil); err != nil {
		t.Fatal(err)
	}
	store, az := s3test.Start(t), azuretest.Start(t)
	store.Put(t, "probe-images", "site/a b.jpg", jpg.Bytes())
	az.Put(t, "probe-images", "site/a b.jpg", jpg.Bytes())
	token := az.SAS(t, "probe-images")
	sig := token[strings.Index(token, "sig="):]
	a := newAPI(t, allowPrivate, func(o *httpapi.Options) { o.S3URL, o.AzureBlobURL = store.Endpoint, az.URLTemplate })
	k := a.createAccount("acme").PrivateKey
	other := a.createAccount("other").PrivateKey

	compatible := map[string]any{"type": "S3_COMPATIBLE", "name": "b", "bucket": "probe-images", "prefix": "site",
		"accessKey": s3test.AccessKey, "endpoint": store.Endpoint, "s3ForcePathStyle": true}
	amazon := map[string]any{"type": "S3", "name": "b", "bucket": "probe-images", "prefix": "site", "accessKey": s3test.AccessKey}
	container := map[string]any{"type": "AZURE_BLOB", "name": "z", "container": "probe-images", "accountName": azuretest.Account, "prefix": "site"}
	with := func(o map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range o {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	saved := func(body map[string]any) string {
		t.Helper()
		return ok[struct {
			ID string `json:"id"`
		}](t, a.do("POST", "/v1/accounts/origins", jsonBody(body), key(k)), http.StatusCreated).ID
	}
	savedBucket := saved(with(compatible, "secretKey", s3test.SecretKey))
	savedContainer := saved(with(container, "sasToken", token))

	for _, tc := range []struct {
		name     string
		key      string
		body     map[string]any
		status   int
		image    bool
		badField string
		notFound bool
	}{
		{name: "S3-compatible, unsaved", body: with(compatible, "secretKey", s3test.SecretKey, "path", "a b.jpg"), status: 200, image: true},
		{name: "Amazon S3 type, unsaved", body: with(amazon, "secretKey", s3test.SecretKey, "path", "a%20b.jpg"), status: 200, image: true},
		{name: "S3, missing object", body: with(compatible, "secretKey", s3test.SecretKey, "path", "nope.jpg"), status: 404},
		{name: "S3, wrong secret", body: with(compatible, "secretKey", "wrong", "path", "a b.jpg"), status: 403},
		{name: "S3, saved: its stored secret", body: with(compatible, "id", savedBucket, "path", "a b.jpg"), status: 200, image: true},
		{name: "S3, saved, a new secret sent wins", body: with(compatible, "id", savedBucket, "secretKey", "wrong", "path", "a b.jpg"), status: 403},
		{name: "S3, no secret and not saved", body: with(compatible, "path", "a b.jpg"), badField: "secretKey"},
		{name: "S3, another account's origin", key: other, body: with(compatible, "id", savedBucket, "path", "a b.jpg"), notFound: true},
		{name: "S3, climbing path", body: with(compatible, "secretKey", "x", "path", "../a.jpg"), badField: "path"},
		{name: "Azure, unsaved", body: with(container, "sasToken", token, "path", "a b.jpg"), status: 200, image: true},
		{name: "Azure, saved: its stored token", body: with(container, "id", savedContainer, "path", "a b.jpg"), status: 200, image: true},
		{name: "Azure, a forged token", body: with(container, "sasToken", token+"x", "path", "a b.jpg"), status: 403},
		{name: "Azure, a bucket's id holds no token", body: with(container, "id", savedBucket, "path", "a b.jpg"), badField: "sasToken"},
		{name: "Azure, no token and not saved", body: with(container, "path", "a b.jpg"), badField: "sasToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller := k
			if tc.key != "" {
				caller = tc.key
			}
			r := a.do("POST", "/v1/accounts/origins/test", jsonBody(tc.body), key(caller))
			switch {
			case tc.badField != "":
				wantError(t, r, http.StatusBadRequest, tc.badField)
				return
			case tc.notFound:
				wantError(t, r, http.StatusNotFound, "")
				return
			}
			got := ok[originTest](t, r, http.StatusOK)
			if got.Status != tc.status || got.Image != tc.image || got.Error != "" {
				t.Fatalf("got %+v, want status %d, image %v", got, tc.status, tc.image)
			}
			if tc.image && (got.Format != "jpeg" || got.Bytes != int64(jpg.Len()) || !strings.HasSuffix(got.URL, "/probe-images/site/a%20b.jpg")) {
				t.Fatalf("got %+v, want the %d-byte JPEG at site/a%%20b.jpg", got, jpg.Len())
			}
			if strings.Contains(string(r.body), s3test.SecretKey) || strings.Contains(string(r.body), sig) {
				t.Fatalf("a secret is in the answer: %s", r.body)
			}
		})
	}
}
