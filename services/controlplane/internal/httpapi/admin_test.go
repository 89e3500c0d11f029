package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"pictor/services/controlplane/internal/tenant"
)

func TestAdminAccounts(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ids := []string{"acme", "bravo", "charlie", "delta", "echo"}
	keys := map[string]string{}
	for _, id := range ids {
		keys[id] = a.createAccount(id).PrivateKey
	}

	// Paging walks every account once, in id order.
	type page struct {
		Accounts []struct {
			ID, Name, OwnerEmail, Status string
			CreatedAt                    time.Time
		}
		NextCursor string
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		r := a.do("GET", "/admin/v1/accounts?limit=2&cursor="+cursor, nil, admin)
		wantFields(t, r.body, "accounts", "nextCursor")
		p := ok[page](t, r, 200)
		for _, acct := range p.Accounts {
			seen = append(seen, acct.ID)
		}
		if p.NextCursor == "" {
			if pages != 2 {
				t.Fatalf("%d pages of 2 for 5 accounts", pages+1)
			}
			break
		}
		cursor = p.NextCursor
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("paged through %v, want %v", seen, ids)
	}
	if p := ok[page](t, a.do("GET", "/admin/v1/accounts", nil, admin), 200); len(p.Accounts) != 5 || p.NextCursor != "" {
		t.Fatalf("default page %+v", p)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x"} {
		wantError(t, a.do("GET", "/admin/v1/accounts?"+q, nil, admin), 400, "limit")
	}
	wantError(t, a.do("GET", "/admin/v1/accounts?cursor=!!", nil, admin), 400, "cursor")
	wantError(t, a.do("GET", "/admin/v1/accounts?cursor=IS0t", nil, admin), 400, "cursor")

	r := a.do("GET", "/admin/v1/accounts/acme", nil, admin)
	wantFields(t, r.body, "id", "name", "ownerEmail", "status", "createdAt")
	wantError(t, a.do("GET", "/admin/v1/accounts/zulu", nil, admin), 404, "")
	wantError(t, a.do("GET", "/admin/v1/accounts/Bad!", nil, admin), 404, "")

	// Suspension: the account's API calls answer 403 at once and the
	// edges get the status with the next version.
	v0 := a.version()
	r = a.do("PATCH", "/admin/v1/accounts/acme", jsonBody(map[string]any{"status": "suspended"}), admin)
	if got := ok[struct{ Status string }](t, r, 200); got.Status != "suspended" {
		t.Fatalf("patch %s", r.body)
	}
	if v := a.version(); v != v0+1 {
		t.Fatalf("version %d, want %d", v, v0+1)
	}
	if st := a.state().Accounts[0].Account; st.ID != "acme" || st.Status != tenant.StatusSuspended {
		t.Fatalf("edges see %+v", st)
	}
	for _, route := range []struct{ method, path string }{{"GET", "/v1/accounts/origins"}, {"GET", "/v1/accounts/url-endpoints"}, {"POST", "/v1/api-keys"}} {
		wantError(t, a.do(route.method, route.path, nil, key(keys["acme"])), 403, "")
	}
	wantError(t, a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "acme@example.com", "password": "correct horse"})), 403, "")
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, key(keys["bravo"])), 200)
	r = a.do("PATCH", "/admin/v1/accounts/acme", jsonBody(map[string]any{"status": "active", "name": "Acme 2"}), admin)
	if got := ok[struct{ Status, Name string }](t, r, 200); got.Status != "active" || got.Name != "Acme 2" {
		t.Fatalf("reactivate %s", r.body)
	}
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, key(keys["acme"])), 200)

	for _, tt := range []struct {
		name, path string
		body       io.Reader
		status     int
		field      string
	}{
		{"bad status", "/acme", jsonBody(map[string]any{"status": "deleted"}), 400, "status"},
		{"status wrong type", "/acme", jsonBody(map[string]any{"status": true}), 400, "status"},
		{"blank name", "/acme", jsonBody(map[string]any{"name": ""}), 400, "name"},
		{"nothing", "/acme", jsonBody(map[string]any{}), 400, ""},
		{"unknown", "/zulu", jsonBody(map[string]any{"status": "active"}), 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() { wantError(t, a.do("PATCH", "/admin/v1/accounts"+tt.path, tt.body, admin), tt.status, tt.field) })
		})
	}

	// Deletion removes everything of the account and nothing of others.
	o := a.createOrigin(keys["acme"], "o", "https://o.example")
	a.createEndpoint(keys["acme"], map[string]any{"description": "P", "urlPrefix": "p", "origins": []string{o.ID}, "customDomains": []string{"img.acme.example"}})
	a.createNamed(keys["acme"], "thumb", "w-10")
	a.purge(keys["acme"], "http://edge.test/acme/p/x.jpg")
	a.exec(`INSERT INTO usage_daily (account_id, day, requests) VALUES ('acme', '2024-01-01', 1)`)
	login(t, a, "acme@example.com", "correct horse")
	bravoBefore := a.state().Accounts[1]
	ok[any](t, a.do("DELETE", "/admin/v1/accounts/acme", nil, admin), 204)
	wantError(t, a.do("GET", "/admin/v1/accounts/acme", nil, admin), 404, "")
	wantError(t, a.do("GET", "/v1/accounts/origins", nil, key(keys["acme"])), 401, "")
	wantError(t, a.do("DELETE", "/admin/v1/accounts/acme", nil, admin), 404, "")
	st := a.state()
	if len(st.Accounts) != 4 || len(st.Purges) != 0 || fmt.Sprint(st.Accounts[0]) != fmt.Sprint(bravoBefore) {
		t.Fatalf("after delete: %d accounts, %d purges", len(st.Accounts), len(st.Purges))
	}
	var left int
	err := a.super.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM account_users WHERE account_id = 'acme') + (SELECT count(*) FROM api_keys WHERE account_id = 'acme')
			+ (SELECT count(*) FROM sessions WHERE account_id = 'acme') + (SELECT count(*) FROM usage_daily WHERE account_id = 'acme')
			+ (SELECT count(*) FROM custom_domains WHERE account_id = 'acme') + (SELECT count(*) FROM api_rate_limits WHERE account_id = 'acme')`).Scan(&left)
	if err != nil || left != 0 {
		t.Fatalf("%d rows of the deleted account left (%v)", left, err)
	}
	// The id, email and domain are free again.
	again := a.createAccount("acme")
	a.createEndpoint(again.PrivateKey, map[string]any{"description": "P", "urlPrefix": "p", "customDomains": []string{"img.acme.example"}})

	// Every admin route wants the token.
	for _, route := range []struct{ method, path string }{
		{"GET", "/admin/v1/accounts"}, {"POST", "/admin/v1/accounts"}, {"GET", "/admin/v1/accounts/bravo"},
		{"PATCH", "/admin/v1/accounts/bravo"}, {"DELETE", "/admin/v1/accounts/bravo"}, {"GET", "/admin/v1/edges"},
	} {
		wantError(t, a.do(route.method, route.path, jsonBody(map[string]any{"status": "suspended"}), key(keys["bravo"])), 401, "")
		wantError(t, a.do(route.method, route.path, jsonBody(map[string]any{"status": "suspended"}), bearer("wrong")), 401, "")
	}
}

func TestAdminEdges(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.do("GET", "/admin/v1/edges", nil, admin); r.status != 200 || string(r.body) != "[]\n" {
		t.Fatalf("no edges: %d %s", r.status, r.body)
	}
	ctx := context.Background()
	if err := a.db.EdgeConnected(ctx, tenant.EdgeNode{NodeID: "edge-1", EdgeGroup: "eu", AppliedVersion: 3, Session: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := a.db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "edge-1", Session: "s", Version: 4, AppliedVersion: 3, ErrorDetail: "bad origin"}); err != nil {
		t.Fatal(err)
	}
	r := a.do("GET", "/admin/v1/edges", nil, admin)
	type edge struct {
		NodeID, EdgeGroup, LastNackDetail string
		AppliedVersion, LastNackVersion   uint64
		Connected                         bool
		LastSeen                          time.Time
	}
	edges := ok[[]edge](t, r, http.StatusOK)
	if len(edges) != 1 || edges[0].NodeID != "edge-1" || edges[0].EdgeGroup != "eu" || edges[0].AppliedVersion != 3 ||
		edges[0].LastNackVersion != 4 || edges[0].LastNackDetail != "bad origin" || !edges[0].Connected || time.Since(edges[0].LastSeen) > time.Minute {
		t.Fatalf("edges %s", r.body)
	}
}
