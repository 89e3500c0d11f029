package httpapi_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// originTest is POST /v1/accounts/origins/test's answer.
type originTest struct {
	URL         string `json:"url"`
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Bytes       int64  `json:"bytes"`
	Format      string `json:"format"`
	Image       bool   `json:"image"`
	Error       string `json:"error"`
}

// TestOriginTest: the dashboard's "Test origin" fetches one path from an
// origin as given, unsaved, and says what came back; a bad origin or path
// is a 400 naming the field.
func TestOriginTest(t *testing.T) {
	t.Parallel()
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 8, 6)), nil); err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img/photo.jpg", "/img/a b.jpg":
			w.Write(jpg.Bytes())
		case "/img/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>no</html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	port := strconv.Itoa(origin.Listener.Addr().(*net.TCPAddr).Port)
	a := newAPI(t, allowPrivate)
	k := a.createAccount("acme").PrivateKey
	folder := map[string]any{"type": "WEB_FOLDER", "baseUrl": origin.URL + "/img/"}
	proxy := map[string]any{"type": "WEB_PROXY", "allowedHosts": []string{"localhost"}}
	with := func(o map[string]any, path string) map[string]any {
		out := map[string]any{"path": path}
		for k, v := range o {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		body     map[string]any
		status   int // of the origin
		image    bool
		url      string
		errHas   string
		badField string // a 400 naming this field instead
	}{
		{name: "an image", body: with(folder, "photo.jpg"), status: 200, image: true, url: origin.URL + "/img/photo.jpg"},
		{name: "a path with a space", body: with(folder, "/a b.jpg"), status: 200, image: true, url: origin.URL + "/img/a%20b.jpg"},
		{name: "missing", body: with(folder, "nope.jpg"), status: 404},
		{name: "not an image", body: with(folder, "page.html"), status: 200},
		{name: "web proxy, allowed host", body: with(proxy, "http://localhost:"+port+"/img/photo.jpg"), status: 200, image: true},
		{name: "web proxy, another host", body: with(proxy, origin.URL+"/img/photo.jpg"), errHas: "not among the allowed hosts"},
		{name: "nothing listening", body: with(map[string]any{"type": "WEB_FOLDER", "baseUrl": "http://127.0.0.1:1"}, "a.jpg"), errHas: "refused"},
		{name: "bad base URL", body: with(map[string]any{"type": "WEB_FOLDER", "baseUrl": "ftp://x.example"}, "a.jpg"), badField: "baseUrl"},
		{name: "no path", body: with(folder, " "), badField: "path"},
		{name: "climbing path", body: with(folder, "../secret.jpg"), badField: "path"},
		{name: "relative path on a web proxy", body: with(proxy, "photo.jpg"), badField: "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do("POST", "/v1/accounts/origins/test", jsonBody(tc.body), key(k))
			if tc.badField != "" {
				wantError(t, r, http.StatusBadRequest, tc.badField)
				return
			}
			got := ok[originTest](t, r, http.StatusOK)
			if got.Status != tc.status || got.Image != tc.image || (tc.url != "" && got.URL != tc.url) {
				t.Fatalf("got %+v, want status %d image %v url %q", got, tc.status, tc.image, tc.url)
			}
			if tc.image && (got.Format != "jpeg" || got.Bytes != int64(jpg.Len())) {
				t.Fatalf("got %+v, want a %d-byte JPEG", got, jpg.Len())
			}
			if !strings.Contains(got.Error, tc.errHas) || (tc.errHas == "" && got.Error != "") {
				t.Fatalf("error %q, want %q", got.Error, tc.errHas)
			}
		})
	}
	// Without PICTOR_ALLOW_PRIVATE_ORIGINS a private address is refused
	// when saving, and so when testing.
	strict := newAPI(t)
	ks := strict.createAccount("beta").PrivateKey
	wantError(t, strict.do("POST", "/v1/accounts/origins/test", jsonBody(with(folder, "photo.jpg")), key(ks)), http.StatusBadRequest, "baseUrl")
	// A web proxy's URL is not checked until it is dialled: the dial guard
	// refuses the loopback address.
	got := ok[originTest](t, strict.do("POST", "/v1/accounts/origins/test",
		jsonBody(map[string]any{"type": "WEB_PROXY", "path": origin.URL + "/img/photo.jpg"}), key(ks)), http.StatusOK)
	if got.Status != 0 || !strings.Contains(got.Error, "not allowed") {
		t.Fatalf("proxied loopback URL without private origins allowed: %+v", got)
	}
}
