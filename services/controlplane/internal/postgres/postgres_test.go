package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), pgtest.NewDatabase(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var admin = tenant.Caller{Actor: "admin", RequestID: "req-admin"}

func newAccount(id string) tenant.NewAccount {
	return tenant.NewAccount{
		ID: id, Name: "Account " + id, OwnerEmail: id + "@example.com",
		Key: tenant.NewKey{ID: tenant.NewID(), DisplayPrefix: "private_" + id, Digest: []byte("digest-" + id), Ciphertext: []byte("ct-" + id)},
	}
}

func mustCreateAccount(ctx context.Context, t *testing.T, db *DB, id string) tenant.Caller {
	t.Helper()
	if _, _, err := db.CreateAccount(ctx, admin, newAccount(id)); err != nil {
		t.Fatalf("create account %s: %v", id, err)
	}
	return tenant.Caller{AccountID: id, Actor: "key:test-" + id, RequestID: "req-" + id}
}

func webOrigin(name string) tenant.Origin {
	return tenant.Origin{Type: tenant.OriginWebFolder, Name: name, BaseURL: "https://" + name + ".example.com"}
}

func version(ctx context.Context, t *testing.T, db *DB) uint64 {
	t.Helper()
	v, err := db.CurrentVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func auditCount(ctx context.Context, t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantKind(t *testing.T, err error, kind errkind.Kind, field string) {
	t.Helper()
	if err == nil || errkind.KindOf(err) != kind || errkind.FieldOf(err) != field {
		t.Fatalf("error %v: kind %v field %q, want kind %v field %q", err, errkind.KindOf(err), errkind.FieldOf(err), kind, field)
	}
}

func TestCreateAccount(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	v0 := version(ctx, t, db)

	acct, ep, err := db.CreateAccount(ctx, admin, newAccount("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if acct.Status != tenant.StatusActive || acct.CreatedAt.IsZero() || acct.DefaultQuality != 80 {
		t.Fatalf("account %+v: want active, created, default quality 80", acct)
	}
	if ep.URLPrefix != "" || ep.AccountID != "acme" || !tenant.ValidID(ep.ID) || ep.OriginIDs == nil || ep.CustomDomains == nil {
		t.Fatalf("default endpoint %+v", ep)
	}
	if v := version(ctx, t, db); v != v0+1 {
		t.Fatalf("version %d after create, want %d", v, v0+1)
	}
	var actor, action, target, reqID, accountID string
	err = db.pool.QueryRow(ctx, `SELECT actor, action, target, request_id, account_id FROM audit_log`).Scan(&actor, &action, &target, &reqID, &accountID)
	if err != nil || actor != "admin" || action != "account.create" || target != "acme" || reqID != "req-admin" || accountID != "acme" {
		t.Fatalf("audit row %q %q %q %q %q, %v", actor, action, target, reqID, accountID, err)
	}

	// Failed writes change nothing: no version bump, no audit row.
	failures := []struct {
		name  string
		acct  tenant.NewAccount
		field string
	}{
		{"duplicate id", newAccount("acme"), "id"},
		{"duplicate email, other case", func() tenant.NewAccount {
			a := newAccount("other")
			a.OwnerEmail = "ACME@example.com"
			return a
		}(), "ownerEmail"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			_, _, err := db.CreateAccount(ctx, admin, f.acct)
			wantKind(t, err, errkind.Conflict, f.field)
			if v := version(ctx, t, db); v != v0+1 {
				t.Fatalf("failed create bumped the version to %d", v)
			}
			if n := auditCount(ctx, t, db); n != 1 {
				t.Fatalf("failed create left %d audit rows, want 1", n)
			}
		})
	}
}

func TestOrigins(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	b := mustCreateAccount(ctx, t, db, "bravo")

	first, err := db.CreateOrigin(ctx, a, webOrigin("first"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.CreateOrigin(ctx, a, webOrigin("second"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acme := st.Accounts[slices.IndexFunc(st.Accounts, func(c tenant.AccountConfig) bool { return c.Account.ID == "acme" })]
	if len(acme.Endpoints) != 1 || !slices.Equal(acme.Endpoints[0].OriginIDs, []string{first.ID}) {
		t.Fatalf("default endpoint origins %v, want only the first origin %s", acme.Endpoints[0].OriginIDs, first.ID)
	}

	list, err := db.ListOrigins(ctx, a)
	if err != nil || len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
		t.Fatalf("ListOrigins = %v, %v", list, err)
	}
	if list, err := db.ListOrigins(ctx, b); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("other account lists %v, %v; want an empty list", list, err)
	}

	// Another account sees none of it and changes none of it.
	before := version(ctx, t, db)
	_, err = db.FindOrigin(ctx, b, first.ID)
	wantKind(t, err, errkind.NotFound, "")
	upd := first
	upd.Name = "hijacked"
	_, err = db.UpdateOrigin(ctx, b, upd)
	wantKind(t, err, errkind.NotFound, "")
	wantKind(t, db.DeleteOrigin(ctx, b, second.ID), errkind.NotFound, "")
	// In use by the default endpoint: refused, naming it.
	err = db.DeleteOrigin(ctx, a, first.ID)
	wantKind(t, err, errkind.Conflict, "")
	if v := version(ctx, t, db); v != before {
		t.Fatalf("refused writes moved the version from %d to %d", before, v)
	}
	if got, err := db.FindOrigin(ctx, a, first.ID); err != nil || got.Name != "first" {
		t.Fatalf("origin after refused writes: %+v, %v", got, err)
	}

	upd = second
	upd.Name = "renamed"
	upd.BaseURL = "http://127.0.0.1:8079"
	got, err := db.UpdateOrigin(ctx, a, upd)
	if err != nil || got.Name != "renamed" || got.BaseURL != upd.BaseURL || !got.UpdatedAt.After(second.UpdatedAt) {
		t.Fatalf("UpdateOrigin = %+v, %v", got, err)
	}
	if err := db.DeleteOrigin(ctx, a, second.ID); err != nil {
		t.Fatal(err)
	}
	if v := version(ctx, t, db); v != before+2 {
		t.Fatalf("version %d after update and delete, want %d", v, before+2)
	}
	_, err = db.FindOrigin(ctx, a, second.ID)
	wantKind(t, err, errkind.NotFound, "")

	// A call without an account scope is a bug, never "all accounts".
	_, err = db.ListOrigins(ctx, admin)
	wantKind(t, err, errkind.Internal, "")
}

// TestWebProxyOrigins: a WEB_PROXY origin stores no base URL and its
// allowed hosts; a nil list is stored as '{}' (the column refuses NULL),
// an update replaces the list, and the snapshot source reads it back.
func TestWebProxyOrigins(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	storedHosts := func(id string) (hosts []string, isNull bool) {
		t.Helper()
		if err := db.pool.QueryRow(ctx, `SELECT allowed_hosts, allowed_hosts IS NULL FROM origins WHERE id = $1`, id).Scan(&hosts, &isNull); err != nil {
			t.Fatal(err)
		}
		return hosts, isNull
	}

	folder, err := db.CreateOrigin(ctx, a, webOrigin("folder"))
	if err != nil {
		t.Fatal(err)
	}
	if hosts, isNull := storedHosts(folder.ID); isNull || len(hosts) != 0 || folder.AllowedHosts == nil || len(folder.AllowedHosts) != 0 {
		t.Fatalf("WEB_FOLDER origin: stored %v (NULL %v), returned %#v; want '{}' and an empty list", hosts, isNull, folder.AllowedHosts)
	}

	proxy, err := db.CreateOrigin(ctx, a, tenant.Origin{Type: tenant.OriginWebProxy, Name: "proxy"})
	if err != nil {
		t.Fatal(err)
	}
	if hosts, isNull := storedHosts(proxy.ID); isNull || len(hosts) != 0 {
		t.Fatalf("nil allowed hosts stored as %v (NULL %v), want '{}'", hosts, isNull)
	}
	got, err := db.FindOrigin(ctx, a, proxy.ID)
	if err != nil || got.Type != tenant.OriginWebProxy || got.BaseURL != "" || got.AllowedHosts == nil || len(got.AllowedHosts) != 0 {
		t.Fatalf("FindOrigin = %+v, %v; want a WEB_PROXY origin with no base URL and an empty host list", got, err)
	}

	upd := proxy
	upd.AllowedHosts = []string{"images.example.com", "*.cdn.example.com"}
	got, err = db.UpdateOrigin(ctx, a, upd)
	if err != nil || !slices.Equal(got.AllowedHosts, upd.AllowedHosts) {
		t.Fatalf("UpdateOrigin = %+v, %v", got, err)
	}
	if hosts, _ := storedHosts(proxy.ID); !slices.Equal(hosts, upd.AllowedHosts) {
		t.Fatalf("stored hosts %v, want %v in order", hosts, upd.AllowedHosts)
	}
	st, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen []tenant.Origin
	for _, acct := range st.Accounts {
		seen = append(seen, acct.Origins...)
	}
	if len(seen) != 2 || seen[1].ID != proxy.ID || seen[1].Type != tenant.OriginWebProxy || !slices.Equal(seen[1].AllowedHosts, upd.AllowedHosts) {
		t.Fatalf("LoadConfig origins %+v", seen)
	}

	// Updating with no list (nil) empties it rather than keeping the old one.
	upd.AllowedHosts = nil
	if got, err = db.UpdateOrigin(ctx, a, upd); err != nil || got.AllowedHosts == nil || len(got.AllowedHosts) != 0 {
		t.Fatalf("UpdateOrigin without hosts = %#v, %v", got.AllowedHosts, err)
	}
	if hosts, isNull := storedHosts(proxy.ID); isNull || len(hosts) != 0 {
		t.Fatalf("hosts after update without them: %v (NULL %v), want '{}'", hosts, isNull)
	}
	if err := db.DeleteOrigin(ctx, a, proxy.ID); err != nil {
		t.Fatal(err)
	}
}

func TestSuspendedAccountCannotWrite(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	if _, err := db.pool.Exec(ctx, `UPDATE accounts SET status = 'suspended' WHERE id = 'acme'`); err != nil {
		t.Fatal(err)
	}
	_, err := db.CreateOrigin(ctx, a, webOrigin("x"))
	wantKind(t, err, errkind.Forbidden, "")
}

// TestLoadConfigIsConsistent reads snapshots while origins are being
// created: every state read must be exactly the state of its version.
func TestLoadConfigIsConsistent(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	base := version(ctx, t, db)

	const n = 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := db.CreateOrigin(ctx, a, webOrigin(fmt.Sprintf("o%d", i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for {
		st, err := db.LoadConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		got := len(st.Accounts[0].Origins)
		if uint64(got) != st.Version-base {
			t.Fatalf("version %d has %d origins, want %d", st.Version, got, st.Version-base)
		}
		if st.Version == base+n {
			break
		}
	}
	wg.Wait()
	t.Logf("%d consistent reads", reads)
}

func TestListenVersions(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	lctx, cancel := context.WithCancel(ctx)
	got := make(chan uint64, 16)
	done := make(chan struct{})
	go func() {
		db.ListenVersions(lctx, func(v uint64) { got <- v })
		close(done)
	}()
	start := <-got // the version at connect time
	mustCreateAccount(ctx, t, db, "acme")
	select {
	case v := <-got:
		if v != start+1 {
			t.Fatalf("notified version %d, want %d", v, start+1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after a config write")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ListenVersions did not return after cancel")
	}
}

func TestEdgeNodes(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	node := tenant.EdgeNode{NodeID: "edge-1", EdgeGroup: "eu", AppliedVersion: 3, Session: "cp/1#1"}
	if err := db.EdgeConnected(ctx, node); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want func(tenant.EdgeNode) bool
	}{
		{"connected", func() error { return nil }, func(n tenant.EdgeNode) bool {
			return n.Connected && n.EdgeGroup == "eu" && n.AppliedVersion == 3 && n.Session == "cp/1#1"
		}},
		{"ack", func() error {
			return db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "edge-1", Session: "cp/1#1", Version: 5, AppliedVersion: 5})
		}, func(n tenant.EdgeNode) bool { return n.AppliedVersion == 5 && n.LastAckVersion == 5 }},
		{"nack", func() error {
			return db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "edge-1", Session: "cp/1#1", Version: 6, AppliedVersion: 5, ErrorDetail: "bad"})
		}, func(n tenant.EdgeNode) bool {
			return n.AppliedVersion == 5 && n.LastNackVersion == 6 && n.LastNackDetail == "bad"
		}},
		{"reconnect elsewhere", func() error {
			return db.EdgeConnected(ctx, tenant.EdgeNode{NodeID: "edge-1", EdgeGroup: "eu", AppliedVersion: 5, Session: "cp/2#1"})
		}, func(n tenant.EdgeNode) bool { return n.Connected && n.Session == "cp/2#1" }},
		{"stale stream's ack ignored", func() error {
			return db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "edge-1", Session: "cp/1#1", Version: 9, AppliedVersion: 9})
		}, func(n tenant.EdgeNode) bool { return n.LastAckVersion == 5 }},
		{"stale stream's end ignored", func() error { return db.EdgeDisconnected(ctx, "edge-1", "cp/1#1") },
			func(n tenant.EdgeNode) bool { return n.Connected }},
		{"disconnect", func() error { return db.EdgeDisconnected(ctx, "edge-1", "cp/2#1") },
			func(n tenant.EdgeNode) bool { return !n.Connected }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		n, err := db.FindEdge(ctx, "edge-1")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !s.want(n) {
			t.Fatalf("%s: unexpected state %+v", s.name, n)
		}
	}
	_, err := db.FindEdge(ctx, "nope")
	wantKind(t, err, errkind.NotFound, "")
}

func TestDatabaseDownIsUnavailable(t *testing.T) {
	ctx := testContext(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	db, err := Open(ctx, "postgres://nobody@"+addr+"/none?sslmode=disable", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := tenant.Caller{AccountID: "acme", Actor: "key:x"}
	calls := map[string]error{
		"ping":          db.Ping(ctx),
		"create origin": func() error { _, err := db.CreateOrigin(ctx, a, webOrigin("x")); return err }(),
		"list origins":  func() error { _, err := db.ListOrigins(ctx, a); return err }(),
		"find key":      func() error { _, err := db.FindKeyByDigest(ctx, []byte("x")); return err }(),
		"load config":   func() error { _, err := db.LoadConfig(ctx); return err }(),
	}
	for name, err := range calls {
		if errkind.KindOf(err) != errkind.Unavailable {
			t.Errorf("%s: %v (kind %v), want unavailable", name, err, errkind.KindOf(err))
		}
	}
	if _, err := Open(ctx, "postgres://%zz", slog.New(slog.DiscardHandler)); errkind.KindOf(err) != errkind.Invalid {
		t.Errorf("bad URL: %v, want invalid", err)
	}
}

// TestLoadConfigShape covers the tables the API cannot write yet: custom
// domains, named transformations, purge rules and revoked keys.
func TestLoadConfigShape(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	o1, _ := db.CreateOrigin(ctx, a, webOrigin("one"))
	o2, _ := db.CreateOrigin(ctx, a, webOrigin("two"))
	mustCreateAccount(ctx, t, db, "bravo")
	var def string
	if err := db.pool.QueryRow(ctx, `SELECT id FROM url_endpoints WHERE account_id = 'acme'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		`INSERT INTO url_endpoints (id, account_id, description, url_prefix, restrict_unsigned_urls, cache_ttl_seconds)
		 VALUES ('ep2', 'acme', 'products', 'products', true, 60)`,
		`INSERT INTO url_endpoint_origins (account_id, endpoint_id, origin_id, position) VALUES
		 ('acme', 'ep2', '` + o2.ID + `', 0), ('acme', 'ep2', '` + o1.ID + `', 1)`,
		`INSERT INTO custom_domains (domain, account_id, endpoint_id) VALUES ('img.acme.example', 'acme', 'ep2'), ('a.acme.example', 'acme', 'ep2')`,
		`INSERT INTO named_transformations (id, account_id, name, transformation, enabled) VALUES
		 ('n2', 'acme', 'thumb', 'w-100', true), ('n1', 'acme', 'banner', 'w-1200,h-300', false)`,
		`INSERT INTO purge_requests (id, account_id, endpoint_id, url, path, is_prefix, config_version, expires_at) VALUES
		 ('p1', 'acme', 'ep2', 'u', 'a/b.jpg', false, 1, now() + interval '1 day'),
		 ('p0', 'acme', 'ep2', 'u', 'old/', true, 1, now() - interval '1 second')`,
		`INSERT INTO api_keys (id, account_id, display_prefix, digest, ciphertext, revoked_at)
		 VALUES ('revoked', 'acme', 'x', 'd-revoked', 'c', now())`,
	}
	for _, s := range stmts {
		if _, err := db.pool.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	st, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Accounts) != 2 || st.Accounts[0].Account.ID != "acme" || st.Accounts[1].Account.ID != "bravo" {
		t.Fatalf("accounts %+v, want acme then bravo", st.Accounts)
	}
	acme := st.Accounts[0]
	if len(acme.Keys) != 1 || string(acme.Keys[0].Ciphertext) != "ct-acme" {
		t.Fatalf("keys %+v, want only the active key", acme.Keys)
	}
	if len(acme.Endpoints) != 2 || acme.Endpoints[0].ID != def || acme.Endpoints[1].ID != "ep2" {
		t.Fatalf("endpoints %+v, want default then products", acme.Endpoints)
	}
	ep2 := acme.Endpoints[1]
	if !slices.Equal(ep2.OriginIDs, []string{o2.ID, o1.ID}) || !slices.Equal(ep2.CustomDomains, []string{"a.acme.example", "img.acme.example"}) ||
		!ep2.RestrictUnsignedURLs || ep2.CacheTTLSeconds != 60 || ep2.URLPrefix != "products" {
		t.Fatalf("products endpoint %+v", ep2)
	}
	if len(acme.NamedTransformations) != 2 || acme.NamedTransformations[0].Name != "banner" || acme.NamedTransformations[0].Enabled {
		t.Fatalf("named transformations %+v", acme.NamedTransformations)
	}
	if len(st.Purges) != 1 || st.Purges[0].ID != "p1" || st.Purges[0].Path != "a/b.jpg" || st.Purges[0].Version != 1 {
		t.Fatalf("purges %+v, want only the live rule", st.Purges)
	}
	if b := st.Accounts[1]; len(b.Origins) != 0 || len(b.Endpoints) != 1 || len(b.Endpoints[0].OriginIDs) != 0 {
		t.Fatalf("bravo %+v: want one empty default endpoint", b)
	}
}

func TestAuditOfOriginWrites(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	o, err := db.CreateOrigin(ctx, a, webOrigin("one"))
	if err != nil {
		t.Fatal(err)
	}
	var actor, account, action, target, reqID string
	err = db.pool.QueryRow(ctx, `SELECT actor, account_id, action, target, request_id FROM audit_log ORDER BY id DESC LIMIT 1`).
		Scan(&actor, &account, &action, &target, &reqID)
	if err != nil {
		t.Fatal(err)
	}
	if actor != a.Actor || account != "acme" || action != "origin.create" || target != o.ID || reqID != a.RequestID {
		t.Fatalf("audit row %q %q %q %q %q", actor, account, action, target, reqID)
	}
}

// TestObjectStorageOrigins: S3 and S3_COMPATIBLE origins store their
// fields and a sealed secret key, which only the snapshot source reads. An
// update without a new ciphertext keeps it while the origin stays a
// bucket; any other type drops it.
func TestObjectStorageOrigins(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := mustCreateAccount(ctx, t, db, "acme")
	stored := func(id string) []byte {
		t.Helper()
		var ct []byte
		if err := db.pool.QueryRow(ctx, `SELECT secret_key_ciphertext FROM origins WHERE id = $1`, id).Scan(&ct); err != nil {
			t.Fatal(err)
		}
		return ct
	}
	edge := func(id string) tenant.Origin {
		t.Helper()
		st, err := db.LoadConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, acct := range st.Accounts {
			for _, o := range acct.Origins {
				if o.ID == id {
					return o
				}
			}
		}
		t.Fatalf("origin %s not in the config", id)
		return tenant.Origin{}
	}

	// Storage refuses what the API must not send it.
	wantKind(t, func() error {
		_, err := db.CreateOrigin(ctx, a, tenant.Origin{Type: tenant.OriginS3, Name: "b", Bucket: "bucket", AccessKey: "k", SecretKey: "clear"})
		return err
	}(), errkind.Internal, "")
	wantKind(t, func() error {
		_, err := db.CreateOrigin(ctx, a, tenant.Origin{Type: tenant.OriginS3, Name: "b", Bucket: "bucket", AccessKey: "k"})
		return err
	}(), errkind.Invalid, "secretKey")
	wantKind(t, func() error {
		o := webOrigin("w")
		o.SecretKeyCiphertext = []byte("sealed")
		_, err := db.CreateOrigin(ctx, a, o)
		return err
	}(), errkind.Internal, "")

	id := tenant.NewID()
	s3, err := db.CreateOrigin(ctx, a, tenant.Origin{ID: id, Type: tenant.OriginS3, Name: "b", Bucket: "bucket", Prefix: "a/b",
		AccessKey: "AKIA", SecretKeyCiphertext: []byte("sealed-1")})
	if err != nil {
		t.Fatal(err)
	}
	if s3.ID != id || s3.SecretKeyCiphertext != nil {
		t.Fatalf("created %+v: want the given id and no ciphertext returned", s3)
	}
	if got, err := db.FindOrigin(ctx, a, id); err != nil || got.Bucket != "bucket" || got.Prefix != "a/b" || got.AccessKey != "AKIA" || got.SecretKeyCiphertext != nil {
		t.Fatalf("FindOrigin = %+v, %v", got, err)
	}
	if list, err := db.ListOrigins(ctx, a); err != nil || len(list) != 1 || list[0].SecretKeyCiphertext != nil {
		t.Fatalf("ListOrigins = %+v, %v", list, err)
	}
	if o := edge(id); string(o.SecretKeyCiphertext) != "sealed-1" || o.Bucket != "bucket" || o.AccessKey != "AKIA" {
		t.Fatalf("LoadConfig origin %+v", o)
	}

	// Kept without a new ciphertext, across S3 -> S3_COMPATIBLE too.
	upd := tenant.Origin{ID: id, Type: tenant.OriginS3Compatible, Name: "c", Bucket: "bucket2", AccessKey: "AK2",
		Endpoint: "https://s3.example.com", S3ForcePathStyle: true}
	got, err := db.UpdateOrigin(ctx, a, upd)
	if err != nil || got.Endpoint != "https://s3.example.com" || !got.S3ForcePathStyle || got.Prefix != "" || got.SecretKeyCiphertext != nil {
		t.Fatalf("UpdateOrigin = %+v, %v", got, err)
	}
	if ct := stored(id); string(ct) != "sealed-1" {
		t.Fatalf("ciphertext %q after an update without one, want the old one", ct)
	}
	upd.SecretKeyCiphertext = []byte("sealed-2")
	if _, err := db.UpdateOrigin(ctx, a, upd); err != nil {
		t.Fatal(err)
	}
	if o := edge(id); string(o.SecretKeyCiphertext) != "sealed-2" || o.Endpoint != "https://s3.example.com" {
		t.Fatalf("LoadConfig origin after a new secret %+v", o)
	}

	// A WEB_PROXY drops it and the bucket fields; back to a bucket needs one.
	if _, err := db.UpdateOrigin(ctx, a, tenant.Origin{ID: id, Type: tenant.OriginWebProxy, Name: "p"}); err != nil {
		t.Fatal(err)
	}
	if o := edge(id); o.SecretKeyCiphertext != nil || o.Bucket != "" || o.Endpoint != "" || o.S3ForcePathStyle {
		t.Fatalf("after turning into a WEB_PROXY %+v", o)
	}
	v := version(ctx, t, db)
	_, err = db.UpdateOrigin(ctx, a, tenant.Origin{ID: id, Type: tenant.OriginS3, Name: "b", Bucket: "bucket", AccessKey: "AKIA"})
	wantKind(t, err, errkind.Invalid, "secretKey")
	if version(ctx, t, db) != v {
		t.Fatal("a refused update moved the version")
	}
	_, err = db.UpdateOrigin(ctx, a, tenant.Origin{ID: tenant.NewID(), Type: tenant.OriginS3, Name: "b", Bucket: "bucket", AccessKey: "AKIA"})
	wantKind(t, err, errkind.NotFound, "")

	// The schema holds the rule too: a bucket always has a secret, nothing
	// else ever has one.
	if _, err := db.pool.Exec(ctx, `UPDATE origins SET secret_key_ciphertext = '\x01' WHERE id = $1`, id); err == nil {
		t.Fatal("a WEB_PROXY origin took a secret key")
	}
	if _, err := db.pool.Exec(ctx, `UPDATE origins SET type = 'S3' WHERE id = $1`, id); err == nil {
		t.Fatal("an S3 origin without a secret key was stored")
	}
}
