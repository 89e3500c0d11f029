package httpapi_test

import (
	"encoding/json"
	"testing"
)

// TestDeliveryErrors: the account's delivery errors, newest first, in the
// documented shape; another account's are never shown; limit is checked.
func TestDeliveryErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	bk := a.createAccount("bravo").PrivateKey
	// Rows as usage ingest writes them.
	a.exec(`INSERT INTO delivery_errors (account_id, endpoint_id, path, status, reason, origin_ids, occurred_at, node_id) VALUES
		('acme', 'default', 'photos/old.jpg', 502, 'bad_gateway', '{o1}', '2025-05-01T10:00:00Z', 'edge-1'),
		('acme', 'ep-2', 'photos/missing%20one.jpg', 404, 'not_found', '{o2,o1}', '2025-05-01T12:00:00.5Z', 'edge-2'),
		('acme', 'default', 'photos/none.jpg', 404, 'not_found', '{}', '2025-05-01T11:00:00Z', 'edge-1'),
		('bravo', 'default', 'secret/bravo.jpg', 404, 'not_found', '{ob}', '2025-05-01T13:00:00Z', 'edge-1')`)

	type derr struct {
		Path       string
		Status     int
		Reason     string
		OriginIDs  []string `json:"originIds"`
		EndpointID string   `json:"endpointId"`
		OccurredAt string   `json:"occurredAt"`
	}
	r := a.do("GET", "/v1/accounts/delivery-errors", nil, key(k))
	list := ok[[]derr](t, r, 200)
	if len(list) != 3 {
		t.Fatalf("listed %s", r.body)
	}
	first, _ := json.Marshal(decode[[]map[string]any](t, r.body)[0])
	wantFields(t, first, "path", "status", "reason", "originIds", "endpointId", "occurredAt")
	e := list[0]
	if e.Path != "photos/missing%20one.jpg" || e.Status != 404 || e.Reason != "not_found" || e.EndpointID != "ep-2" ||
		len(e.OriginIDs) != 2 || e.OriginIDs[0] != "o2" || e.OccurredAt != "2025-05-01T12:00:00.5Z" {
		t.Fatalf("newest %+v", e)
	}
	if list[1].Path != "photos/none.jpg" || list[1].OriginIDs == nil || len(list[1].OriginIDs) != 0 || list[2].Path != "photos/old.jpg" {
		t.Fatalf("order or empty origins: %s", r.body)
	}
	if l := ok[[]derr](t, a.do("GET", "/v1/accounts/delivery-errors?limit=1", nil, key(k)), 200); len(l) != 1 || l[0].Path != e.Path {
		t.Fatalf("limit=1: %+v", l)
	}
	// bravo sees its own only; acme never sees bravo's.
	if l := ok[[]derr](t, a.do("GET", "/v1/accounts/delivery-errors", nil, key(bk)), 200); len(l) != 1 || l[0].Path != "secret/bravo.jpg" {
		t.Fatalf("bravo lists %+v", l)
	}
	for _, d := range list {
		if d.Path == "secret/bravo.jpg" {
			t.Fatal("acme sees bravo's delivery error")
		}
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x"} {
		wantError(t, a.do("GET", "/v1/accounts/delivery-errors"+q, nil, key(k)), 400, "limit")
	}
	wantError(t, a.do("GET", "/v1/accounts/delivery-errors", nil), 401, "")
}
