package httpapi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/controlplane/internal/throttle"
)

// countingStore counts the store calls the abuse limits must save or
// keep equal.
type countingStore struct {
	httpapi.Store
	keyLookups, sessionLookups, userLookups, loginCounts atomic.Int32
}

func (s *countingStore) FindKeyByDigest(ctx context.Context, digest []byte) (tenant.APIKey, error) {
	s.keyLookups.Add(1)
	return s.Store.FindKeyByDigest(ctx, digest)
}

func (s *countingStore) FindSession(ctx context.Context, digest []byte) (tenant.Session, error) {
	s.sessionLookups.Add(1)
	return s.Store.FindSession(ctx, digest)
}

func (s *countingStore) FindUserByEmail(ctx context.Context, email string) (tenant.User, error) {
	s.userLookups.Add(1)
	return s.Store.FindUserByEmail(ctx, email)
}

func (s *countingStore) CountLoginAttempt(ctx context.Context, digest []byte, window time.Duration) (int, time.Time, error) {
	s.loginCounts.Add(1)
	return s.Store.CountLoginAttempt(ctx, digest, window)
}

// counted wraps the API's store in a countingStore.
func counted(cs **countingStore) options {
	return func(o *httpapi.Options) {
		*cs = &countingStore{Store: o.Store}
		o.Store = *cs
	}
}

// behindProxy trusts the test client (127.0.0.1) as a proxy, so
// X-Forwarded-For tells the client address.
func behindProxy(o *httpapi.Options) {
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

func from(addr string) credentials { return header("X-Forwarded-For", addr) }

// wantRetryAfter checks a 429 in the API's error shape with a Retry-After
// of 1..max seconds.
func wantRetryAfter(t *testing.T, r response, max int) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, "")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > max {
		t.Fatalf("Retry-After %q, want 1..%d", r.header.Get("Retry-After"), max)
	}
}

func (a *api) login(email, password string, creds ...credentials) response {
	a.t.Helper()
	return a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": email, "password": password}), creds...)
}

// TestPasswordGate: past the bound on concurrent password hashing, logins
// and sign-ups get 429 with Retry-After at once (or after a short wait),
// before anything is counted or written; a slot freed during the wait
// lets the request through.
func TestPasswordGate(t *testing.T) {
	t.Parallel()
	const slots = 2
	tests := []struct {
		name string
		wait time.Duration
		// freeAfter frees the held slots after this long; 0: never.
		freeAfter time.Duration
		requests  int
		want      int
	}{
		{"every slot busy: concurrent logins get 429", 0, 0, 6, 429},
		{"every slot busy past the wait: 429", 100 * time.Millisecond, 0, 3, 429},
		{"a slot frees up during the wait", 10 * time.Second, 100 * time.Millisecond, 1, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gate := throttle.NewGate(slots, tt.wait)
			var cs *countingStore
			a := newAPI(t, counted(&cs), func(o *httpapi.Options) { o.PasswordGate = gate })
			a.createAccount("acme")
			var held []func()
			for range slots {
				release, ok := gate.Enter(context.Background())
				if !ok {
					t.Fatal("could not hold a slot")
				}
				held = append(held, release)
			}
			if tt.freeAfter > 0 {
				time.AfterFunc(tt.freeAfter, func() {
					for _, release := range held {
						release()
					}
				})
			}
			var wg sync.WaitGroup
			got := make([]response, tt.requests)
			for i := range tt.requests {
				wg.Go(func() { got[i] = a.login("acme@example.com", "correct horse") })
			}
			wg.Wait()
			for _, r := range got {
				if tt.want == 200 {
					ok[any](t, r, 200)
					continue
				}
				wantRetryAfter(t, r, 1)
			}
			if tt.want == 429 {
				if n := cs.loginCounts.Load() + cs.userLookups.Load(); n != 0 {
					t.Fatalf("%d store calls for logins the gate turned away, want 0", n)
				}
				a.unchanged(t, func() {
					wantRetryAfter(t, a.do("POST", "/v1/auth/signup", jsonBody(map[string]any{
						"accountId": "newco", "name": "New Co", "email": "me@newco.example", "password": "long enough",
					})), 1)
				})
			}
		})
	}
}

// TestLoginEmailLimit: attempts per email are bounded (429 with
// Retry-After, the right password included) for a while, then allowed
// again; an email with no account behaves exactly the same, store calls
// included, so the limit tells nothing about which emails exist.
func TestLoginEmailLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	// Long enough for the attempts below under the race detector, where
	// a hash takes up to a second.
	window := 10 * time.Second
	tests := []struct {
		name     string
		email    string
		password string // the right one, tried once the limit is reached
		want     int    // status of the right password after the window
	}{
		{"an email with an account", "acme@example.com", "correct horse", 200},
		{"an email without one", "nobody@example.com", "correct horse", 401},
	}
	calls := make([][2]int32, len(tests))
	t.Run("group", func(t *testing.T) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var cs *countingStore
				a := newAPI(t, counted(&cs), func(o *httpapi.Options) { o.LoginRateLimit = limit; o.LoginWindow = window })
				a.createAccount("acme")
				start := time.Now()
				for i := range limit {
					wantError(t, a.login(tt.email, "wrong horse "+strconv.Itoa(i)), 401, "")
				}
				wantRetryAfter(t, a.login(tt.email, "wrong horse"), 10)
				wantRetryAfter(t, a.login(strings.ToUpper(tt.email), tt.password), 10)
				wantError(t, a.login("bravo@example.com", "wrong"), 401, "") // other emails are unaffected
				calls[i] = [2]int32{cs.loginCounts.Load(), cs.userLookups.Load()}

				// The window began at the first attempt, a little after start.
				time.Sleep(time.Until(start.Add(window + time.Second)))
				if r := a.login(tt.email, tt.password); r.status != tt.want {
					t.Fatalf("after the window: %d %s, want %d", r.status, r.body, tt.want)
				}
			})
		}
	})
	if calls[0] != calls[1] {
		t.Fatalf("store calls (attempts counted, users looked up): %v with an account, %v without", calls[0], calls[1])
	}
}

// TestLoginSuccessesAreFree: right passwords use up neither the email's
// allowance nor the address's.
func TestLoginSuccessesAreFree(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *httpapi.Options) {
		o.LoginRateLimit = 2
		o.LoginIPRate = throttle.Rate{Burst: 2, Per: time.Hour}
	})
	a.createAccount("acme")
	for range 5 {
		ok[any](t, a.login("acme@example.com", "correct horse"), 200)
	}
}

// TestLoginAddressLimit: failed logins from one address, whatever the
// emails, are bounded (429 with Retry-After, the right password included,
// and no look-up); other addresses are unaffected.
func TestLoginAddressLimit(t *testing.T) {
	t.Parallel()
	var cs *countingStore
	// Three failures, then one every 20 minutes; the refill itself is
	// tested in package throttle, on a clock of its own.
	a := newAPI(t, behindProxy, counted(&cs), func(o *httpapi.Options) { o.LoginIPRate = throttle.Rate{Burst: 3, Per: time.Hour} })
	a.createAccount("acme")
	const attacker = "203.0.113.7"
	for i := range 3 {
		wantError(t, a.login("user"+strconv.Itoa(i)+"@example.com", "guess", from(attacker)), 401, "")
	}
	for _, tt := range []struct {
		name, from, password string
		want                 int
		lookups              int32
	}{
		{"the address is refused", attacker, "guess", 429, 0},
		{"even with the right password", attacker, "correct horse", 429, 0},
		{"another address is not", "198.51.100.20", "correct horse", 200, 1},
		{"nor the same address through another proxy hop", "192.0.2.1, " + attacker + ", 127.0.0.2", "correct horse", 429, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := cs.userLookups.Load()
			r := a.login("acme@example.com", tt.password, from(tt.from))
			if tt.want == 429 {
				wantRetryAfter(t, r, 1200)
			} else {
				ok[any](t, r, tt.want)
			}
			if n := cs.userLookups.Load() - before; n != tt.lookups {
				t.Fatalf("%d user look-ups, want %d", n, tt.lookups)
			}
		})
	}
}

// TestUnknownCredentialsLimit: an address that sent too many API keys or
// session cookies the database does not know gets 429 with Retry-After
// before the database is asked again; malformed ones never reach it and
// never count; other addresses are unaffected.
func TestUnknownCredentialsLimit(t *testing.T) {
	t.Parallel()
	const burst = 3
	unknownKey := key("private_" + strings.Repeat("A", 43))
	forged := cookie(&http.Cookie{Name: "pictor_session", Value: base64.RawURLEncoding.EncodeToString(make([]byte, 32))})
	tests := []struct {
		name    string
		method  string
		path    string
		creds   credentials
		lookups func(*countingStore) int32
	}{
		{"unknown API keys", "GET", "/v1/accounts/origins", unknownKey, func(cs *countingStore) int32 { return cs.keyLookups.Load() }},
		{"unknown session cookies", "GET", "/v1/accounts/origins", forged, func(cs *countingStore) int32 { return cs.sessionLookups.Load() }},
		{"unknown session cookies at /me", "GET", "/v1/auth/me", forged, func(cs *countingStore) int32 { return cs.sessionLookups.Load() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cs *countingStore
			a := newAPI(t, behindProxy, counted(&cs), func(o *httpapi.Options) { o.CredentialIPRate = throttle.Rate{Burst: burst, Per: time.Hour} })
			acme := a.createAccount("acme")
			const attacker = "203.0.113.9"
			for range 20 {
				wantError(t, a.do(tt.method, tt.path, nil, key("private_short"), from(attacker)), 401, "")
			}
			for range burst {
				wantError(t, a.do(tt.method, tt.path, nil, tt.creds, from(attacker)), 401, "")
			}
			if n := tt.lookups(cs); n != burst {
				t.Fatalf("%d look-ups for %d unknown credentials, want %d", n, burst, burst)
			}
			for range 10 {
				wantRetryAfter(t, a.do(tt.method, tt.path, nil, tt.creds, from(attacker)), 1200)
			}
			if n := tt.lookups(cs); n != burst {
				t.Fatalf("%d look-ups, want still %d: refused requests must not reach the database", n, burst)
			}
			// The address is refused before its key can be told apart.
			wantRetryAfter(t, a.do("GET", "/v1/accounts/origins", nil, key(acme.PrivateKey), from(attacker)), 1200)
			ok[any](t, a.do("GET", "/v1/accounts/origins", nil, key(acme.PrivateKey), from("198.51.100.1")), 200)
			wantError(t, a.do(tt.method, tt.path, nil, tt.creds, from("198.51.100.1")), 401, "")
		})
	}
}

// TestLogoutUnknownSession: logging out with a session the database does
// not know writes nothing and counts as an unknown credential.
func TestLogoutUnknownSession(t *testing.T) {
	t.Parallel()
	var cs *countingStore
	a := newAPI(t, counted(&cs), func(o *httpapi.Options) { o.CredentialIPRate = throttle.Rate{Burst: 2, Per: time.Hour} })
	forged := cookie(&http.Cookie{Name: "pictor_session", Value: base64.RawURLEncoding.EncodeToString(make([]byte, 32))})
	var audit0 int
	if err := a.super.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&audit0); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ok[any](t, a.do("POST", "/v1/auth/logout", nil, forged), 204)
	}
	wantRetryAfter(t, a.do("POST", "/v1/auth/logout", nil, forged), 3600)
	var audit1 int
	if err := a.super.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&audit1); err != nil || audit1 != audit0 || cs.sessionLookups.Load() != 2 {
		t.Fatalf("audit rows %d -> %d (%v), %d look-ups; want none written, 2 look-ups", audit0, audit1, err, cs.sessionLookups.Load())
	}
}

// TestSignupAddressLimit: sign-ups per address are bounded, conflicts
// included (they tell which ids and emails are taken); invalid input
// costs nothing and counts nothing; other addresses are unaffected.
func TestSignupAddressLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, behindProxy, func(o *httpapi.Options) { o.SignupIPRate = throttle.Rate{Burst: 2, Per: time.Hour} })
	a.createAccount("taken")
	body := func(id, email string) map[string]any {
		return map[string]any{"accountId": id, "name": "Co", "email": email, "password": "long enough"}
	}
	const addr = "203.0.113.50"
	for _, tt := range []struct {
		name  string
		from  string
		body  map[string]any
		want  int
		field string
	}{
		{"invalid input does not count", addr, body("No Way", "x@example.com"), 400, "accountId"},
		{"invalid input does not count, again", addr, body("newco", "not an email"), 400, "email"},
		{"invalid input does not count, yet again", addr, body("", "x@example.com"), 400, "accountId"},
		{"a conflict counts", addr, body("taken", "x@example.com"), 409, "accountId"},
		{"a sign-up counts", addr, body("newco", "me@newco.example"), 201, ""},
		{"past the limit", addr, body("third", "me@third.example"), 429, ""},
		{"another address", "198.51.100.50", body("third", "me@third.example"), 201, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			do := func() response { return a.do("POST", "/v1/auth/signup", jsonBody(tt.body), from(tt.from)) }
			switch tt.want {
			case 429:
				a.unchanged(t, func() { wantRetryAfter(t, do(), 3600) })
			case 201:
				ok[any](t, do(), 201)
			default:
				wantError(t, do(), tt.want, tt.field)
			}
		})
	}
}
