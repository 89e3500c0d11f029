package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	adminToken = "admin-token-for-tests"
	edgeURL    = "http://edge.test:8081"
)

type api struct {
	t     *testing.T
	url   string
	db    *postgres.DB  // as the application connects: a NOINHERIT login
	super *pgxpool.Pool // superuser, for fixtures and inspection only
	keys  *auth.Keyring // the API's, to open what it sealed
}

// options tweaks the API under test.
type options func(*httpapi.Options)

func allowPrivate(o *httpapi.Options) { o.OriginPolicy.AllowPrivate = true }

func newAPI(t *testing.T, opts ...options) *api {
	t.Helper()
	return newAPIWithURL(t, newDatabaseURL(t), opts...)
}

// newDatabaseURL returns a fresh migrated database (superuser URL).
func newDatabaseURL(t *testing.T) string { return pgtest.NewDatabase(t) }

// appLogin is the role the API under test connects as: it can log in and
// assume pictor_app and pictor_system, and has no privilege of its own
// (NOINHERIT), as migration 000002 recommends for production. A query that
// forgot to assume a role fails instead of passing unnoticed.
const appLogin = "pictor_test_app"

// appURL returns databaseURL with appLogin as the user, creating the role
// once per cluster.
func appURL(t *testing.T, super *pgxpool.Pool, databaseURL string) string {
	t.Helper()
	appLoginOnce.Do(func() { appLoginErr = createAppLogin(super) })
	if appLoginErr != nil {
		t.Fatalf("create %s: %v", appLogin, appLoginErr)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(appLogin, "pictor-test")
	return u.String()
}

var (
	appLoginOnce sync.Once
	appLoginErr  error
)

// createAppLogin creates appLogin unless another test binary sharing the
// server already did (roles are cluster-wide).
func createAppLogin(super *pgxpool.Pool) error {
	_, err := super.Exec(context.Background(), `
		DO $$ BEGIN
			CREATE ROLE `+appLogin+` LOGIN NOINHERIT PASSWORD 'pictor-test' IN ROLE pictor_app, pictor_system;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
		END $$`)
	return err
}

func newAPIWithURL(t *testing.T, databaseURL string, opts ...options) *api {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	a := &api{t: t}
	dbURL := databaseURL
	if !strings.Contains(databaseURL, "nobody@") {
		super, err := pgxpool.New(context.Background(), databaseURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(super.Close)
		a.super = super
		dbURL = appURL(t, super, databaseURL)
	}
	db, err := postgres.Open(context.Background(), dbURL, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	a.db = db
	kr, err := auth.NewKeyring(bytes.Repeat([]byte{5}, auth.MasterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	a.keys = kr
	o := httpapi.Options{
		AdminToken:    adminToken,
		PublicEdgeURL: edgeURL + "/",
		BodyLimit:     4096,
		SignupEnabled: true,
		Store:         db,
		Keyring:       kr,
		Log:           log,
	}
	for _, edit := range opts {
		edit(&o)
	}
	h, err := httpapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// exec runs fixture SQL as the superuser.
func (a *api) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.super.Exec(context.Background(), sql, args...); err != nil {
		a.t.Fatalf("%s: %v", sql, err)
	}
}

// state is everything edges see plus the purge rules: two equal states
// mean nothing visible changed.
func (a *api) state() tenant.ConfigState {
	a.t.Helper()
	st, err := a.db.LoadConfig(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return st
}

// credentials say how a request authenticates.
type credentials func(*http.Request)

func admin(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) }
func bearer(tok string) credentials {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func key(k string) credentials       { return func(r *http.Request) { r.SetBasicAuth(k, "ignored") } }
func header(k, v string) credentials { return func(r *http.Request) { r.Header.Set(k, v) } }
func noAuth(*http.Request)           {}
func raw(s string) io.Reader         { return strings.NewReader(s) }
func jsonBody(v any) io.Reader       { b, _ := json.Marshal(v); return bytes.NewReader(b) }
func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) do(method, path string, body io.Reader, creds ...credentials) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range creds {
		c(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if res.Header.Get("X-Request-Id") == "" {
		a.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

type errorJSON struct {
	Message string `json:"message"`
	Help    string `json:"help"`
	Field   string `json:"field"`
}

// wantError checks status, the JSON error shape and the field at fault.
func wantError(t *testing.T, r response, status int, field string) errorJSON {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q", ct)
	}
	e := decode[errorJSON](t, r.body)
	if e.Message == "" || e.Help == "" || e.Field != field {
		t.Fatalf("error body %s: want message, help and field %q", r.body, field)
	}
	if status == http.StatusConflict && r.header.Get("X-Should-Retry") != "false" {
		t.Fatal("409 without x-should-retry: false")
	}
	return e
}

type created struct {
	Account struct {
		ID, Name, OwnerEmail, Status string
		CreatedAt                    time.Time
	}
	URLEndpoint struct {
		ID, Description, URLPrefix, URLEndpoint string
		Origins, CustomDomains                  []string
		RestrictUnsignedURLs                    bool `json:"restrictUnsignedUrls"`
	}
	PrivateKey string
}

func (a *api) createAccount(id string) created {
	a.t.Helper()
	r := a.do("POST", "/admin/v1/accounts", jsonBody(map[string]string{
		"id": id, "name": "Account " + id, "ownerEmail": id + "@example.com", "ownerPassword": "correct horse",
	}), admin)
	if r.status != http.StatusCreated {
		a.t.Fatalf("create account %s: %d %s", id, r.status, r.body)
	}
	return decode[created](a.t, r.body)
}

type origin struct {
	ID                        string `json:"id"`
	Type                      string `json:"type"`
	Name                      string `json:"name"`
	BaseURL                   string `json:"baseUrl"`
	ForwardHostHeaderToOrigin bool   `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool   `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string `json:"baseUrlForCanonicalHeader"`
}

func (a *api) createOrigin(k, name, baseURL string) origin {
	a.t.Helper()
	r := a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": name, "baseUrl": baseURL}), key(k))
	if r.status != http.StatusCreated {
		a.t.Fatalf("create origin: %d %s", r.status, r.body)
	}
	return decode[origin](a.t, r.body)
}

func (a *api) version() uint64 {
	a.t.Helper()
	v, err := a.db.CurrentVersion(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return v
}

func (a *api) defaultEndpointOrigins(account string) []string {
	a.t.Helper()
	st, err := a.db.LoadConfig(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	for _, acct := range st.Accounts {
		if acct.Account.ID != account {
			continue
		}
		for _, e := range acct.Endpoints {
			if e.URLPrefix == "" {
				return e.OriginIDs
			}
		}
	}
	a.t.Fatalf("account %s has no default endpoint", account)
	return nil
}

func TestHealth(t *testing.T) {
	a := newAPI(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := a.do("GET", p, nil); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// TestDatabaseDown: probes and API calls answer at once, 200 for /healthz
// and 503 (JSON) for everything that needs the database.
func TestDatabaseDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a := newAPIWithURL(t, "postgres://nobody@"+addr+"/none?sslmode=disable")
	if r := a.do("GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz with the database down: %d", r.status)
	}
	wantError(t, a.do("GET", "/readyz", nil), http.StatusServiceUnavailable, "")
	wantError(t, a.do("POST", "/admin/v1/accounts", jsonBody(map[string]string{
		"id": "acme", "name": "Acme", "ownerEmail": "o@example.com",
	}), admin), http.StatusServiceUnavailable, "")
	wantError(t, a.do("GET", "/v1/accounts/origins", nil, key("private_"+strings.Repeat("A", 43))), http.StatusServiceUnavailable, "")
	wantError(t, a.do("GET", "/admin/v1/accounts", nil, admin), http.StatusServiceUnavailable, "")
	wantError(t, a.do("GET", "/admin/v1/edges", nil, admin), http.StatusServiceUnavailable, "")
	wantError(t, a.do("POST", "/v1/auth/login", jsonBody(map[string]string{"email": "o@example.com", "password": "x"})), http.StatusServiceUnavailable, "")
	session := cookie(&http.Cookie{Name: "pictor_session", Value: strings.Repeat("A", 43)})
	wantError(t, a.do("GET", "/v1/accounts/url-endpoints", nil, session), http.StatusServiceUnavailable, "")
	wantError(t, a.do("GET", "/v1/auth/me", nil, session), http.StatusServiceUnavailable, "")
}

func TestCreateAccount(t *testing.T) {
	a := newAPI(t)
	v0 := a.version()
	r := a.do("POST", "/admin/v1/accounts", jsonBody(map[string]string{
		"id": "acme", "name": "Acme Inc", "ownerEmail": "owner@acme.example",
	}), admin)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	// The exact shape, every field present.
	top := decode[map[string]any](t, r.body)
	shape := map[string]map[string]any{}
	for _, k := range []string{"account", "urlEndpoint"} {
		m, _ := top[k].(map[string]any)
		shape[k] = m
	}
	wantKeys := map[string][]string{
		"account":     {"createdAt", "id", "name", "ownerEmail", "status"},
		"urlEndpoint": {"customDomains", "description", "id", "origins", "restrictUnsignedUrls", "urlEndpoint", "urlPrefix"},
	}
	for obj, keys := range wantKeys {
		var got []string
		for k := range shape[obj] {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Fatalf("%s keys %v, want %v", obj, got, keys)
		}
	}
	if len(top) != 3 {
		t.Fatalf("top-level keys %v", top)
	}
	c := decode[created](t, r.body)
	ep := shape["urlEndpoint"]
	if c.Account.ID != "acme" || c.Account.Name != "Acme Inc" || c.Account.OwnerEmail != "owner@acme.example" ||
		c.Account.Status != "active" || time.Since(c.Account.CreatedAt) > time.Minute {
		t.Fatalf("account %+v", c.Account)
	}
	if ep["urlPrefix"] != "" || ep["restrictUnsignedUrls"] != false || !reflect.DeepEqual(ep["origins"], []any{}) ||
		!reflect.DeepEqual(ep["customDomains"], []any{}) || ep["urlEndpoint"] != edgeURL+"/acme" || c.URLEndpoint.ID != "default" {
		t.Fatalf("urlEndpoint %v", ep)
	}
	if !regexp.MustCompile(`^private_[A-Za-z0-9_-]{43}$`).MatchString(c.PrivateKey) {
		t.Fatalf("private key %q", c.PrivateKey)
	}
	if v := a.version(); v != v0+1 {
		t.Fatalf("version %d, want %d", v, v0+1)
	}
	// The key works at once.
	if r := a.do("GET", "/v1/accounts/origins", nil, key(c.PrivateKey)); r.status != http.StatusOK || string(r.body) != "[]\n" {
		t.Fatalf("new key lists origins: %d %q", r.status, r.body)
	}

	valid := func(edit func(m map[string]any)) io.Reader {
		m := map[string]any{"id": "bravo", "name": "Bravo", "ownerEmail": "owner@bravo.example"}
		edit(m)
		return jsonBody(m)
	}
	tests := []struct {
		name   string
		body   io.Reader
		creds  credentials
		status int
		field  string
	}{
		{"duplicate id", valid(func(m map[string]any) { m["id"] = "acme" }), admin, 409, "id"},
		{"duplicate email", valid(func(m map[string]any) { m["ownerEmail"] = "OWNER@acme.example" }), admin, 409, "ownerEmail"},
		{"missing id", valid(func(m map[string]any) { delete(m, "id") }), admin, 400, "id"},
		{"bad id", valid(func(m map[string]any) { m["id"] = "Bad Id" }), admin, 400, "id"},
		{"one-letter id", valid(func(m map[string]any) { m["id"] = "b" }), admin, 400, "id"},
		{"reserved id", valid(func(m map[string]any) { m["id"] = "admin" }), admin, 400, "id"},
		{"reserved healthz", valid(func(m map[string]any) { m["id"] = "healthz" }), admin, 400, "id"},
		{"id of wrong type", valid(func(m map[string]any) { m["id"] = 5 }), admin, 400, "id"},
		{"missing name", valid(func(m map[string]any) { delete(m, "name") }), admin, 400, "name"},
		{"bad email", valid(func(m map[string]any) { m["ownerEmail"] = "nope" }), admin, 400, "ownerEmail"},
		{"short password", valid(func(m map[string]any) { m["ownerPassword"] = "short" }), admin, 400, "ownerPassword"},
		{"malformed JSON", raw(`{"id": "bravo",`), admin, 400, ""},
		{"syntax error", raw(`{"id" "bravo"}`), admin, 400, ""},
		{"not an object", raw(`["bravo"]`), admin, 400, ""},
		{"empty body", raw(``), admin, 400, ""},
		{"trailing data", raw(`{"id":"bravo","name":"B","ownerEmail":"b@b.example"} {}`), admin, 400, ""},
		{"body too large", raw(`{"name":"` + strings.Repeat("x", 5000) + `"}`), admin, 413, ""},
		{"no token", valid(func(map[string]any) {}), noAuth, 401, ""},
		{"wrong token", valid(func(map[string]any) {}), bearer("nope"), 401, ""},
		{"token as basic auth", valid(func(map[string]any) {}), key(adminToken), 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.version()
			r := a.do("POST", "/admin/v1/accounts", tt.body, tt.creds)
			wantError(t, r, tt.status, tt.field)
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
			if v := a.version(); v != before {
				t.Fatalf("failed request moved the version from %d to %d", before, v)
			}
		})
	}
}

func TestOrigins(t *testing.T) {
	a := newAPI(t, allowPrivate)
	acme := a.createAccount("acme")
	k := acme.PrivateKey
	v0 := a.version()

	body := map[string]any{
		"type": "WEB_FOLDER", "name": "Photos", "baseUrl": "http://127.0.0.1:8079/photos/",
		"forwardHostHeaderToOrigin": true, "includeCanonicalHeader": true, "baseUrlForCanonicalHeader": "https://www.acme.example",
		"id": "ignored", "unknownField": 1,
	}
	r := a.do("POST", "/v1/accounts/origins", jsonBody(body), key(k))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var fields map[string]any
	json.Unmarshal(r.body, &fields)
	if len(fields) != 7 {
		t.Fatalf("origin fields %v, want all 7", fields)
	}
	first := decode[origin](t, r.body)
	want := origin{ID: first.ID, Type: "WEB_FOLDER", Name: "Photos", BaseURL: "http://127.0.0.1:8079/photos/",
		ForwardHostHeaderToOrigin: true, IncludeCanonicalHeader: true, BaseURLForCanonicalHeader: "https://www.acme.example"}
	if first != want || !tenant.ValidID(first.ID) {
		t.Fatalf("created %+v, want %+v", first, want)
	}
	if got := a.defaultEndpointOrigins("acme"); !slices.Equal(got, []string{first.ID}) {
		t.Fatalf("default endpoint origins %v, want the first origin", got)
	}

	// Omitted booleans and strings come back as false and "".
	r = a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "CDN", "baseUrl": "https://cdn.acme.example"}), key(k))
	second := decode[origin](t, r.body)
	json.Unmarshal(r.body, &fields)
	if r.status != 201 || fields["forwardHostHeaderToOrigin"] != false || fields["baseUrlForCanonicalHeader"] != "" {
		t.Fatalf("second origin: %d %s", r.status, r.body)
	}
	if got := a.defaultEndpointOrigins("acme"); !slices.Equal(got, []string{first.ID}) {
		t.Fatalf("second origin landed on the default endpoint: %v", got)
	}
	if v := a.version(); v != v0+2 {
		t.Fatalf("version %d after two creates, want %d", v, v0+2)
	}

	r = a.do("GET", "/v1/accounts/origins", nil, key(k))
	if list := decode[[]origin](t, r.body); r.status != 200 || len(list) != 2 || list[0] != first || list[1] != second {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/v1/accounts/origins/"+first.ID, nil, key(k))
	if got := decode[origin](t, r.body); r.status != 200 || got != first {
		t.Fatalf("get: %d %s", r.status, r.body)
	}

	upd := map[string]any{"type": "WEB_FOLDER", "name": "CDN 2", "baseUrl": "https://cdn2.acme.example/x"}
	r = a.do("PUT", "/v1/accounts/origins/"+second.ID, jsonBody(upd), key(k))
	if got := decode[origin](t, r.body); r.status != 200 || got.Name != "CDN 2" || got.BaseURL != "https://cdn2.acme.example/x" || got.ID != second.ID {
		t.Fatalf("put: %d %s", r.status, r.body)
	}

	// The first origin serves the default endpoint: deleting it conflicts.
	e := wantError(t, a.do("DELETE", "/v1/accounts/origins/"+first.ID, nil, key(k)), 409, "")
	if !strings.Contains(e.Message, "default") {
		t.Fatalf("conflict %q does not name the endpoint %s", e.Message, acme.URLEndpoint.ID)
	}
	if r := a.do("DELETE", "/v1/accounts/origins/"+second.ID, nil, key(k)); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, a.do("GET", "/v1/accounts/origins/"+second.ID, nil, key(k)), 404, "")

	errs := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		status int
		field  string
	}{
		{"get unknown id", "GET", "/v1/accounts/origins/" + tenant.NewID(), nil, 404, ""},
		{"get malformed id", "GET", "/v1/accounts/origins/..%2f..%2fetc", nil, 404, ""},
		{"put unknown id", "PUT", "/v1/accounts/origins/" + tenant.NewID(), jsonBody(upd), 404, ""},
		{"delete unknown id", "DELETE", "/v1/accounts/origins/" + tenant.NewID(), nil, 404, ""},
		{"put invalid body", "PUT", "/v1/accounts/origins/" + first.ID, jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "x"}), 400, "baseUrl"},
		{"missing type", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"name": "x", "baseUrl": "https://x.example"}), 400, "type"},
		{"unsupported type", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "GCS", "name": "x", "baseUrl": "https://x.example"}), 400, "type"},
		{"unknown type", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "NOPE", "name": "x", "baseUrl": "https://x.example"}), 400, "type"},
		{"name too long", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": strings.Repeat("n", 201), "baseUrl": "https://x.example"}), 400, "name"},
		{"boolean of wrong type", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "x", "baseUrl": "https://x.example", "includeCanonicalHeader": "yes"}), 400, "includeCanonicalHeader"},
		{"canonical header without base", "POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "x", "baseUrl": "https://x.example", "includeCanonicalHeader": true}), 400, "baseUrlForCanonicalHeader"},
		{"malformed JSON", "POST", "/v1/accounts/origins", raw(`{"type":`), 400, ""},
		{"too large", "POST", "/v1/accounts/origins", raw(`{"name":"` + strings.Repeat("x", 5000) + `"}`), 413, ""},
		{"wrong method", "PATCH", "/v1/accounts/origins/" + first.ID, jsonBody(upd), 405, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			before := a.version()
			wantError(t, a.do(tt.method, tt.path, tt.body, key(k)), tt.status, tt.field)
			if v := a.version(); v != before {
				t.Fatalf("failed request moved the version from %d to %d", before, v)
			}
		})
	}
}

func TestBaseURLValidation(t *testing.T) {
	strict := newAPI(t)
	lax := newAPI(t, allowPrivate)
	keys := map[*api]string{strict: strict.createAccount("acme").PrivateKey, lax: lax.createAccount("acme").PrivateKey}
	tests := []struct {
		name     string
		baseURL  string
		strictOK bool
		laxOK    bool
	}{
		{"public https", "https://www.example.com", true, true},
		{"public with path and port", "http://images.example.com:8080/static/", true, true},
		{"loopback", "http://127.0.0.1:8079", false, true},
		{"loopback IPv6", "http://[::1]/", false, true},
		{"private", "http://192.168.0.10/", false, true},
		{"metadata service", "http://169.254.169.254/latest/meta-data", false, true},
		{"localhost", "http://localhost:8079", false, true},
		{"decimal IPv4", "http://2130706433", false, false},
		{"hex IPv4", "http://0x7f.1", false, false},
		{"short IPv4", "http://127.1", false, false},
		{"octal IPv4", "http://0177.0.0.1", false, false},
		{"credentials", "http://user@www.example.com/", false, false},
		{"password", "http://user:pass@www.example.com/", false, false},
		{"file", "file:///etc/passwd", false, false},
		{"gopher", "gopher://www.example.com/", false, false},
		{"fragment", "https://www.example.com/#frag", false, false},
		{"relative", "images/products", false, false},
		{"absolute path only", "/images", false, false},
		{"query", "https://www.example.com/?x=1", false, false},
		{"empty", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for a, ok := range map[*api]bool{strict: tt.strictOK, lax: tt.laxOK} {
				r := a.do("POST", "/v1/accounts/origins", jsonBody(map[string]any{"type": "WEB_FOLDER", "name": "o", "baseUrl": tt.baseURL}), key(keys[a]))
				if !ok {
					wantError(t, r, 400, "baseUrl")
					continue
				}
				if r.status != 201 {
					t.Fatalf("allowPrivate=%v: %d %s", a == lax, r.status, r.body)
				}
				if got := decode[origin](t, r.body); got.BaseURL != tt.baseURL {
					t.Fatalf("baseUrl returned as %q, want %q exactly", got.BaseURL, tt.baseURL)
				}
			}
		})
	}
}

// TestTenantIsolation: account B's key sees and changes nothing of A's.
func TestTenantIsolation(t *testing.T) {
	a := newAPI(t)
	acme := a.createAccount("acme")
	bravo := a.createAccount("bravo")
	o := a.createOrigin(acme.PrivateKey, "A's", "https://a.example.com")
	before := a.version()
	upd := map[string]any{"type": "WEB_FOLDER", "name": "stolen", "baseUrl": "https://evil.example"}
	for _, tt := range []struct {
		method string
		body   io.Reader
	}{{"GET", nil}, {"PUT", jsonBody(upd)}, {"DELETE", nil}} {
		t.Run(tt.method, func(t *testing.T) {
			wantError(t, a.do(tt.method, "/v1/accounts/origins/"+o.ID, tt.body, key(bravo.PrivateKey)), 404, "")
		})
	}
	r := a.do("GET", "/v1/accounts/origins", nil, key(bravo.PrivateKey))
	if r.status != 200 || string(r.body) != "[]\n" {
		t.Fatalf("B lists %d %s", r.status, r.body)
	}
	r = a.do("GET", "/v1/accounts/origins/"+o.ID, nil, key(acme.PrivateKey))
	if got := decode[origin](t, r.body); got != o {
		t.Fatalf("A's origin after B's attempts: %+v", got)
	}
	if v := a.version(); v != before {
		t.Fatalf("B's refused writes moved the version from %d to %d", before, v)
	}
}

func TestKeyAuth(t *testing.T) {
	a := newAPI(t)
	acme := a.createAccount("acme")
	kr, _ := auth.NewKeyring(bytes.Repeat([]byte{9}, auth.MasterKeyLen))
	tests := []struct {
		name  string
		creds credentials
	}{
		{"none", noAuth},
		{"empty username", key("")},
		{"malformed key", key("private_short")},
		{"unknown well-formed key", key(kr.NewKey().Secret)},
		{"key as password", func(r *http.Request) { r.SetBasicAuth("someone", acme.PrivateKey) }},
		{"key as bearer", bearer(acme.PrivateKey)},
		{"admin token", bearer(adminToken)},
		{"corrupt basic header", header("Authorization", "Basic !!!")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("GET", "/v1/accounts/origins", nil, tt.creds)
			wantError(t, r, 401, "")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without a Basic challenge: %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestRoutingAndRequestIDs(t *testing.T) {
	a := newAPI(t)
	wantError(t, a.do("GET", "/nope", nil), 404, "")
	wantError(t, a.do("GET", "/v1/accounts/nope", nil), 404, "")
	r := a.do("DELETE", "/healthz", nil)
	wantError(t, r, 405, "")

	r = a.do("GET", "/healthz", nil, header("X-Request-Id", "lb-1234.abc"))
	if got := r.header.Get("X-Request-Id"); got != "lb-1234.abc" {
		t.Fatalf("request id %q, want the client's", got)
	}
	r = a.do("GET", "/healthz", nil, header("X-Request-Id", "bad id\twith spaces"))
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Fatalf("request id %q, want a fresh one", got)
	}
	r1, r2 := a.do("GET", "/healthz", nil), a.do("GET", "/healthz", nil)
	if r1.header.Get("X-Request-Id") == r2.header.Get("X-Request-Id") {
		t.Fatal("two requests share an id")
	}
}
