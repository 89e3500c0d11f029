package httpapi_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"pictor/services/controlplane/internal/httpapi"
)

// login logs in and returns the session cookie.
func login(t *testing.T, a *api, email, password string) *http.Cookie {
	t.Helper()
	r := a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": email, "password": password}))
	ok[any](t, r, 200)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if strings.HasSuffix(c.Name, "pictor_session") && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login set no session cookie: %v", r.header)
	return nil
}

func cookie(c *http.Cookie) credentials { return func(r *http.Request) { r.AddCookie(c) } }

func TestLoginAndSessions(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *httpapi.Options) { o.LoginRateLimit = 4; o.LoginWindow = time.Minute })
	acme := a.createAccount("acme")
	bravo := a.createAccount("bravo")

	r := a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "ACME@example.com", "password": "correct horse"}))
	wantFields(t, r.body, "account", "email")
	me := ok[struct {
		Account struct{ ID string }
		Email   string
	}](t, r, 200)
	if me.Account.ID != "acme" || me.Email != "acme@example.com" {
		t.Fatalf("login %s", r.body)
	}
	set := r.header.Get("Set-Cookie")
	for _, attr := range []string{"pictor_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(set, attr) {
			t.Fatalf("cookie %q lacks %s", set, attr)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Fatalf("cookie %q is Secure without TLS configured", set)
	}
	c := login(t, a, "acme@example.com", "correct horse")

	// The cookie authenticates the account API and /me.
	ok[any](t, a.do("GET", "/v1/auth/me", nil, cookie(c)), 200)
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, cookie(c)), 200)
	originBody := func() *strings.Reader {
		return strings.NewReader(`{"type":"WEB_FOLDER","name":"o","baseUrl":"https://o.example"}`)
	}
	ok[any](t, a.do("POST", "/v1/accounts/origins", originBody(), cookie(c), header("Sec-Fetch-Site", "same-origin")), 201)
	ok[any](t, a.do("POST", "/v1/accounts/origins", originBody(), cookie(c)), 201) // not a browser

	// CSRF: a cross-site page cannot use the cookie for unsafe methods...
	for _, h := range []credentials{header("Sec-Fetch-Site", "cross-site"), header("Sec-Fetch-Site", "same-site"), header("Origin", "https://evil.example")} {
		a.unchanged(t, func() {
			wantError(t, a.do("POST", "/v1/accounts/origins", originBody(), cookie(c), h), 403, "")
		})
	}
	// ...nor Basic credentials a browser cached from its login dialog,
	// while reads are fine, and so are SDK calls (no browser headers).
	a.unchanged(t, func() {
		wantError(t, a.do("POST", "/v1/accounts/origins", originBody(), key(acme.PrivateKey), header("Sec-Fetch-Site", "cross-site")), 403, "")
	})
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, cookie(c), header("Sec-Fetch-Site", "cross-site")), 200)
	ok[any](t, a.do("POST", "/v1/accounts/origins", originBody(), key(acme.PrivateKey)), 201)
	// Login itself is CSRF-checked (login CSRF).
	wantError(t, a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "acme@example.com", "password": "correct horse"}), header("Sec-Fetch-Site", "cross-site")), 403, "")

	// A browser's script gets no Basic challenge (no native dialog).
	if r := a.do("GET", "/v1/accounts/origins", nil, header("Sec-Fetch-Mode", "cors")); r.status != 401 || r.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("fetch without credentials: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}

	// Wrong credentials look alike.
	for _, body := range []map[string]any{
		{"email": "acme@example.com", "password": "wrong horse"},
		{"email": "nobody@example.com", "password": "correct horse"},
	} {
		e := wantError(t, a.do("POST", "/v1/auth/login", jsonBody(body)), 401, "")
		if e.Message != "wrong email or password" {
			t.Fatalf("message %q", e.Message)
		}
	}
	wantError(t, a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "nope", "password": "x"})), 400, "email")
	wantError(t, a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "acme@example.com"})), 400, "password")
	wantError(t, a.do("GET", "/v1/auth/me", nil), 401, "")
	wantError(t, a.do("GET", "/v1/auth/me", nil, cookie(&http.Cookie{Name: "pictor_session", Value: "forged"})), 401, "")
	wantError(t, a.do("GET", "/v1/auth/me", nil, key(acme.PrivateKey)), 401, "")

	// Guessing is bounded per email (4 attempts per window here), and
	// other accounts are unaffected.
	var limited response
	for range 6 {
		limited = a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "acme@example.com", "password": "guess guess"}))
		if limited.status == 429 {
			break
		}
	}
	wantError(t, limited, 429, "")
	if s, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", limited.header.Get("Retry-After"))
	}
	login(t, a, "bravo@example.com", "correct horse")
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, key(bravo.PrivateKey)), 200)

	// Logout ends the session for good.
	r = a.do("POST", "/v1/auth/logout", nil, cookie(c))
	ok[any](t, r, 204)
	if set := r.header.Get("Set-Cookie"); !strings.Contains(set, "Max-Age=0") {
		t.Fatalf("logout cookie %q does not clear", set)
	}
	wantError(t, a.do("GET", "/v1/accounts/origins", nil, cookie(c)), 401, "")
	ok[any](t, a.do("POST", "/v1/auth/logout", nil), 204)
}

func TestSecureCookie(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *httpapi.Options) { o.SecureCookies = true; o.SessionTTL = time.Hour })
	a.createAccount("acme")
	r := a.do("POST", "/v1/auth/login", jsonBody(map[string]any{"email": "acme@example.com", "password": "correct horse"}))
	ok[any](t, r, 200)
	set := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(set, "__Host-pictor_session=") || !strings.Contains(set, "; Secure") || strings.Contains(set, "Domain=") {
		t.Fatalf("cookie %q", set)
	}
}

func TestSignup(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.createAccount("taken")
	body := func(edit func(m map[string]any)) io.Reader {
		m := map[string]any{"accountId": "newco", "name": "New Co", "email": "me@newco.example", "password": "long enough"}
		edit(m)
		return jsonBody(m)
	}
	for _, tt := range []struct {
		name   string
		edit   func(m map[string]any)
		status int
		field  string
	}{
		{"bad id", func(m map[string]any) { m["accountId"] = "No Way" }, 400, "accountId"},
		{"reserved id", func(m map[string]any) { m["accountId"] = "admin" }, 400, "accountId"},
		{"taken id", func(m map[string]any) { m["accountId"] = "taken" }, 409, "accountId"},
		{"taken email", func(m map[string]any) { m["email"] = "TAKEN@example.com" }, 409, "email"},
		{"bad email", func(m map[string]any) { m["email"] = "x" }, 400, "email"},
		{"short password", func(m map[string]any) { m["password"] = "short" }, 400, "password"},
		{"no name", func(m map[string]any) { delete(m, "name") }, 400, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() { wantError(t, a.do("POST", "/v1/auth/signup", body(tt.edit)), tt.status, tt.field) })
		})
	}
	wantError(t, a.do("POST", "/v1/auth/signup", body(func(map[string]any) {}), header("Origin", "https://evil.example")), 403, "")

	r := a.do("POST", "/v1/auth/signup", body(func(map[string]any) {}))
	res := ok[created](t, r, 201)
	if res.Account.ID != "newco" || res.URLEndpoint.ID != "default" || res.PrivateKey == "" {
		t.Fatalf("signup %s", r.body)
	}
	c := (&http.Response{Header: r.header}).Cookies()
	if len(c) != 1 {
		t.Fatalf("signup cookies %v", c)
	}
	me := ok[struct{ Email string }](t, a.do("GET", "/v1/auth/me", nil, cookie(c[0])), 200)
	if me.Email != "me@newco.example" {
		t.Fatalf("me %+v", me)
	}
	ok[any](t, a.do("GET", "/v1/accounts/origins", nil, key(res.PrivateKey)), 200)
	login(t, a, "me@newco.example", "long enough")

	off := newAPI(t, func(o *httpapi.Options) { o.SignupEnabled = false })
	off.unchanged(t, func() { wantError(t, off.do("POST", "/v1/auth/signup", body(func(map[string]any) {})), 403, "") })
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const dash = "http://dash.example:5173"
	same := newAPI(t)
	k := same.createAccount("acme").PrivateKey
	// Without a configured dashboard origin, no Origin is ever allowed.
	r := same.do("GET", "/v1/accounts/origins", nil, key(k), header("Origin", "https://evil.example"))
	if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("CORS headers for an arbitrary origin: %v", r.header)
	}

	a := newAPI(t, func(o *httpapi.Options) { o.DashboardOrigin = dash })
	k = a.createAccount("acme").PrivateKey
	r = a.do("GET", "/v1/accounts/origins", nil, key(k), header("Origin", dash))
	if r.header.Get("Access-Control-Allow-Origin") != dash || r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(r.header.Get("Vary"), "Origin") {
		t.Fatalf("dashboard origin: %v", r.header)
	}
	for _, evil := range []string{"https://evil.example", "null", dash + ".evil.example", "http://dash.example"} {
		r = a.do("GET", "/v1/accounts/origins", nil, key(k), header("Origin", evil))
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Origin %q got Access-Control-Allow-Origin %q", evil, got)
		}
	}
	// Preflight.
	r = a.do("OPTIONS", "/v1/accounts/origins", nil, header("Origin", dash), header("Access-Control-Request-Method", "POST"),
		header("Access-Control-Request-Headers", "content-type"))
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != dash || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = a.do("OPTIONS", "/v1/accounts/origins", nil, header("Origin", "https://evil.example"), header("Access-Control-Request-Method", "POST"))
	if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("preflight from another origin allowed: %v", r.header)
	}
	// The dashboard origin passes the CSRF check with its cookie.
	c := login(t, a, "acme@example.com", "correct horse")
	ok[any](t, a.do("POST", "/v1/accounts/origins", strings.NewReader(`{"type":"WEB_FOLDER","name":"o","baseUrl":"https://o.example"}`),
		cookie(c), header("Origin", dash), header("Sec-Fetch-Site", "same-site")), 201)
}
