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

// azureOrigin is an AZURE_BLOB origin as the API returns it.
type azureOrigin struct {
	ID                        string `json:"id"`
	Type                      string `json:"type"`
	Name                      string `json:"name"`
	ForwardHostHeaderToOrigin bool   `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool   `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string `json:"baseUrlForCanonicalHeader"`
	Container                 string `json:"container"`
	AccountName               string `json:"accountName"`
	Prefix                    string `json:"prefix"`
}

// azureFields are the JSON fields of an AZURE_BLOB origin: never sasToken.
var azureFields = []string{"id", "type", "name", "forwardHostHeaderToOrigin", "includeCanonicalHeader", "baseUrlForCanonicalHeader",
	"container", "accountName", "prefix"}

func TestAzureBlobOrigins(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	const (
		token1 = "sv=2022-11-02&ss=b&srt=o&sp=rl&se=2030-01-01T00:00:00Z&spr=https&sig=FirstSig%2Babc%3D"
		token2 = "sv=2022-11-02&sp=r&sig=SecondSig%2Fxyz%3D"
		token3 = "sv=2021-08-06&sp=r&sig=ThirdSigQrs"
	)
	var responses []response
	do := func(method, path string, body io.Reader) response {
		t.Helper()
		r := a.do(method, path, body, key(k))
		responses = append(responses, r)
		return r
	}
	folder := a.createOrigin(k, "Folder", "https://www.acme.example/img")
	v0 := a.version()

	// As ImageKit's SDK sends it, the token with its leading '?' (dropped).
	r := do("POST", "/v1/accounts/origins", jsonBody(map[string]any{
		"type": "AZURE_BLOB", "name": "Azure", "container": "images", "accountName": "acmestore", "prefix": "originals/2024/",
		"sasToken": "?" + token1, "includeCanonicalHeader": true, "baseUrlForCanonicalHeader": "https://www.acme.example", "id": "ignored",
	}))
	az := ok[azureOrigin](t, r, http.StatusCreated)
	wantFields(t, r.body, azureFields...)
	want := azureOrigin{ID: az.ID, Type: "AZURE_BLOB", Name: "Azure", IncludeCanonicalHeader: true, BaseURLForCanonicalHeader: "https://www.acme.example",
		Container: "images", AccountName: "acmestore", Prefix: "originals/2024"}
	if !tenant.ValidID(az.ID) || az != want {
		t.Fatalf("created %+v, want %+v", az, want)
	}
	if got, _ := a.edgeOrigin(az.ID); got.Type != tenant.OriginAzureBlob || got.Container != "images" || got.AccountName != "acmestore" ||
		got.Prefix != "originals/2024" || got.BaseURL != "" || got.Bucket != "" || got.SASToken != "" {
		t.Fatalf("edge view %+v", got)
	}
	if s := a.edgeSecret(az.ID); s != token1 {
		t.Fatalf("stored token %q, want %q", s, token1)
	}
	if v := a.version(); v != v0+1 {
		t.Fatalf("version %d after a create, want %d", v, v0+1)
	}
	// Sealed in the database: the token is nowhere in the clear.
	var leaked bool
	if err := a.super.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM origins o WHERE strpos(o::text, $1) > 0)
		OR EXISTS (SELECT 1 FROM audit_log l WHERE strpos(l::text, $1) > 0)`, "FirstSig").Scan(&leaked); err != nil || leaked {
		t.Fatalf("token stored in the clear (%v)", err)
	}

	// List and get.
	r = do("GET", "/v1/accounts/origins", nil)
	list := ok[[]map[string]any](t, r, http.StatusOK)
	if len(list) != 2 || list[0]["id"] != folder.ID || list[1]["id"] != az.ID {
		t.Fatalf("list %s", r.body)
	}
	var got []string
	for f := range list[1] {
		got = append(got, f)
	}
	slices.Sort(got)
	if wantSorted := slices.Sorted(slices.Values(azureFields)); !slices.Equal(got, wantSorted) {
		t.Fatalf("list fields %v, want %v", got, wantSorted)
	}
	r = do("GET", "/v1/accounts/origins/"+az.ID, nil)
	if got := ok[azureOrigin](t, r, http.StatusOK); got != az {
		t.Fatalf("get %s", r.body)
	}
	wantFields(t, r.body, azureFields...)

	// PUT without sasToken keeps the stored one; "" too.
	r = do("PUT", "/v1/accounts/origins/"+az.ID, jsonBody(map[string]any{
		"type": "AZURE_BLOB", "name": "Azure 2", "container": "images-2", "accountName": "acmestore2",
	}))
	if got := ok[azureOrigin](t, r, http.StatusOK); got.Name != "Azure 2" || got.Container != "images-2" || got.AccountName != "acmestore2" ||
		got.Prefix != "" || got.IncludeCanonicalHeader || got.BaseURLForCanonicalHeader != "" {
		t.Fatalf("put %s", r.body)
	}
	wantFields(t, r.body, azureFields...)
	if s := a.edgeSecret(az.ID); s != token1 {
		t.Fatalf("token after a PUT without one: %q, want the old one", s)
	}
	ok[azureOrigin](t, do("PUT", "/v1/accounts/origins/"+az.ID, jsonBody(map[string]any{
		"type": "AZURE_BLOB", "name": "Azure 2", "container": "images-2", "accountName": "acmestore2", "sasToken": "",
	})), http.StatusOK)
	if s := a.edgeSecret(az.ID); s != token1 {
		t.Fatalf("token after a PUT with an empty one: %q, want the old one", s)
	}
	// With a new one: replaced.
	ok[azureOrigin](t, do("PUT", "/v1/accounts/origins/"+az.ID, jsonBody(map[string]any{
		"type": "AZURE_BLOB", "name": "Azure 2", "container": "images-2", "accountName": "acmestore2", "sasToken": token2,
	})), http.StatusOK)
	if s := a.edgeSecret(az.ID); s != token2 {
		t.Fatalf("token after a PUT with a new one: %q, want %q", s, token2)
	}

	// A SAS token is no S3 secret key, nor the other way round: changing
	// between the kinds needs the new secret.
	a.unchanged(t, func() {
		wantError(t, do("PUT", "/v1/accounts/origins/"+az.ID, jsonBody(map[string]any{
			"type": "S3", "name": "Bucket", "bucket": "acme-images", "accessKey": "AKIA",
		})), http.StatusBadRequest, "secretKey")
	})
	r = do("POST", "/v1/accounts/origins", jsonBody(map[string]any{
		"type": "S3", "name": "Bucket", "bucket": "acme-images", "accessKey": "AKIA", "secretKey": "s3-secret-key",
	}))
	s3 := ok[bucketOrigin](t, r, http.StatusCreated)
	a.unchanged(t, func() {
		wantError(t, do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
			"type": "AZURE_BLOB", "name": "Azure", "container": "images", "accountName": "acmestore",
		})), http.StatusBadRequest, "sasToken")
	})
	r = do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
		"type": "AZURE_BLOB", "name": "Now Azure", "container": "images", "accountName": "acmestore", "sasToken": token3,
	}))
	ok[azureOrigin](t, r, http.StatusOK)
	wantFields(t, r.body, azureFields...)
	if got, _ := a.edgeOrigin(s3.ID); got.Bucket != "" || got.AccessKey != "" || got.Container != "images" || a.edgeSecret(s3.ID) != token3 {
		t.Fatalf("edge view after S3 -> AZURE_BLOB %+v", got)
	}

	// A URL-endpoint lists a container beside a web folder.
	ep := a.createEndpoint(k, map[string]any{"description": "Mixed", "urlPrefix": "mixed", "origins": []string{az.ID, folder.ID}})
	if !slices.Equal(ep.Origins, []string{az.ID, folder.ID}) {
		t.Fatalf("endpoint origins %v", ep.Origins)
	}

	// Turned into a WEB_FOLDER: the Azure fields and the token go.
	r = do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "Folder 2", "baseUrl": "https://f.acme.example"}))
	ok[origin](t, r, http.StatusOK)
	wantFields(t, r.body, webFolderFields...)
	if got, _ := a.edgeOrigin(s3.ID); got.SecretKeyCiphertext != nil || got.Container != "" || got.AccountName != "" {
		t.Fatalf("edge view after turning into a WEB_FOLDER %+v", got)
	}
	// Back to a container: a token must be sent again.
	a.unchanged(t, func() {
		wantError(t, do("PUT", "/v1/accounts/origins/"+s3.ID, jsonBody(map[string]any{
			"type": "AZURE_BLOB", "name": "Azure", "container": "images", "accountName": "acmestore",
		})), http.StatusBadRequest, "sasToken")
	})

	// Deleted once no endpoint lists it.
	a.unchanged(t, func() {
		wantError(t, do("DELETE", "/v1/accounts/origins/"+az.ID, nil), http.StatusConflict, "")
	})
	ok[endpoint](t, do("PUT", "/v1/accounts/url-endpoints/"+ep.ID, jsonBody(map[string]any{"description": "Mixed", "origins": []string{folder.ID}})), http.StatusOK)
	ok[any](t, do("DELETE", "/v1/accounts/origins/"+az.ID, nil), http.StatusNoContent)
	wantError(t, do("GET", "/v1/accounts/origins/"+az.ID, nil), http.StatusNotFound, "")
	if _, found := a.edgeOrigin(az.ID); found {
		t.Fatal("deleted origin still reaches the edges")
	}

	for _, r := range responses {
		for _, s := range []string{token1, token2, token3, "FirstSig", "SecondSig", "ThirdSig", "sasToken", "s3-secret-key"} {
			if bytes.Contains(r.body, []byte(s)) && (s != "sasToken" || r.status < 300) {
				t.Fatalf("a response holds %q: %s", s, r.body)
			}
		}
	}
	if len(responses) < 15 {
		t.Fatalf("only %d responses checked", len(responses))
	}
}

func TestAzureBlobOriginValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	const token = "sv=2022-11-02&sp=r&sig=S3cretSig"
	body := func(fields map[string]any) io.Reader {
		b := map[string]any{"type": "AZURE_BLOB", "name": "z", "container": "images", "accountName": "acmestore", "sasToken": token}
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
		{"no sas token", body(map[string]any{"sasToken": nil}), 400, "sasToken", "sasToken is required"},
		{"empty sas token", body(map[string]any{"sasToken": ""}), 400, "sasToken", "sasToken is required"},
		{"sas token without sig", body(map[string]any{"sasToken": "sv=2022-11-02&sp=r"}), 400, "sasToken", "sv and sig"},
		{"sas token without sv", body(map[string]any{"sasToken": "sp=r&sig=S3cretSig"}), 400, "sasToken", "sv and sig"},
		{"sas token not a query", body(map[string]any{"sasToken": "sv=1&sig=S3cretSig%zz"}), 400, "sasToken", "query string"},
		{"sas token with spaces", body(map[string]any{"sasToken": "sv=1&sig=S3cretSig x"}), 400, "sasToken", "without spaces"},
		{"long sas token", body(map[string]any{"sasToken": "sv=1&sig=S3cretSig" + strings.Repeat("x", 2048)}), 400, "sasToken", "at most 2048"},
		{"no container", body(map[string]any{"container": nil}), 400, "container", "required"},
		{"bad container", body(map[string]any{"container": "My_Images"}), 400, "container", "lower-case"},
		{"container with two hyphens", body(map[string]any{"container": "my--images"}), 400, "container", "--"},
		{"container ending with a hyphen", body(map[string]any{"container": "images-"}), 400, "container", "lower-case"},
		{"short container", body(map[string]any{"container": "ab"}), 400, "container", "3 to 63"},
		{"no account name", body(map[string]any{"accountName": nil}), 400, "accountName", "required"},
		{"bad account name", body(map[string]any{"accountName": "Acme-Store"}), 400, "accountName", "3 to 24"},
		{"absolute prefix", body(map[string]any{"prefix": "/a"}), 400, "prefix", "'/'"},
		{"climbing prefix", body(map[string]any{"prefix": "a/../b"}), 400, "prefix", "'..'"},
		{"base url", body(map[string]any{"baseUrl": "https://acmestore.blob.core.windows.net/images"}), 400, "baseUrl", "no baseUrl"},
		{"allowed hosts", body(map[string]any{"allowedHosts": []string{"a.example.com"}}), 400, "allowedHosts", "WEB_PROXY"},
		{"forwarded host header", body(map[string]any{"forwardHostHeaderToOrigin": true}), 400, "forwardHostHeaderToOrigin", "WEB_FOLDER"},
		{"bucket", body(map[string]any{"bucket": "images"}), 400, "bucket", "S3 and S3_COMPATIBLE"},
		{"access key", body(map[string]any{"accessKey": "AKIA"}), 400, "accessKey", "S3 and S3_COMPATIBLE"},
		{"secret key", body(map[string]any{"secretKey": "s"}), 400, "secretKey", "S3 and S3_COMPATIBLE"},
		{"endpoint", body(map[string]any{"endpoint": "https://s3.example.com"}), 400, "endpoint", "S3 and S3_COMPATIBLE"},
		{"path style", body(map[string]any{"s3ForcePathStyle": true}), 400, "s3ForcePathStyle", "S3 and S3_COMPATIBLE"},
		{"canonical header without base", body(map[string]any{"includeCanonicalHeader": true}), 400, "baseUrlForCanonicalHeader", "required"},
		{"sas token on a web folder", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "f", "baseUrl": "https://f.example.com", "sasToken": token}),
			400, "sasToken", "AZURE_BLOB"},
		{"container on an S3 origin", jsonBody(map[string]any{"type": "S3", "name": "b", "bucket": "b-images", "accessKey": "AKIA",
			"secretKey": "s", "container": "images"}), 400, "container", "AZURE_BLOB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				r := a.do("POST", "/v1/accounts/origins", tt.body, key(k))
				e := wantError(t, r, tt.status, tt.field)
				if !strings.Contains(e.Message, tt.message) {
					t.Fatalf("message %q, want it to contain %q", e.Message, tt.message)
				}
				if bytes.Contains(r.body, []byte("S3cretSig")) {
					t.Fatalf("the error echoes the token: %s", r.body)
				}
			})
		})
	}

	// PUT of an unknown origin without a token: not found, not "token required".
	wantError(t, a.do("PUT", "/v1/accounts/origins/"+tenant.NewID(), body(map[string]any{"sasToken": nil}), key(k)), http.StatusNotFound, "")
}
