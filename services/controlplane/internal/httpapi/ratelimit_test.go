package httpapi_test

import (
	"strconv"
	"testing"
	"time"

	"pictor/services/controlplane/internal/httpapi"
)

// TestRateLimit: past its limit an account gets 429 with Retry-After,
// whichever replica it talks to (two API servers share one database
// here), and other accounts are unaffected.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 5
	limited := func(o *httpapi.Options) { o.RateLimit = limit; o.RateWindow = time.Hour }
	dbURL := newDatabaseURL(t)
	replica1 := newAPIWithURL(t, dbURL, limited)
	replica2 := newAPIWithURL(t, dbURL, limited)
	acme := replica1.createAccount("acme").PrivateKey
	bravo := replica1.createAccount("bravo").PrivateKey

	// Fixed hourly windows: keep clear of the boundary.
	if now := time.Now(); now.Truncate(time.Hour).Add(time.Hour).Sub(now) < 5*time.Second {
		time.Sleep(5 * time.Second)
	}
	for i := range limit {
		a := replica1
		if i%2 == 1 {
			a = replica2
		}
		r := a.do("GET", "/v1/accounts/origins", nil, key(acme))
		if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(limit-i-1) {
			t.Fatalf("request %d: %d, remaining %q", i+1, r.status, r.header.Get("X-RateLimit-Remaining"))
		}
	}
	for _, a := range []*api{replica1, replica2} {
		r := a.do("GET", "/v1/accounts/origins", nil, key(acme))
		wantError(t, r, 429, "")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	ok[any](t, replica2.do("GET", "/v1/accounts/origins", nil, key(bravo)), 200)
}
