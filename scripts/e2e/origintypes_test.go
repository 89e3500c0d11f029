package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"pictor/services/internal/azuretest"
	"pictor/services/internal/s3test"
)

// stack is the running control plane and edge of TestImageThroughEdge,
// with the account's web-server origin and the storage servers the edge
// was pointed at (PICTOR_S3_URL, PICTOR_AZURE_BLOB_URL).
type stack struct {
	cpURL, edgeURL, account, privateKey string
	web                                 *httptest.Server
	webID                               string
	store                               *s3test.Server
	azure                               *azuretest.Server
	procs                               []*proc
}

// sdkSpec is what origins.mjs creates with ImageKit's Node SDK.
type sdkSpec struct {
	Origins   []map[string]any `json:"origins"`
	Endpoints []sdkEndpoint    `json:"endpoints"`
}

type sdkEndpoint struct {
	Description string `json:"description"`
	URLPrefix   string `json:"urlPrefix"`
	// Origins index sdkSpec.Origins, or are ids of origins made before.
	Origins []any `json:"origins"`
}

// sdkCreate runs origins.mjs: the origins and endpoints of spec, made by
// ImageKit's Node SDK against the control plane.
func sdkCreate(t *testing.T, st stack, spec sdkSpec) {
	t.Helper()
	node, dir := sdkScripts(t)
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "origins.mjs", st.cpURL, st.privateKey)
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node origins.mjs: %v\n%s", err, stderr.String())
	}
	var made struct {
		Origins   []struct{ ID, Type string }
		Endpoints []struct{ ID, URLPrefix string }
	}
	if err := json.Unmarshal(out, &made); err != nil || len(made.Origins) != len(spec.Origins) || len(made.Endpoints) != len(spec.Endpoints) {
		t.Fatalf("node origins.mjs printed %q (%v)", out, err)
	}
}

// sizedJPEG is a flat w×h JPEG, told apart from others by its size.
func sizedJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testOriginTypes creates one origin of each type ImageKit's API defines
// beyond a web server — WEB_PROXY, S3_COMPATIBLE, S3 (Amazon's type, at
// PICTOR_S3_URL) and AZURE_BLOB — and their URL-endpoints with ImageKit's
// Node SDK, serves an image from each through the edge, and falls back
// across types on one endpoint: Amazon S3, then Azure, then the web server.
func testOriginTypes(t *testing.T, st stack) {
	generated := generatedJPEG(t)
	onlyS3, onlyAzure := sizedJPEG(t, 640, 480), sizedJPEG(t, 500, 500)
	st.store.Put(t, "e2e-images", "site/photos/generated.jpg", generated)
	st.store.Put(t, "e2e-amazon", "shop/photos/generated.jpg", generated)
	st.store.Put(t, "e2e-amazon", "shop/only/s3.jpg", onlyS3)
	st.azure.Put(t, "e2e-images", "site/photos/generated.jpg", generated)
	st.azure.Put(t, "e2e-images", "site/only/azure.jpg", onlyAzure)
	token := st.azure.SAS(t, "e2e-images")
	sig := token[strings.Index(token, "sig="):]

	const (
		proxy = iota
		compatible
		amazon
		blob
	)
	spec := sdkSpec{Origins: []map[string]any{
		proxy: {"type": "WEB_PROXY", "name": "E2E proxy", "allowedHosts": []string{"localhost"}},
		compatible: {"type": "S3_COMPATIBLE", "name": "E2E bucket", "bucket": "e2e-images", "prefix": "site",
			"accessKey": s3test.AccessKey, "secretKey": s3test.SecretKey, "endpoint": st.store.Endpoint, "s3ForcePathStyle": true},
		amazon: {"type": "S3", "name": "E2E Amazon bucket", "bucket": "e2e-amazon", "prefix": "shop",
			"accessKey": s3test.AccessKey, "secretKey": s3test.SecretKey},
		blob: {"type": "AZURE_BLOB", "name": "E2E container", "accountName": azuretest.Account, "container": "e2e-images",
			"prefix": "site", "sasToken": token},
	}}
	spec.Endpoints = []sdkEndpoint{
		{"E2E proxy", "proxy", []any{proxy, st.webID}},
		{"E2E bucket", "bucket", []any{compatible, st.webID}},
		{"E2E Amazon", "amazon", []any{amazon, st.webID}},
		{"E2E container", "blob", []any{blob, st.webID}},
		{"E2E mixed", "mixed", []any{amazon, blob, st.webID}},
	}
	sdkCreate(t, st, spec)

	img := func(prefix, tr, path string) response {
		return get(t, fmt.Sprintf("%s/%s/%s/%s%s", st.edgeURL, st.account, prefix, tr, path))
	}
	// Each endpoint serves once the edge has its config (a fresh cache key
	// per poll: a 404 is remembered).
	for _, e := range spec.Endpoints {
		waitStatusFunc(t, func(n int) string {
			return fmt.Sprintf("%s/%s/%s/tr:w-300/photos/generated.jpg?e2e-probe=%d", st.edgeURL, st.account, e.URLPrefix, n)
		}, http.StatusOK, 30*time.Second, st.procs...)
	}
	local := strings.Replace(st.web.URL, "127.0.0.1", "localhost", 1)

	t.Run("web proxy", func(t *testing.T) {
		checkJPEG(t, img("proxy", "tr:w-310/", local+"/photos/generated.jpg"), 310, 1200, 800)
		if r := img("proxy", "tr:w-300/", st.web.URL+"/photos/generated.jpg"); r.status != http.StatusForbidden {
			t.Errorf("a host not allowed: HTTP %d %s, want 403", r.status, truncate(r.body))
		}
	})
	for _, tc := range []struct{ name, prefix string }{
		{"S3-compatible", "bucket"}, {"Amazon S3", "amazon"}, {"Azure Blob", "blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkJPEG(t, img(tc.prefix, "tr:w-330/", "photos/generated.jpg"), 330, 1200, 800)
			// What the bucket lacks comes from the endpoint's web server.
			checkJPEG(t, img(tc.prefix, "tr:w-320/", "photos/web-only.jpg"), 320, 640, 480)
		})
	}
	t.Run("fallback across types", func(t *testing.T) {
		checkJPEG(t, img("mixed", "", "only/s3.jpg"), 640, 640, 480)
		checkJPEG(t, img("mixed", "", "only/azure.jpg"), 500, 500, 500)
		checkJPEG(t, img("mixed", "", "photos/generated.jpg"), 1200, 1200, 800) // S3 has it first
		if r := img("mixed", "", "only/nowhere.jpg"); r.status != http.StatusNotFound || r.header.Get("X-Pictor-Error") == "" {
			t.Errorf("on no origin: HTTP %d, X-Pictor-Error %q, want 404 with the error named",
				r.status, r.header.Get("X-Pictor-Error"))
		}
	})
	t.Run("no secret in answers, logs or metrics", func(t *testing.T) {
		listed := do(t, http.MethodGet, st.cpURL+"/v1/accounts/origins", nil, func(r *http.Request) { r.SetBasicAuth(st.privateKey, "") })
		texts := map[string]string{"the origins list": string(listed.body), "the edge's metrics": string(get(t, st.edgeURL+"/metrics").body)}
		for _, p := range st.procs {
			logText, err := os.ReadFile(p.logPath)
			if err != nil {
				t.Fatal(err)
			}
			texts["the "+p.name+" log"] = string(logText)
		}
		for what, text := range texts {
			for name, secret := range map[string]string{"S3 secret key": s3test.SecretKey, "SAS token": sig} {
				if strings.Contains(text, secret) {
					t.Errorf("the %s appears in %s", name, what)
				}
			}
		}
	})
}
