package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/tenant"
)

type apiKey struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	DisplayPrefix string `json:"displayPrefix"`
	PrivateKey    string `json:"privateKey"`
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	first := a.createAccount("acme").PrivateKey

	r := a.do("GET", "/v1/api-keys", nil, key(first))
	keys := ok[[]apiKey](t, r, 200)
	if len(keys) != 1 || !strings.HasPrefix(first, keys[0].DisplayPrefix) || len(keys[0].DisplayPrefix) >= len(first) || strings.Contains(string(r.body), first) {
		t.Fatalf("list %s", r.body)
	}
	wantFields(t, []byte(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(r.body)), "["), "]")), "id", "name", "displayPrefix", "createdAt")

	// Rotation: create a second key (no body at all is fine), use it,
	// revoke the first.
	v0 := a.version()
	r = a.do("POST", "/v1/api-keys", nil, key(first))
	second := ok[apiKey](t, r, 201)
	wantFields(t, r.body, "id", "name", "displayPrefix", "createdAt", "privateKey")
	if !tenant.ValidID(second.ID) || !strings.HasPrefix(second.PrivateKey, second.DisplayPrefix) || second.PrivateKey == first {
		t.Fatalf("created %s", r.body)
	}
	named := ok[apiKey](t, a.do("POST", "/v1/api-keys", jsonBody(map[string]any{"name": "CI"}), key(second.PrivateKey)), 201)
	if named.Name != "CI" {
		t.Fatalf("name %q", named.Name)
	}
	if v := a.version(); v != v0+2 {
		t.Fatalf("version %d, want %d: keys are config", v, v0+2)
	}
	if n := len(a.state().Accounts[0].Keys); n != 3 {
		t.Fatalf("edges see %d keys, want 3", n)
	}
	ok[any](t, a.do("DELETE", "/v1/api-keys/"+keys[0].ID, nil, key(second.PrivateKey)), 204)
	wantError(t, a.do("GET", "/v1/accounts/origins", nil, key(first)), 401, "")
	if st := a.state().Accounts[0].Keys; len(st) != 2 || st[0].ID == keys[0].ID {
		t.Fatalf("edges still see the revoked key: %+v", st)
	}
	wantError(t, a.do("DELETE", "/v1/api-keys/"+keys[0].ID, nil, key(second.PrivateKey)), 404, "")

	// Revoking your own key is fine while another remains; the last one is not.
	ok[any](t, a.do("DELETE", "/v1/api-keys/"+named.ID, nil, key(named.PrivateKey)), 204)
	a.unchanged(t, func() {
		wantError(t, a.do("DELETE", "/v1/api-keys/"+second.ID, nil, key(second.PrivateKey)), 409, "")
	})
	for _, tt := range []struct {
		name   string
		method string
		path   string
		body   string
		status int
		field  string
	}{
		{"name too long", "POST", "", `{"name":"` + strings.Repeat("n", 201) + `"}`, 400, "name"},
		{"name wrong type", "POST", "", `{"name":1}`, 400, "name"},
		{"malformed", "POST", "", `{"name"`, 400, ""},
		{"unknown id", "DELETE", "/" + tenant.NewID(), "", 404, ""},
		{"malformed id", "DELETE", "/x", "", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body = raw(tt.body)
			a.unchanged(t, func() {
				wantError(t, a.do(tt.method, "/v1/api-keys"+tt.path, body, key(second.PrivateKey)), tt.status, tt.field)
			})
		})
	}
	// At most ten active keys.
	for range 9 {
		ok[apiKey](t, a.do("POST", "/v1/api-keys", nil, key(second.PrivateKey)), http.StatusCreated)
	}
	wantError(t, a.do("POST", "/v1/api-keys", nil, key(second.PrivateKey)), 409, "")
}

func TestSettings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	type settings struct {
		AVIFEnabled    bool  `json:"avifEnabled"`
		DefaultQuality int   `json:"defaultQuality"`
		CacheMaxAge    int64 `json:"cacheMaxAge"`
	}
	const year = 31536000
	r := a.do("GET", "/v1/accounts/settings", nil, key(k))
	wantFields(t, r.body, "avifEnabled", "cacheMaxAge", "defaultQuality")
	if s := ok[settings](t, r, 200); s != (settings{false, 80, year}) {
		t.Fatalf("defaults %+v", s)
	}
	if st := a.state().Accounts[0].Account; st.CacheMaxAge != year {
		t.Fatalf("edges see max-age %d by default", st.CacheMaxAge)
	}
	v0 := a.version()
	if s := ok[settings](t, a.do("PATCH", "/v1/accounts/settings", jsonBody(map[string]any{"avifEnabled": true}), key(k)), 200); s != (settings{true, 80, year}) {
		t.Fatalf("after avif %+v", s)
	}
	if s := ok[settings](t, a.do("PATCH", "/v1/accounts/settings", jsonBody(map[string]any{"defaultQuality": 65}), key(k)), 200); s != (settings{true, 65, year}) {
		t.Fatalf("after quality %+v", s)
	}
	if s := ok[settings](t, a.do("PATCH", "/v1/accounts/settings", jsonBody(map[string]any{"cacheMaxAge": 3600}), key(k)), 200); s != (settings{true, 65, 3600}) {
		t.Fatalf("after max-age %+v", s)
	}
	if v := a.version(); v != v0+3 {
		t.Fatalf("version %d, want %d", v, v0+3)
	}
	if acct := a.state().Accounts[0].Account; !acct.AVIFEnabled || acct.DefaultQuality != 65 || acct.CacheMaxAge != 3600 {
		t.Fatalf("edges see %+v", acct)
	}
	for _, tt := range []struct {
		body, field string
	}{
		{`{"defaultQuality":0}`, "defaultQuality"},
		{`{"defaultQuality":101}`, "defaultQuality"},
		{`{"defaultQuality":80.5}`, "defaultQuality"},
		{`{"defaultQuality":"80"}`, "defaultQuality"},
		{`{"avifEnabled":"true"}`, "avifEnabled"},
		{`{"cacheMaxAge":59}`, "cacheMaxAge"},
		{`{"cacheMaxAge":315360001}`, "cacheMaxAge"},
		{`{"cacheMaxAge":"3600"}`, "cacheMaxAge"},
		{`{}`, ""},
		{`[]`, ""},
	} {
		t.Run(tt.body, func(t *testing.T) {
			a.unchanged(t, func() {
				wantError(t, a.do("PATCH", "/v1/accounts/settings", raw(tt.body), key(k)), 400, tt.field)
			})
		})
	}
}
