package httpapi_test

import (
	"context"
	"io"
	"testing"

	"pictor/services/controlplane/internal/tenant"
)

func TestPurge(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.createAccount("acme")
	bravo := a.createAccount("bravo")
	k := acme.PrivateKey
	pfx := a.createEndpoint(k, map[string]any{"description": "P", "urlPrefix": "pfx", "customDomains": []string{"img.acme.example"}})
	a.createEndpoint(bravo.PrivateKey, map[string]any{"description": "B", "urlPrefix": "b", "customDomains": []string{"img.bravo.example"}})
	var defaultID string
	for _, e := range a.state().Accounts[0].Endpoints {
		if e.URLPrefix == "" {
			defaultID = e.ID
		}
	}

	tests := []struct {
		name, url, endpoint, path string
		prefix                    bool
	}{
		{"image on the default endpoint", "http://edge.test:8081/acme/products/shoe.jpg", defaultID, "products/shoe.jpg", false},
		{"tr segment and query dropped", "http://edge.test:8081/acme/tr:w-300,h-200/products/shoe.jpg?tr=w-1&v=2#x", defaultID, "products/shoe.jpg", false},
		{"any host routes by path", "https://cdn.example.org/acme/a.jpg", defaultID, "a.jpg", false},
		{"prefix endpoint", "http://edge.test:8081/acme/pfx/a/b.jpg", pfx.ID, "a/b.jpg", false},
		{"prefix endpoint with tr", "http://edge.test:8081/acme/pfx/tr:w-1/a/b.jpg", pfx.ID, "a/b.jpg", false},
		{"folder named like no prefix", "http://edge.test:8081/acme/pfx2/a.jpg", defaultID, "pfx2/a.jpg", false},
		{"wildcard", "http://edge.test:8081/acme/pfx/a/*", pfx.ID, "a/", true},
		{"wildcard on a name", "http://edge.test:8081/acme/shoe*", defaultID, "shoe", true},
		{"everything", "http://edge.test:8081/acme/*", defaultID, "", true},
		{"custom domain", "https://IMG.acme.example.:8443/tr:w-1/x.jpg", pfx.ID, "x.jpg", false},
		{"custom domain wildcard", "https://img.acme.example/*", pfx.ID, "", true},
		{"escaped kept", "http://edge.test:8081/acme/caf%C3%A9.jpg", defaultID, "caf%C3%A9.jpg", false},
		{"unicode escaped as clients send it", "http://edge.test:8081/acme/café.jpg", defaultID, "caf%C3%A9.jpg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v0 := a.version()
			id := a.purge(k, tt.url)
			var rule *tenant.PurgeRule
			for _, p := range a.state().Purges {
				if p.ID == id {
					rule = &p
				}
			}
			if rule == nil {
				t.Fatalf("purge %s not in the config", id)
			}
			if rule.AccountID != "acme" || rule.EndpointID != tt.endpoint || rule.Path != tt.path || rule.Prefix != tt.prefix || rule.Version != v0+1 {
				t.Fatalf("rule %+v, want endpoint %s path %q prefix %v version %d", rule, tt.endpoint, tt.path, tt.prefix, v0+1)
			}
			if v := a.version(); v != v0+1 {
				t.Fatalf("version %d, want %d", v, v0+1)
			}
		})
	}

	// Status follows the connected edges' progress.
	id := a.purge(k, "http://edge.test:8081/acme/x.jpg")
	status := func() string {
		t.Helper()
		r := a.do("GET", "/v1/files/purge/"+id, nil, key(k))
		wantFields(t, r.body, "status")
		return ok[struct{ Status string }](t, r, 200).Status
	}
	if s := status(); s != "Completed" {
		t.Fatalf("no edge connected: %s", s)
	}
	ctx := context.Background()
	v := a.version()
	if err := a.db.EdgeConnected(ctx, tenant.EdgeNode{NodeID: "e1", AppliedVersion: v - 1, Session: "s1"}); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != "Pending" {
		t.Fatalf("edge behind: %s", s)
	}
	if err := a.db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "e1", Session: "s1", Version: v, AppliedVersion: v}); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != "Completed" {
		t.Fatalf("edge acked: %s", s)
	}

	body := func(u string) io.Reader { return jsonBody(map[string]any{"url": u}) }
	errs := []struct {
		name   string
		body   io.Reader
		status int
		field  string
	}{
		{"another account", body("http://edge.test:8081/bravo/x.jpg"), 400, "url"},
		{"another account's domain", body("https://img.bravo.example/acme/x.jpg"), 400, "url"},
		{"unknown account", body("http://edge.test:8081/nobody/x.jpg"), 400, "url"},
		{"account only", body("http://edge.test:8081/acme"), 400, "url"},
		{"account and slash", body("http://edge.test:8081/acme/"), 400, "url"},
		{"prefix only", body("http://edge.test:8081/acme/pfx"), 400, "url"},
		{"prefix and slash", body("http://edge.test:8081/acme/pfx/"), 400, "url"},
		{"tr only", body("http://edge.test:8081/acme/tr:w-1/"), 400, "url"},
		{"dot dot", body("http://edge.test:8081/acme/a/../b.jpg"), 400, "url"},
		{"escaped dot dot", body("http://edge.test:8081/acme/a/%2e%2e/b.jpg"), 400, "url"},
		{"bad escape", body("http://edge.test:8081/acme/a%zz.jpg"), 400, "url"},
		{"relative", body("/acme/x.jpg"), 400, "url"},
		{"ftp", body("ftp://edge.test/acme/x.jpg"), 400, "url"},
		{"credentials", body("http://u:p@edge.test/acme/x.jpg"), 400, "url"},
		{"space", body("http://edge.test/acme/a b.jpg"), 400, "url"},
		{"empty", body(""), 400, "url"},
		{"missing", jsonBody(map[string]any{}), 400, "url"},
		{"wrong type", jsonBody(map[string]any{"url": 1}), 400, "url"},
		{"malformed JSON", raw(`{"url"`), 400, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				wantError(t, a.do("POST", "/v1/files/purge", tt.body, key(k)), tt.status, tt.field)
			})
		})
	}
	wantError(t, a.do("GET", "/v1/files/purge/"+tenant.NewID(), nil, key(k)), 404, "")
	wantError(t, a.do("GET", "/v1/files/purge/nope", nil, key(k)), 404, "")
}
