package httpapi_test

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/tenant"
)

// proxyOrigin is a WEB_PROXY origin as the API returns it.
type proxyOrigin struct {
	ID                        string   `json:"id"`
	Type                      string   `json:"type"`
	Name                      string   `json:"name"`
	ForwardHostHeaderToOrigin bool     `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool     `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string   `json:"baseUrlForCanonicalHeader"`
	AllowedHosts              []string `json:"allowedHosts"`
}

// The JSON fields of each origin type: ImageKit's, plus allowedHosts for
// WEB_PROXY.
var (
	webFolderFields = []string{"id", "type", "name", "baseUrl", "forwardHostHeaderToOrigin", "includeCanonicalHeader", "baseUrlForCanonicalHeader"}
	webProxyFields  = []string{"id", "type", "name", "forwardHostHeaderToOrigin", "includeCanonicalHeader", "baseUrlForCanonicalHeader", "allowedHosts"}
)

// edgeOrigin returns the origin with this id as the snapshot source reads it.
func (a *api) edgeOrigin(id string) (tenant.Origin, bool) {
	a.t.Helper()
	for _, acct := range a.state().Accounts {
		for _, o := range acct.Origins {
			if o.ID == id {
				return o, true
			}
		}
	}
	return tenant.Origin{}, false
}

func TestWebProxyOrigins(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.createAccount("acme")
	k := acme.PrivateKey
	folder := a.createOrigin(k, "Folder", "https://www.acme.example/img")
	v0 := a.version()

	// As ImageKit's SDK sends it, plus Pictor's allowedHosts.
	r := a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{
		"type": "WEB_PROXY", "name": "Proxy", "includeCanonicalHeader": true,
		"baseUrlForCanonicalHeader": "https://www.acme.example", "allowedHosts": []string{"images.acme.example", "*.cdn.acme.example"},
		"id": "ignored",
	}), key(k))
	proxy := ok[proxyOrigin](t, r, http.StatusCreated)
	wantFields(t, r.body, webProxyFields...)
	want := proxyOrigin{ID: proxy.ID, Type: "WEB_PROXY", Name: "Proxy", IncludeCanonicalHeader: true,
		BaseURLForCanonicalHeader: "https://www.acme.example", AllowedHosts: []string{"images.acme.example", "*.cdn.acme.example"}}
	if !tenant.ValidID(proxy.ID) || !equalProxy(proxy, want) {
		t.Fatalf("created %+v, want %+v", proxy, want)
	}
	if got, found := a.edgeOrigin(proxy.ID); !found || got.Type != tenant.OriginWebProxy || got.BaseURL != "" ||
		!slices.Equal(got.AllowedHosts, want.AllowedHosts) {
		t.Fatalf("edge view %+v", got)
	}

	// Without allowedHosts: any public host, listed as [] rather than
	// left out or null.
	r = a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_PROXY", "name": "Open"}), key(k))
	open := ok[proxyOrigin](t, r, http.StatusCreated)
	wantFields(t, r.body, webProxyFields...)
	if !strings.Contains(string(r.body), `"allowedHosts":[]`) || open.BaseURLForCanonicalHeader != "" || open.IncludeCanonicalHeader {
		t.Fatalf("open proxy %s", r.body)
	}
	if v := a.version(); v != v0+2 {
		t.Fatalf("version %d after two creates, want %d", v, v0+2)
	}

	// The list holds both types, each in its own shape.
	r = a.do("GET", "/v1/accounts/origins", nil, key(k))
	list := ok[[]map[string]any](t, r, http.StatusOK)
	if len(list) != 3 || list[0]["id"] != folder.ID || list[1]["id"] != proxy.ID || list[2]["id"] != open.ID {
		t.Fatalf("list %s", r.body)
	}
	for i, fields := range [][]string{webFolderFields, webProxyFields, webProxyFields} {
		var got []string
		for f := range list[i] {
			got = append(got, f)
		}
		slices.Sort(got)
		wantSorted := slices.Sorted(slices.Values(fields))
		if !slices.Equal(got, wantSorted) {
			t.Fatalf("list[%d] fields %v, want %v", i, got, wantSorted)
		}
	}
	if got := ok[[]proxyOrigin](t, r, http.StatusOK); !equalProxy(got[1], proxy) || !equalProxy(got[2], open) {
		t.Fatalf("list %s", r.body)
	}
	r = a.do("GET", "/v1/accounts/origins/"+proxy.ID, nil, key(k))
	if got := ok[proxyOrigin](t, r, http.StatusOK); !equalProxy(got, proxy) {
		t.Fatalf("get %s", r.body)
	}
	wantFields(t, r.body, webProxyFields...)

	// PUT replaces the host list with what is sent; absent empties it.
	r = a.do("PUT", "/v1/accounts/origins/"+proxy.ID, jsonBody(map[string]any{
		"type": "WEB_PROXY", "name": "Proxy 2", "allowedHosts": []string{"static.acme.example"},
	}), key(k))
	if got := ok[proxyOrigin](t, r, http.StatusOK); got.Name != "Proxy 2" || !slices.Equal(got.AllowedHosts, []string{"static.acme.example"}) ||
		got.IncludeCanonicalHeader || got.BaseURLForCanonicalHeader != "" {
		t.Fatalf("put %s", r.body)
	}
	r = a.do("PUT", "/v1/accounts/origins/"+proxy.ID, jsonBody(map[string]any{"type": "WEB_PROXY", "name": "Proxy 2"}), key(k))
	if got := ok[proxyOrigin](t, r, http.StatusOK); got.AllowedHosts == nil || len(got.AllowedHosts) != 0 {
		t.Fatalf("put without allowedHosts %s", r.body)
	}
	if got, _ := a.edgeOrigin(proxy.ID); len(got.AllowedHosts) != 0 {
		t.Fatalf("edge view after emptying the list %+v", got)
	}

	// A PUT may change the type; the shape follows it.
	r = a.do("PUT", "/v1/accounts/origins/"+open.ID, jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "Now a folder", "baseUrl": "https://f.acme.example"}), key(k))
	if got := ok[origin](t, r, http.StatusOK); got.Type != "WEB_FOLDER" || got.BaseURL != "https://f.acme.example" {
		t.Fatalf("put as WEB_FOLDER %s", r.body)
	}
	wantFields(t, r.body, webFolderFields...)
	r = a.do("PUT", "/v1/accounts/origins/"+open.ID, jsonBody(map[string]any{"type": "WEB_PROXY", "name": "Open again", "allowedHosts": []string{"x.example"}}), key(k))
	if got := ok[proxyOrigin](t, r, http.StatusOK); got.Type != "WEB_PROXY" || !slices.Equal(got.AllowedHosts, []string{"x.example"}) {
		t.Fatalf("put back as WEB_PROXY %s", r.body)
	}
	wantFields(t, r.body, webProxyFields...)
	if got, _ := a.edgeOrigin(open.ID); got.BaseURL != "" || got.Type != tenant.OriginWebProxy {
		t.Fatalf("the base URL outlived the type change: %+v", got)
	}

	// A URL-endpoint lists a WEB_PROXY origin beside a WEB_FOLDER one; the
	// edge tells them apart by the image path.
	ep := a.createEndpoint(k, map[string]any{"description": "Mixed", "urlPrefix": "mixed", "origins": []string{folder.ID, proxy.ID}})
	if !slices.Equal(ep.Origins, []string{folder.ID, proxy.ID}) {
		t.Fatalf("endpoint origins %v", ep.Origins)
	}
	if got := ok[endpoint](t, a.do("GET", "/v1/accounts/url-endpoints/"+ep.ID, nil, key(k)), http.StatusOK); !slices.Equal(got.Origins, ep.Origins) {
		t.Fatalf("get endpoint origins %v", got.Origins)
	}
	got := ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/default", jsonBody(map[string]any{
		"description": "Main", "origins": []string{proxy.ID, folder.ID},
	}), key(k)), http.StatusOK)
	if !slices.Equal(got.Origins, []string{proxy.ID, folder.ID}) {
		t.Fatalf("default endpoint origins %v", got.Origins)
	}
	if d := a.defaultEndpointOrigins("acme"); !slices.Equal(d, []string{proxy.ID, folder.ID}) {
		t.Fatalf("edge view of the default endpoint %v", d)
	}

	// In use: refused; once no endpoint lists it, deleted.
	a.unchanged(t, func() {
		wantError(t, a.do("DELETE", "/v1/accounts/origins/"+proxy.ID, nil, key(k)), http.StatusConflict, "")
	})
	ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/default", jsonBody(map[string]any{"description": "Main", "origins": []string{folder.ID}}), key(k)), http.StatusOK)
	ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/"+ep.ID, jsonBody(map[string]any{"description": "Mixed", "origins": []string{folder.ID}}), key(k)), http.StatusOK)
	ok[any](t, a.do("DELETE", "/v1/accounts/origins/"+proxy.ID, nil, key(k)), http.StatusNoContent)
	wantError(t, a.do("GET", "/v1/accounts/origins/"+proxy.ID, nil, key(k)), http.StatusNotFound, "")
	if _, found := a.edgeOrigin(proxy.ID); found {
		t.Fatal("deleted origin still reaches the edges")
	}
}

func TestWebProxyOriginValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	proxy := func(fields map[string]any) io.Reader {
		body := map[string]any{"type": "WEB_PROXY", "name": "p"}
		for f, v := range fields {
			body[f] = v
		}
		return jsonBody(body)
	}
	hosts := make([]string, tenant.MaxAllowedHosts+1)
	for i := range hosts {
		hosts[i] = "h" + strconv.Itoa(i) + ".example.com"
	}
	tests := []struct {
		name    string
		body    io.Reader
		field   string
		message string // a part of the message
	}{
		{"base url", proxy(map[string]any{"baseUrl": "https://www.example.com"}), "baseUrl", "a WEB_PROXY origin has no baseUrl: the image path is the URL"},
		{"no name", raw(`{"type":"WEB_PROXY"}`), "name", "name is required"},
		{"forwarded host header", proxy(map[string]any{"forwardHostHeaderToOrigin": true}), "forwardHostHeaderToOrigin", "WEB_FOLDER"},
		{"canonical header without base", proxy(map[string]any{"includeCanonicalHeader": true}), "baseUrlForCanonicalHeader", "required"},
		{"bad canonical base", proxy(map[string]any{"baseUrlForCanonicalHeader": "javascript:alert(1)"}), "baseUrlForCanonicalHeader", "http"},
		{"IP address", proxy(map[string]any{"allowedHosts": []string{"169.254.169.254"}}), "allowedHosts", "IP address"},
		{"IPv6 address", proxy(map[string]any{"allowedHosts": []string{"[::1]"}}), "allowedHosts", "IP address"},
		{"port", proxy(map[string]any{"allowedHosts": []string{"images.example.com:443"}}), "allowedHosts", "port"},
		{"URL", proxy(map[string]any{"allowedHosts": []string{"https://images.example.com"}}), "allowedHosts", "not a URL"},
		{"upper case", proxy(map[string]any{"allowedHosts": []string{"Images.example.com"}}), "allowedHosts", "lower case"},
		{"inner wildcard", proxy(map[string]any{"allowedHosts": []string{"img.*.example.com"}}), "allowedHosts", `"*."`},
		{"duplicate", proxy(map[string]any{"allowedHosts": []string{"a.example.com", "a.example.com"}}), "allowedHosts", "twice"},
		{"too many", proxy(map[string]any{"allowedHosts": hosts}), "allowedHosts", "at most 100"},
		{"not an array", proxy(map[string]any{"allowedHosts": "images.example.com"}), "allowedHosts", "expected"},
		{"not strings", proxy(map[string]any{"allowedHosts": []int{1}}), "allowedHosts", "expected"},
		{"web folder with hosts", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "f", "baseUrl": "https://f.example.com", "allowedHosts": []string{"a.example.com"}}),
			"allowedHosts", "allowedHosts is for WEB_PROXY origins"},
		{"unsupported type", jsonBody(map[string]any{"type": "GCS", "name": "g"}), "type", "use WEB_FOLDER, WEB_PROXY, S3, S3_COMPATIBLE or AZURE_BLOB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				e := wantError(t, a.do("POST", "/v1/accounts/origins", tt.body, key(k)), http.StatusBadRequest, tt.field)
				if !strings.Contains(e.Message, tt.message) {
					t.Fatalf("message %q, want it to contain %q", e.Message, tt.message)
				}
			})
		})
	}

	// A WEB_FOLDER origin may send an empty list, and gets none back.
	r := a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "f", "baseUrl": "https://f.example.com", "allowedHosts": []string{}}), key(k))
	ok[origin](t, r, http.StatusCreated)
	wantFields(t, r.body, webFolderFields...)
}

func equalProxy(a, b proxyOrigin) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.ForwardHostHeaderToOrigin == b.ForwardHostHeaderToOrigin &&
		a.IncludeCanonicalHeader == b.IncludeCanonicalHeader && a.BaseURLForCanonicalHeader == b.BaseURLForCanonicalHeader &&
		slices.Equal(a.AllowedHosts, b.AllowedHosts)
}
