package httpapi_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/tenant"
)

func TestURLEndpoints(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.createAccount("acme")
	bravo := a.createAccount("bravo")
	k := acme.PrivateKey
	o1 := a.createOrigin(k, "one", "https://one.acme.example")
	o2 := a.createOrigin(k, "two", "https://two.acme.example")
	bo := a.createOrigin(bravo.PrivateKey, "b", "https://b.example")
	a.createEndpoint(bravo.PrivateKey, map[string]any{"description": "B", "urlPrefix": "b", "customDomains": []string{"img.bravo.example"}})

	// The default endpoint exists from the start, named "default", and
	// got the first origin only.
	r := a.do("GET", "/v1/accounts/url-endpoints", nil, key(k))
	list := ok[[]endpoint](t, r, 200)
	def := endpoint{ID: "default", Description: tenant.DefaultEndpointDescription, URLPrefix: "", Origins: []string{o1.ID},
		CustomDomains: []string{}, URLEndpoint: edgeURL + "/acme"}
	if len(list) != 1 || !equalEndpoint(list[0], def) {
		t.Fatalf("list %s", r.body)
	}
	if got := ok[endpoint](t, a.do("GET", "/v1/accounts/url-endpoints/default", nil, key(k)), 200); !equalEndpoint(got, def) {
		t.Fatalf("get default %+v", got)
	}

	v0 := a.version()
	r = a.do("POST", "/v1/accounts/url-endpoints", jsonBody(map[string]any{
		"description": "Products", "urlPrefix": "products", "origins": []string{o2.ID, o1.ID},
		"customDomains":        []string{"Img.Acme.Example.:443", "img.acme.example", "b.acme.example."},
		"restrictUnsignedUrls": true, "id": "ignored",
	}), key(k))
	p := ok[endpoint](t, r, 201)
	wantFields(t, r.body, "id", "description", "urlPrefix", "origins", "customDomains", "restrictUnsignedUrls", "urlEndpoint")
	want := endpoint{ID: p.ID, Description: "Products", URLPrefix: "products", Origins: []string{o2.ID, o1.ID},
		CustomDomains: []string{"b.acme.example", "img.acme.example"}, RestrictUnsignedURLs: true, URLEndpoint: edgeURL + "/acme/products"}
	if !tenant.ValidID(p.ID) || !equalEndpoint(p, want) {
		t.Fatalf("created %+v, want %+v", p, want)
	}
	if v := a.version(); v != v0+1 {
		t.Fatalf("version %d, want %d", v, v0+1)
	}
	// What the edges get.
	var edgeView tenant.URLEndpoint
	for _, acct := range a.state().Accounts {
		for _, e := range acct.Endpoints {
			if e.ID == p.ID {
				edgeView = e
			}
		}
	}
	if !slices.Equal(edgeView.OriginIDs, want.Origins) || !slices.Equal(edgeView.CustomDomains, want.CustomDomains) ||
		!edgeView.RestrictUnsignedURLs || edgeView.URLPrefix != "products" {
		t.Fatalf("edge view %+v", edgeView)
	}
	if got := ok[endpoint](t, a.do("GET", "/v1/accounts/url-endpoints/"+p.ID, nil, key(k)), 200); !equalEndpoint(got, want) {
		t.Fatalf("get %+v", got)
	}

	// PUT replaces; an omitted urlPrefix keeps the prefix.
	got := ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/"+p.ID, jsonBody(map[string]any{"description": "P2", "origins": []string{o1.ID}}), key(k)), 200)
	want = endpoint{ID: p.ID, Description: "P2", URLPrefix: "products", Origins: []string{o1.ID}, CustomDomains: []string{}, URLEndpoint: edgeURL + "/acme/products"}
	if !equalEndpoint(got, want) {
		t.Fatalf("put %+v, want %+v", got, want)
	}
	got = ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/"+p.ID, jsonBody(map[string]any{"description": "P2", "urlPrefix": "items"}), key(k)), 200)
	if got.URLPrefix != "items" || got.URLEndpoint != edgeURL+"/acme/items" || len(got.Origins) != 0 {
		t.Fatalf("put new prefix %+v", got)
	}
	// The default endpoint: description and origins change, not its prefix.
	got = ok[endpoint](t, a.do("PUT", "/v1/accounts/url-endpoints/default", jsonBody(map[string]any{"description": "Main", "origins": []string{o2.ID, o1.ID}, "urlPrefix": ""}), key(k)), 200)
	if got.ID != "default" || got.URLPrefix != "" || !slices.Equal(got.Origins, []string{o2.ID, o1.ID}) || got.Description != "Main" {
		t.Fatalf("put default %+v", got)
	}
	second := a.createEndpoint(k, map[string]any{"description": "S", "urlPrefix": "second", "customDomains": []string{"s.acme.example"}})

	body := func(edit func(m map[string]any)) io.Reader {
		m := map[string]any{"description": "New", "urlPrefix": "new"}
		edit(m)
		return jsonBody(m)
	}
	errs := []struct {
		name, method, path string
		body               io.Reader
		status             int
		field              string
	}{
		{"no prefix", "POST", "", body(func(m map[string]any) { delete(m, "urlPrefix") }), 400, "urlPrefix"},
		{"empty prefix", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = "" }), 400, "urlPrefix"},
		{"prefix with slash", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = "a/b" }), 400, "urlPrefix"},
		{"prefix like tr", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = "tr:w-1" }), 400, "urlPrefix"},
		{"prefix too long", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = strings.Repeat("a", 101) }), 400, "urlPrefix"},
		{"prefix taken", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = "items" }), 409, "urlPrefix"},
		{"prefix wrong type", "POST", "", body(func(m map[string]any) { m["urlPrefix"] = 7 }), 400, "urlPrefix"},
		{"no description", "POST", "", body(func(m map[string]any) { delete(m, "description") }), 400, "description"},
		{"blank description", "POST", "", body(func(m map[string]any) { m["description"] = "  " }), 400, "description"},
		{"description too long", "POST", "", body(func(m map[string]any) { m["description"] = strings.Repeat("d", 201) }), 400, "description"},
		{"unknown origin", "POST", "", body(func(m map[string]any) { m["origins"] = []string{tenant.NewID()} }), 400, "origins"},
		{"malformed origin id", "POST", "", body(func(m map[string]any) { m["origins"] = []string{"../x"} }), 400, "origins"},
		{"origin twice", "POST", "", body(func(m map[string]any) { m["origins"] = []string{o1.ID, o1.ID} }), 400, "origins"},
		{"origins wrong type", "POST", "", body(func(m map[string]any) { m["origins"] = "x" }), 400, "origins"},
		{"origin element wrong type", "POST", "", body(func(m map[string]any) { m["origins"] = []any{1} }), 400, "origins"},
		{"another account's origin", "POST", "", body(func(m map[string]any) { m["origins"] = []string{bo.ID} }), 400, "origins"},
		{"another account's domain", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"IMG.bravo.example"} }), 409, "customDomains"},
		{"own domain on another endpoint", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"s.acme.example"} }), 409, "customDomains"},
		{"domain is a URL", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"http://x.example"} }), 400, "customDomains"},
		{"domain is an IPv4", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"1.2.3.4"} }), 400, "customDomains"},
		{"domain is an IPv6", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"[::1]"} }), 400, "customDomains"},
		{"domain without dot", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"localhost"} }), 400, "customDomains"},
		{"domain with underscore", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"a_b.example"} }), 400, "customDomains"},
		{"domain bad port", "POST", "", body(func(m map[string]any) { m["customDomains"] = []string{"a.example:99999"} }), 400, "customDomains"},
		{"url rewriter", "POST", "", body(func(m map[string]any) { m["urlRewriter"] = map[string]any{"type": "IMGIX"} }), 400, "urlRewriter"},
		{"restrict wrong type", "POST", "", body(func(m map[string]any) { m["restrictUnsignedUrls"] = "yes" }), 400, "restrictUnsignedUrls"},
		{"put empty prefix", "PUT", "/" + second.ID, body(func(m map[string]any) { m["urlPrefix"] = "" }), 400, "urlPrefix"},
		{"put taken prefix", "PUT", "/" + second.ID, body(func(m map[string]any) { m["urlPrefix"] = "items" }), 409, "urlPrefix"},
		{"put taken domain", "PUT", "/" + second.ID, body(func(m map[string]any) { m["customDomains"] = []string{"img.bravo.example"} }), 409, "customDomains"},
		{"put default prefix", "PUT", "/default", body(func(m map[string]any) { m["urlPrefix"] = "x" }), 400, "urlPrefix"},
		{"put unknown", "PUT", "/" + tenant.NewID(), body(func(map[string]any) {}), 404, ""},
		{"get unknown", "GET", "/" + tenant.NewID(), nil, 404, ""},
		{"get malformed", "GET", "/Default", nil, 404, ""},
		{"delete unknown", "DELETE", "/" + tenant.NewID(), nil, 404, ""},
		{"delete default", "DELETE", "/default", nil, 409, ""},
		{"malformed JSON", "POST", "", raw(`{"description":`), 400, ""},
		{"too large", "POST", "", raw(`{"description":"` + strings.Repeat("x", 5000) + `"}`), 413, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				wantError(t, a.do(tt.method, "/v1/accounts/url-endpoints"+tt.path, tt.body, key(k)), tt.status, tt.field)
			})
		})
	}

	// An origin in use cannot go; the conflict names the endpoints.
	e := wantError(t, a.do("DELETE", "/v1/accounts/origins/"+o2.ID, nil, key(k)), 409, "")
	if !strings.Contains(e.Message, "default") {
		t.Fatalf("conflict %q does not name the default endpoint", e.Message)
	}
	ok[any](t, a.do("DELETE", "/v1/accounts/url-endpoints/"+second.ID, nil, key(k)), 204)
	wantError(t, a.do("GET", "/v1/accounts/url-endpoints/"+second.ID, nil, key(k)), 404, "")
	// Its domain is free again; its origins stay.
	a.createEndpoint(k, map[string]any{"description": "S2", "urlPrefix": "again", "customDomains": []string{"s.acme.example"}})
	ok[origin](t, a.do("GET", "/v1/accounts/origins/"+o1.ID, nil, key(k)), 200)
	if list := ok[[]endpoint](t, a.do("GET", "/v1/accounts/url-endpoints", nil, key(k)), 200); len(list) != 3 || list[0].ID != "default" {
		t.Fatalf("list after delete: %+v", list)
	}
}

func equalEndpoint(a, b endpoint) bool {
	return a.ID == b.ID && a.Description == b.Description && a.URLPrefix == b.URLPrefix && slices.Equal(a.Origins, b.Origins) &&
		slices.Equal(a.CustomDomains, b.CustomDomains) && a.RestrictUnsignedURLs == b.RestrictUnsignedURLs && a.URLEndpoint == b.URLEndpoint &&
		a.Origins != nil && a.CustomDomains != nil
}
