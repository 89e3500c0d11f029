package httpapi_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestTenantIsolationEveryRoute: account A's credentials (key or session)
// get 404 on every route that takes an id of B's objects, and no request
// of A changes anything of B's; lists and references stay within A.
func TestTenantIsolationEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.createAccount("acme")
	bravo := a.createAccount("bravo")
	bk := bravo.PrivateKey
	bo := a.createOrigin(bk, "b-origin", "https://b.example")
	be := a.createEndpoint(bk, map[string]any{"description": "B", "urlPrefix": "b", "origins": []string{bo.ID}, "customDomains": []string{"img.bravo.example"}})
	bn := a.createNamed(bk, "b_thumb", "w-10")
	bp := a.purge(bk, "http://edge.test/bravo/b/x.jpg")
	bkey := ok[apiKey](t, a.do("POST", "/v1/api-keys", nil, key(bk)), 201)
	ak := acme.PrivateKey
	ao := a.createOrigin(ak, "a-origin", "https://a.example")
	session := login(t, a, "acme@example.com", "correct horse")

	bravoState := func() string {
		st := a.state()
		var out []any
		for _, acct := range st.Accounts {
			if acct.Account.ID == "bravo" {
				out = append(out, acct)
			}
		}
		for _, p := range st.Purges {
			if p.AccountID == "bravo" {
				out = append(out, p)
			}
		}
		return fmt.Sprintf("%+v", out)
	}
	before := bravoState()

	originBody := `{"type":"WEB_FOLDER","name":"stolen","baseUrl":"https://evil.example"}`
	endpointBody := `{"description":"stolen","urlPrefix":"stolen"}`
	namedBody := `{"name":"stolen","transformation":"w-1"}`
	routes := []struct {
		method, path, body string
	}{
		{"GET", "/v1/accounts/origins/" + bo.ID, ""},
		{"PUT", "/v1/accounts/origins/" + bo.ID, originBody},
		{"DELETE", "/v1/accounts/origins/" + bo.ID, ""},
		{"GET", "/v1/accounts/url-endpoints/" + be.ID, ""},
		{"PUT", "/v1/accounts/url-endpoints/" + be.ID, endpointBody},
		{"DELETE", "/v1/accounts/url-endpoints/" + be.ID, ""},
		{"GET", "/v1/named-transformations/" + bn.ID, ""},
		{"PATCH", "/v1/named-transformations/" + bn.ID, namedBody},
		{"DELETE", "/v1/named-transformations/" + bn.ID, ""},
		{"GET", "/v1/files/purge/" + bp, ""},
		{"DELETE", "/v1/api-keys/" + bkey.ID, ""},
	}
	for _, creds := range []struct {
		name string
		c    credentials
	}{{"key", key(ak)}, {"session", cookie(session)}} {
		for _, r := range routes {
			t.Run(creds.name+" "+r.method+" "+r.path, func(t *testing.T) {
				var body io.Reader
				if r.body != "" {
					body = strings.NewReader(r.body)
				}
				a.unchanged(t, func() { wantError(t, a.do(r.method, r.path, body, creds.c), 404, "") })
			})
		}
	}

	// References to B's objects from A's own writes are refused.
	refs := []struct {
		name, method, path, body, field string
		status                          int
	}{
		{"endpoint with B's origin", "POST", "/v1/accounts/url-endpoints", `{"description":"x","urlPrefix":"x","origins":["` + bo.ID + `"]}`, "origins", 400},
		{"default endpoint with B's origin", "PUT", "/v1/accounts/url-endpoints/default", `{"description":"x","origins":["` + ao.ID + `","` + bo.ID + `"]}`, "origins", 400},
		{"B's custom domain", "POST", "/v1/accounts/url-endpoints", `{"description":"x","urlPrefix":"x","customDomains":["img.bravo.example"]}`, "customDomains", 409},
		{"purge of B's URL", "POST", "/v1/files/purge", `{"url":"http://edge.test/bravo/b/x.jpg"}`, "url", 400},
		{"purge on B's domain", "POST", "/v1/files/purge", `{"url":"https://img.bravo.example/x.jpg"}`, "url", 400},
	}
	for _, r := range refs {
		t.Run(r.name, func(t *testing.T) {
			a.unchanged(t, func() { wantError(t, a.do(r.method, r.path, strings.NewReader(r.body), key(ak)), r.status, r.field) })
		})
	}

	// Lists show A's objects only.
	for path, want := range map[string]int{"/v1/accounts/origins": 1, "/v1/accounts/url-endpoints": 1, "/v1/named-transformations": 0, "/v1/api-keys": 1} {
		r := a.do("GET", path, nil, key(ak))
		list := ok[[]map[string]any](t, r, 200)
		if len(list) != want || strings.Contains(string(r.body), "bravo") || strings.Contains(string(r.body), bo.ID) {
			t.Errorf("%s lists %s", path, r.body)
		}
	}
	// "default" is A's own default endpoint.
	if e := ok[endpoint](t, a.do("GET", "/v1/accounts/url-endpoints/default", nil, key(ak)), 200); e.URLEndpoint != edgeURL+"/acme" {
		t.Fatalf("A's default is %+v", e)
	}
	if after := bravoState(); after != before {
		t.Fatalf("B's objects changed:\n%s\n%s", before, after)
	}
}
