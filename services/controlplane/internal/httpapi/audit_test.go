package httpapi_test

import (
	"context"
	"testing"
)

// TestAuditRows: every kind of caller leaves an audit row naming it, the
// account, the action, the object and the request id it sent.
func TestAuditRows(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.createAccount("acme")
	c := login(t, a, "acme@example.com", "correct horse")
	keys := ok[[]apiKey](t, a.do("GET", "/v1/api-keys", nil, key(acme.PrivateKey)), 200)

	o := ok[origin](t, a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "o", "baseUrl": "https://o.example"}),
		key(acme.PrivateKey), header("X-Request-Id", "req-key-1")), 201)
	n := ok[named](t, a.do("POST", "/v1/named-transformations", jsonBody(map[string]any{"name": "t", "transformation": "w-1"}),
		cookie(c), header("X-Request-Id", "req-session-1")), 201)
	ok[any](t, a.do("PATCH", "/admin/v1/accounts/acme", jsonBody(map[string]any{"name": "Acme"}), admin, header("X-Request-Id", "req-admin-1")), 200)

	var userID string
	if err := a.super.QueryRow(context.Background(), `SELECT id FROM account_users WHERE account_id = 'acme'`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	want := map[string][4]string{
		"req-key-1":     {"key:" + keys[0].ID, "acme", "origin.create", o.ID},
		"req-session-1": {"user:" + userID, "acme", "named_transformation.create", n.ID},
		"req-admin-1":   {"admin", "acme", "account.update", "acme"},
	}
	for reqID, w := range want {
		var got [4]string
		err := a.super.QueryRow(context.Background(), `SELECT actor, account_id, action, target FROM audit_log WHERE request_id = $1`, reqID).
			Scan(&got[0], &got[1], &got[2], &got[3])
		if err != nil || got != w {
			t.Errorf("audit row of %s: %v (%v), want %v", reqID, got, err, w)
		}
	}

	// A suspended account's live session is refused too.
	ok[any](t, a.do("PATCH", "/admin/v1/accounts/acme", jsonBody(map[string]any{"status": "suspended"}), admin), 200)
	wantError(t, a.do("GET", "/v1/accounts/origins", nil, cookie(c)), 403, "")
	wantError(t, a.do("GET", "/v1/auth/me", nil, cookie(c)), 403, "")
}
