package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/tenant"
)

// bucketOrigin is an S3 or S3_COMPATIBLE origin as the API returns it.
type bucketOrigin struct {
	ID                        string `json:"id"`
	Type                      string `json:"type"`
	Name                      string `json:"name"`
	ForwardHostHeaderToOrigin bool   `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool   `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string `json:"baseUrlForCanonicalHeader"`
	Bucket                    string `json:"bucket"`
	Prefix                    string `json:"prefix"`
	AccessKey                 string `json:"accessKey"`
	Endpoint                  string `json:"endpoint"`
	S3ForcePathStyle          bool   `json:"s3ForcePathStyle"`
}

// The JSON fields of the bucket types: ImageKit's plus accessKey (and
// forwardHostHeaderToOrigin, present on every type); never secretKey.
var (
	s3Fields           = []string{"id", "type", "name", "forwardHostHeaderToOrigin", "includeCanonicalHeader", "baseUrlForCanonicalHeader", "bucket", "prefix", "accessKey"}
	s3CompatibleFields = append(slices.Clone(s3Fields), "endpoint", "s3ForcePathStyle")
)

// edgeSecret returns the secret key the snapshot builder would send for
// the origin: the stored ciphertext opened with the API's keyring.
func (a *api) edgeSecret(id string) string {
	a.t.Helper()
	o, found := a.edgeOrigin(id)
	if !found {
		a.t.Fatalf("origin %s is not in the config", id)
	}
	if o.SecretKey != "" {
		a.t.Fatalf("the snapshot source read origin %s's secret in the clear", id)
	}
	if o.SecretKeyCiphertext == nil {
		return ""
	}
	secret, err := a.keys.OpenOriginSecret(id, o.SecretKeyCiphertext)
	if err != nil {
		a.t.Fatalf("open origin %s's secret: %v", id, err)
	}
	return secret
}

func TestS3Origins(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	const (
		secret1 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		secret2 = "second+Secret/Key=value/2024"
		secret3 = "minio-Secret-0123456789"
	)
	// Every response of the test: none may hold a secret, and no success
	// a secretKey field.
	var responses []response
	do := func(method, path string, body io.Reader) response {
		t.Helper()
		r := a.do(method, path, body, key(k))
		responses = append(responses, r)
		return r
	}
	folder := a.createOrigin(k, "Folder", "https://www.acme.example/img")
	v0 := a.version()

	// S3 as ImageKit's SDK sends it; a trailing '/' of the prefix is dropped.
	r := do("POST", "/v1/accounts/origins", jsonBody(map[string]any{
		"type": "S3", "name": "Bucket", "bucket": "acme-images", "prefix": "originals/2024/",
		"accessKey": "AKIAIOSFODNN7EXAMPLE", "secretKey": secret1, "includeCanonicalHeader": true,
		"baseUrlForCanonicalHeader": "https://www.acme.example", "id": "ignored",
	}))
	s3 := ok[bucketOrigin](t, r, http.StatusCreated)
	wantFields(t, r.body, s3Fields...)
	want := bucketOrigin{ID: s3.ID, Type: "S3", Name: "Bucket", IncludeCanonicalHeader: true, BaseURLForCanonicalHeader: "https://www.acme.example",
		Bucket: "acme-images", Prefix: "originals/2024", AccessKey: "AKIAIOSFODNN7EXAMPLE"}
	if !tenant.ValidID(s3.ID) || s3 != want {
		t.Fatalf("created %+v, want %+v", s3, want)
	}
	if got, _ := a.edgeOrigin(s3.ID); got.Type != tenant.OriginS3 || got.Bucket != "acme-images" || got.Prefix != "originals/2024" ||
		got.AccessKey != "AKIAIOSFODNN7EXAMPLE" || got.BaseURL != "" || got.Endpoint != "" {
		t.Fatalf("edge view %+v", got)
	}
	if s := a.edgeSecret(s3.ID); s != secret1 {
		t.Fatalf("stored secret %q, want %q", s, secret1)
	}
	// Sealed in the database: the secret is nowhere in the clear.
	var leaked bool
	if err := a.super.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM origins o WHERE strpos(o::text, $1) > 0)
		OR EXISTS (SELECT 1 FROM audit_log l WHERE strpos(l::text, $1) > 0)`, secret1).Scan(&leaked); err != nil || leaked {
		t.Fatalf("secret stored in the clear (%v)", err)
	}

	// S3_COMPATIBLE, without prefix.
	r = do("POST", "/v1/accounts/origins", jsonBody(map[string]any{
		"type": "S3_COMPATIBLE", "name": "MinIO", "bucket": "media", "accessKey": "minio",
		"secretKey": secret3, "endpoint": "https://s3.acme.example", "s3ForcePathStyle": true,
	}))
	compat := ok[bucketOrigin](t, r, http.StatusCreated)
	wantFields(t, r.body, s3CompatibleFields...)
	if want := (bucketOrigin{ID: compat.ID, Type: "S3_COMPATIBLE", Name: "MinIO", Bucket: "media", AccessKey: "minio",
		Endpoint: "https://s3.acme.example", S3ForcePathStyle: true}); compat != want {
		t.Fatalf("created %+v, want %+v", compat, want)
	}
	if !strings.Contains(string(r.body), `"prefix":""`) || !strings.Contains(string(r.body), `"s3ForcePathStyle":true`) {
		t.Fatalf("created %s", r.body)
	}
	if got, _ := a.edgeOrigin(compat.ID); got.Endpoint != "https://s3.acme.example" || !got.S3ForcePathStyle || a.edgeSecret(compat.ID) != secret3 {
		t.Fatalf("edge view %+v", got)
	}
	if v := a.version(); v != v0+2 {
		t.Fatalf("version %d after two creates, want %d", v, v0+2)
	}

	// List and get: each type in its own shape.
	r = do("GET", "/v1/accounts/origins", nil)
	list := ok[[]map[string]any](t, r, http.StatusOK)
	if len(list) != 3 || list[0]["id"] != folder.ID || list[1]["id"] != s3.ID || list[2]["id"] != compat.ID {
		t.Fatalf("list %s", r.body)
	}
	for i, fields := range [][]string{webFolderFields, s3Fields, s3CompatibleFields} {
		var got []string
		for f := range list[i] {
			got = append(got, f)
		}
		slices.Sort(got)
		if wantSorted := slices.Sorted(slices.Values(fields)); !slices.Equal(got, wantSorted) {
			t.Fatalf("list[%d] fields %v, want %v", i, got, wantSorted)
		}
	}
	r = do("GET", "/v1/accounts/origins/"+s3.ID, nil)
	if got := ok[bucketOrigin](t, r, http.StatusOK); got != s3 {
		t.Fatalf("get %s", r.body)
	}
	wantFields(t, r.body, s3Fields...)

	// PUT without secretKey keeps the stored one; "" too.
	r = do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "S3", "name": "Bucket 2", "bucket": "acme-images-2", "accessKey": "AKIA2",
	}))
	if got := ok[bucketOrigin](t, r, http.StatusOK); got.Name != "Bucket 2" || got.Bucket != "acme-images-2" || got.Prefix != "" ||
		got.AccessKey != "AKIA2" || got.IncludeCanonicalHeader || got.BaseURLForCanonicalHeader != "" {
		t.Fatalf("put %s", r.body)
	}
	wantFields(t, r.body, s3Fields...)
	if s := a.edgeSecret(s3.ID); s != secret1 {
		t.Fatalf("secret after a PUT without one: %q, want the old one", s)
	}
	ok[bucketOrigin](t, do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "S3", "name": "Bucket 2", "bucket": "acme-images-2", "accessKey": "AKIA2", "secretKey": "",
	})), http.StatusOK)
	if s := a.edgeSecret(s3.ID); s != secret1 {
		t.Fatalf("secret after a PUT with an empty one: %q, want the old one", s)
	}
	// With a new one: replaced.
	ok[bucketOrigin](t, do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "S3", "name": "Bucket 2", "bucket": "acme-images-2", "accessKey": "AKIA2", "secretKey": secret2,
	})), http.StatusOK)
	if s := a.edgeSecret(s3.ID); s != secret2 {
		t.Fatalf("secret after a PUT with a new one: %q, want %q", s, secret2)
	}

	// S3 -> S3_COMPATIBLE keeps the secret when not resent; the shape follows.
	r = do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "S3_COMPATIBLE", "name": "Now R2", "bucket": "acme-images-2", "accessKey": "AKIA2", "endpoint": "https://r2.acme.example",
	}))
	if got := ok[bucketOrigin](t, r, http.StatusOK); got.Type != "S3_COMPATIBLE" || got.Endpoint != "https://r2.acme.example" || got.S3ForcePathStyle {
		t.Fatalf("put as S3_COMPATIBLE %s", r.body)
	}
	wantFields(t, r.body, s3CompatibleFields...)
	if s := a.edgeSecret(s3.ID); s != secret2 {
		t.Fatalf("secret after S3 -> S3_COMPATIBLE: %q, want %q", s, secret2)
	}
	// And back: the endpoint goes.
	r = do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "S3", "name": "Bucket 3", "bucket": "acme-images-2", "accessKey": "AKIA2",
	}))
	ok[bucketOrigin](t, r, http.StatusOK)
	wantFields(t, r.body, s3Fields...)
	if got, _ := a.edgeOrigin(s3.ID); got.Endpoint != "" || a.edgeSecret(s3.ID) != secret2 {
		t.Fatalf("edge view after S3_COMPATIBLE -> S3 %+v", got)
	}

	// A URL-endpoint lists a bucket beside a web folder.
	ep := a.createEndpoint(k, map[string]any{"description": "Mixed", "urlPrefix": "mixed", "origins": []string{s3.ID, folder.ID, compat.ID}})
	if !slices.Equal(ep.Origins, []string{s3.ID, folder.ID, compat.ID}) {
		t.Fatalf("endpoint origins %v", ep.Origins)
	}
	for _, e := range a.state().Accounts[0].Endpoints {
		if e.ID == ep.ID && !slices.Equal(e.OriginIDs, ep.Origins) {
			t.Fatalf("edge view of the endpoint %v", e.OriginIDs)
		}
	}

	// Turned into a WEB_FOLDER: the bucket fields and the secret go.
	r = do("PUT", "/v1/accounts/origins/"+compat.ID, jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "Folder 2", "baseUrl": "https://f.acme.example"}))
	ok[origin](t, r, http.StatusOK)
	wantFields(t, r.body, webFolderFields...)
	if got, _ := a.edgeOrigin(compat.ID); got.SecretKeyCiphertext != nil || got.Bucket != "" || got.AccessKey != "" || got.Endpoint != "" || got.S3ForcePathStyle {
		t.Fatalf("edge view after turning into a WEB_FOLDER %+v", got)
	}
	// Back to a bucket: a secret must be sent again.
	a.unchanged(t, func() {
		wantError(t, do("PUT", "/v1/accounts/origins/"+compat.ID, jsonBody(map[string]any{
			"type": "S3_COMPATIBLE", "name": "MinIO", "bucket": "media", "accessKey": "minio", "endpoint": "https://s3.acme.example",
		})), http.StatusBadRequest, "secretKey")
	})
	r = do("PUT", "/v1/accounts/origins/"+compat.ID, jsonBody(map[string]any{
		"type": "S3_COMPATIBLE", "name": "MinIO", "bucket": "media", "accessKey": "minio", "endpoint": "https://s3.acme.example", "secretKey": secret3,
	}))
	ok[bucketOrigin](t, r, http.StatusOK)
	if s := a.edgeSecret(compat.ID); s != secret3 {
		t.Fatalf("secret after turning back into a bucket: %q", s)
	}

	// Deleted once no endpoint lists it.
	a.unchanged(t, func() {
		wantError(t, do("DELETE", "/v1/accounts/origins/"+s3.ID, nil), http.StatusConflict, "")
	})
	ok[endpoint](t, do("PUT", "/v1/accounts/url-endpoints/"+ep.ID, jsonBody(map[string]any{"description": "Mixed", "origins": []string{folder.ID}})), http.StatusOK)
	ok[any](t, do("DELETE", "/v1/accounts/origins/"+s3.ID, nil), http.StatusNoContent)
	ok[any](t, do("DELETE", "/v1/accounts/origins/"+compat.ID, nil), http.StatusNoContent)
	wantError(t, do("GET", "/v1/accounts/origins/"+s3.ID, nil), http.StatusNotFound, "")
	if _, found := a.edgeOrigin(s3.ID); found {
		t.Fatal("deleted origin still reaches the edges")
	}

	for _, r := range responses {
		for _, s := range []string{secret1, secret2, secret3, "secretKey"} {
			if bytes.Contains(r.body, []byte(s)) && (s != "secretKey" || r.status < 300) {
				t.Fatalf("a response holds %q: %s", s, r.body)
			}
		}
	}
	if len(responses) < 15 {
		t.Fatalf("only %d responses checked", len(responses))
	}
}

func TestS3OriginValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	body := func(typ string, fields map[string]any) io.Reader {
		b := map[string]any{"type": typ, "name": "b", "bucket": "acme-images", "accessKey": "AKIA", "secretKey": "s3cret"}
		if typ == "S3_COMPATIBLE" {
			b["endpoint"] = "https://s3.example.com"
		}
		for f, v := range fields {
			if v == nil {
				delete(b, f)
			} else {
				b[f] = v
			}
		}
		return jsonBody(b)
	}
	tests := []struct {
		name    string
		body    io.Reader
		status  int
		field   string
		message string // a part of the message
	}{
		{"no secret key", body("S3", map[string]any{"secretKey": nil}), 400, "secretKey", "secretKey is required"},
		{"empty secret key", body("S3_COMPATIBLE", map[string]any{"secretKey": ""}), 400, "secretKey", "secretKey is required"},
		{"no access key", body("S3", map[string]any{"accessKey": nil}), 400, "accessKey", "required"},
		{"no bucket", body("S3", map[string]any{"bucket": nil}), 400, "bucket", "required"},
		{"bad bucket", body("S3", map[string]any{"bucket": "Acme_Images"}), 400, "bucket", "lower-case"},
		{"IP bucket", body("S3", map[string]any{"bucket": "10.0.0.1"}), 400, "bucket", "IP address"},
		{"absolute prefix", body("S3", map[string]any{"prefix": "/a"}), 400, "prefix", "'/'"},
		{"climbing prefix", body("S3", map[string]any{"prefix": "a/../b"}), 400, "prefix", "'..'"},
		{"base url", body("S3", map[string]any{"baseUrl": "https://acme.s3.amazonaws.com"}), 400, "baseUrl", "no baseUrl"},
		{"allowed hosts", body("S3", map[string]any{"allowedHosts": []string{"a.example.com"}}), 400, "allowedHosts", "WEB_PROXY"},
		{"forwarded host header", body("S3_COMPATIBLE", map[string]any{"forwardHostHeaderToOrigin": true}), 400, "forwardHostHeaderToOrigin", "WEB_FOLDER"},
		{"S3 with endpoint", body("S3", map[string]any{"endpoint": "https://s3.example.com"}), 400, "endpoint", "S3_COMPATIBLE"},
		{"S3 with path style", body("S3", map[string]any{"s3ForcePathStyle": true}), 400, "s3ForcePathStyle", "S3_COMPATIBLE"},
		{"no endpoint", body("S3_COMPATIBLE", map[string]any{"endpoint": nil}), 400, "endpoint", "required"},
		{"loopback endpoint", body("S3_COMPATIBLE", map[string]any{"endpoint": "http://127.0.0.1:9000"}), 400, "endpoint", "loopback"},
		{"metadata endpoint", body("S3_COMPATIBLE", map[string]any{"endpoint": "http://169.254.169.254/"}), 400, "endpoint", "public"},
		{"canonical header without base", body("S3", map[string]any{"includeCanonicalHeader": true}), 400, "baseUrlForCanonicalHeader", "required"},
		{"IAM role", body("S3", map[string]any{"useIAMRole": true, "accessKey": "", "secretKey": ""}), 400, "useIAMRole", "not supported"},
		{"bucket on a web folder", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "f", "baseUrl": "https://f.example.com", "bucket": "b"}),
			400, "bucket", "S3 and S3_COMPATIBLE"},
		{"unsupported type", jsonBody(map[string]any{"type": "GCS", "name": "z"}), 400, "type", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				r := a.do("POST", "/v1/accounts/origins", tt.body, key(k))
				e := wantError(t, r, tt.status, tt.field)
				if !strings.Contains(e.Message, tt.message) {
					t.Fatalf("message %q, want it to contain %q", e.Message, tt.message)
				}
				if bytes.Contains(r.body, []byte("s3cret")) {
					t.Fatalf("the error echoes the secret: %s", r.body)
				}
			})
		})
	}

	// PUT of an unknown origin without a secret: not found, not "secret required".
	wantError(t, a.do("PUT", "/v1/accounts/origins/"+tenant.NewID(), body("S3", map[string]any{"secretKey": nil}), key(k)), http.StatusNotFound, "")

	// A private endpoint is accepted with PICTOR_ALLOW_PRIVATE_ORIGINS.
	private := newAPI(t, allowPrivate)
	kp := private.createAccount("beta").PrivateKey
	ok[bucketOrigin](t, private.do("POST", "/v1/accounts/origins", body("S3_COMPATIBLE", map[string]any{"endpoint": "http://127.0.0.1:9000"}), key(kp)), http.StatusCreated)
}
