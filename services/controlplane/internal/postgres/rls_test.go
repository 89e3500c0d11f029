package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// TestEveryAccountTableHasRLS is the meta-test of RELIABILITY E.38: every
// table holding account data (an account_id column, or accounts itself)
// must have row-level security enabled and forced, a tenant policy keyed
// on pictor.account_id and a system policy. A later migration that adds
// such a table without them fails here.
func TestEveryAccountTableHasRLS(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	rows, _ := db.pool.Query(ctx, `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
			EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND 'pictor_app'::regrole = ANY (p.polroles)
				AND pg_get_expr(p.polqual, p.polrelid) LIKE '%pictor.account_id%'
				AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%pictor.account_id%'),
			EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND 'pictor_system'::regrole = ANY (p.polroles)),
			NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND 0::oid = ANY (p.polroles))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		  AND (c.relname = 'accounts' OR EXISTS (
			SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped))
		ORDER BY c.relname`)
	type table struct {
		name                                             string
		rls, force, tenantPolicy, systemPolicy, noPublic bool
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		err := r.Scan(&tb.name, &tb.rls, &tb.force, &tb.tenantPolicy, &tb.systemPolicy, &tb.noPublic)
		return tb, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 13 {
		t.Fatalf("found only %d account tables: %+v", len(tables), tables)
	}
	for _, tb := range tables {
		if !tb.rls || !tb.force || !tb.tenantPolicy || !tb.systemPolicy || !tb.noPublic {
			t.Errorf("table %s: rls=%v force=%v tenant policy=%v system policy=%v no PUBLIC policy=%v; want all true",
				tb.name, tb.rls, tb.force, tb.tenantPolicy, tb.systemPolicy, tb.noPublic)
		}
	}

	// Neither role can log in, bypass RLS or owns anything; the tenant
	// role cannot change an account's status or write edge state.
	var bad []string
	rows, _ = db.pool.Query(ctx, `
		SELECT r.rolname FROM pg_roles r
		WHERE r.rolname IN ('pictor_app', 'pictor_system')
		  AND (r.rolcanlogin OR r.rolbypassrls OR r.rolsuper
			OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid))`)
	if bad, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(bad) > 0 {
		t.Errorf("roles with login, BYPASSRLS, superuser or owned tables: %v %v", bad, err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname IN ('pictor_app', 'pictor_system')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("roles present: %d, %v", n, err)
	}
	checks := map[string]bool{
		`has_column_privilege('pictor_app', 'accounts', 'status', 'UPDATE')`:             false,
		`has_column_privilege('pictor_app', 'api_keys', 'ciphertext', 'UPDATE')`:         false,
		`has_table_privilege('pictor_app', 'edge_nodes', 'SELECT')`:                      false,
		`has_table_privilege('pictor_app', 'config_version', 'UPDATE')`:                  false,
		`has_table_privilege('pictor_app', 'audit_log', 'SELECT')`:                       false,
		`has_table_privilege('pictor_app', 'sessions', 'SELECT')`:                        false,
		`has_column_privilege('pictor_app', 'account_users', 'password_hash', 'SELECT')`: false,
		`has_column_privilege('pictor_app', 'accounts', 'default_quality', 'UPDATE')`:    true,
		`has_table_privilege('pictor_system', 'edge_nodes', 'UPDATE')`:                   true,
		`has_table_privilege('pictor_app', 'login_attempts', 'SELECT')`:                  false,
		`has_table_privilege('pictor_system', 'login_attempts', 'UPDATE')`:               true,
	}
	for expr, want := range checks {
		var got bool
		if err := db.pool.QueryRow(ctx, `SELECT `+expr).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", expr, got, err, want)
		}
	}
}

// TestTenantRoleIsConfined runs deliberately careless SQL (no account
// filter) as acme's tenant role: the database itself hides and protects
// bravo's rows.
func TestTenantRoleIsConfined(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	acme := mustCreateAccount(ctx, t, db, "acme")
	bravo := mustCreateAccount(ctx, t, db, "bravo")
	for _, c := range []tenant.Caller{acme, bravo} {
		if _, err := db.CreateOrigin(ctx, c, webOrigin("o-"+c.AccountID)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateNamedTransformation(ctx, c, tenant.NamedTransformation{Name: "thumb", Transformation: "w-100"}); err != nil {
			t.Fatal(err)
		}
	}
	bravoOrigin, err := db.ListOrigins(ctx, bravo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.IngestUsage(ctx, tenant.UsageReport{ID: "rls", NodeID: "edge", Errors: []tenant.DeliveryError{
		{AccountID: "acme", EndpointID: "default", Path: "a.jpg", Status: 404, Reason: "not_found", OccurredAt: time.Now()},
		{AccountID: "bravo", EndpointID: "default", Path: "b.jpg", Status: 404, Reason: "not_found", OccurredAt: time.Now()},
	}}); err != nil {
		t.Fatal(err)
	}

	countAsAcme := func(sql string) int {
		t.Helper()
		var n int
		err := db.inTx(ctx, readOnly, roleTenant, "acme", func(tx pgx.Tx) error { return tx.QueryRow(ctx, sql).Scan(&n) })
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}

	for _, table := range []string{"account_users", "api_keys", "origins", "url_endpoints", "url_endpoint_origins",
		"named_transformations", "purge_requests", "usage_daily", "custom_domains", "delivery_errors"} {
		if n := countAsAcme(`SELECT count(*) FROM ` + table + ` WHERE account_id <> 'acme'`); n != 0 {
			t.Errorf("acme sees %d rows of other accounts in %s", n, table)
		}
	}
	if n := countAsAcme(`SELECT count(*) FROM accounts`); n != 1 {
		t.Errorf("acme sees %d accounts, want only its own", n)
	}
	if n := countAsAcme(`SELECT count(*) FROM origins`); n != 1 {
		t.Errorf("acme sees %d origins, want 1", n)
	}

	errRollback := errors.New("rollback")
	writes := []struct {
		sql  string
		rows int64 // rows it may touch; -1: must be refused outright
	}{
		{`UPDATE origins SET name = 'stolen' WHERE id = '` + bravoOrigin[0].ID + `'`, 0},
		{`DELETE FROM named_transformations WHERE account_id = 'bravo'`, 0},
		{`DELETE FROM named_transformations`, 1}, // acme's own, rolled back
		{`INSERT INTO origins (id, account_id, type, name, base_url) VALUES ('x', 'bravo', 'WEB_FOLDER', 'x', 'https://x.example')`, -1},
		{`UPDATE origins SET account_id = 'bravo'`, -1},
		{`UPDATE accounts SET status = 'active'`, -1},
		{`UPDATE config_version SET version = 1`, -1},
		{`SELECT * FROM edge_nodes`, -1},
		{`SELECT * FROM audit_log`, -1},
		{`INSERT INTO audit_log (actor, account_id, action) VALUES ('x', 'bravo', 'forged')`, -1},
	}
	for _, w := range writes {
		var tag pgconn.CommandTag
		err := db.inTx(ctx, readWrite, roleTenant, "acme", func(tx pgx.Tx) error {
			var err error
			if tag, err = tx.Exec(ctx, w.sql); err != nil {
				return err
			}
			return errRollback // leave nothing behind
		})
		switch {
		case w.rows < 0 && errors.Is(err, errRollback):
			t.Errorf("%s: allowed (%s), want a permission or policy error", w.sql, tag)
		case w.rows >= 0 && !errors.Is(err, errRollback):
			t.Errorf("%s: %v, want success", w.sql, err)
		case w.rows >= 0 && tag.RowsAffected() != w.rows:
			t.Errorf("%s touched %d rows, want %d", w.sql, tag.RowsAffected(), w.rows)
		}
	}
	// Without the setting the tenant role sees nothing at all.
	var n int
	err = db.inTx(ctx, readOnly, roleTenant, "", func(tx pgx.Tx) error { return tx.QueryRow(ctx, `SELECT count(*) FROM origins`).Scan(&n) })
	if err != nil || n != 0 {
		t.Errorf("tenant role without an account sees %d origins (%v), want 0", n, err)
	}
}

// TestTenantRoleCannotReadPasswordHashes (migration 000005): as the tenant
// role, any query that touches password_hash (by name, or through a whole
// row) is refused, even for the account's own users; the other columns stay
// readable, and the system role, which logins run as, reads the hash.
func TestTenantRoleCannotReadPasswordHashes(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	a := newAccount("acme")
	a.OwnerPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	if _, _, err := db.CreateAccount(ctx, admin, a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		role    string
		sql     string
		allowed bool
	}{
		{"hash column", roleTenant, `SELECT password_hash FROM account_users`, false},
		{"hash in an expression", roleTenant, `SELECT count(*) FROM account_users WHERE password_hash IS NOT NULL`, false},
		{"every column", roleTenant, `SELECT * FROM account_users`, false},
		{"whole row as text", roleTenant, `SELECT u::text FROM account_users u`, false},
		{"through a join", roleTenant, `SELECT a.id, u.password_hash FROM accounts a JOIN account_users u ON u.account_id = a.id`, false},
		{"other columns", roleTenant, `SELECT id, account_id, email, created_at FROM account_users`, true},
		{"system role reads the hash", roleSystem, `SELECT password_hash FROM account_users WHERE password_hash IS NOT NULL`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows int
			err := db.inTx(ctx, readOnly, tt.role, "acme", func(tx pgx.Tx) error {
				r, _ := tx.Query(ctx, tt.sql)
				for r.Next() {
					rows++
				}
				return r.Err()
			})
			var pgErr *pgconn.PgError
			switch {
			case tt.allowed && (err != nil || rows != 1):
				t.Fatalf("%d rows, %v; want acme's one user", rows, err)
			case !tt.allowed && (!errors.As(err, &pgErr) || pgErr.Code != "42501"):
				t.Fatalf("%d rows, %v; want permission denied (42501)", rows, err)
			}
		})
	}
}

// TestForgottenRoleFailsClosed connects as a login that may assume both
// roles but has no rights of its own (NOINHERIT), the set-up migration
// 000002 recommends: the service methods work, and SQL that skips the role
// is refused rather than run with someone's rights.
func TestForgottenRoleFailsClosed(t *testing.T) {
	ctx := testContext(t)
	super := newDB(t)
	_, err := super.pool.Exec(ctx, `
		DO $$ BEGIN
			CREATE ROLE pictor_test_app LOGIN NOINHERIT PASSWORD 'pictor-test' IN ROLE pictor_app, pictor_system;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
		END $$`)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(super.pool.Config().ConnString())
	u.User = url.UserPassword("pictor_test_app", "pictor-test")
	db, err := Open(ctx, u.String(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	acme := mustCreateAccount(ctx, t, db, "acme")
	if _, err := db.CreateOrigin(ctx, acme, webOrigin("one")); err != nil {
		t.Fatalf("service method as the restricted login: %v", err)
	}
	if _, err := db.LoadConfig(ctx); err != nil {
		t.Fatalf("LoadConfig as the restricted login: %v", err)
	}
	if v, dirty, err := db.SchemaVersion(ctx); err != nil || v < 2 || dirty {
		t.Fatalf("SchemaVersion as the restricted login: %d %v %v", v, dirty, err)
	}
	for _, sql := range []string{`SELECT count(*) FROM origins`, `SELECT count(*) FROM accounts`, `SELECT version FROM config_version`} {
		var n int
		err := db.pool.QueryRow(ctx, sql).Scan(&n)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s without a role: %d, %v; want permission denied", sql, n, err)
		}
	}
}

// snapshotAll fingerprints every table the tests write, as the superuser.
func snapshotAll(ctx context.Context, t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{"accounts", "account_users", "api_keys", "origins", "url_endpoints", "url_endpoint_origins",
		"custom_domains", "named_transformations", "purge_requests", "sessions", "audit_log", "config_version"} {
		var fp string
		err := db.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) || ':' || COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM %s t`, table)).Scan(&fp)
		if err != nil {
			t.Fatalf("fingerprint %s: %v", table, err)
		}
		out[table] = fp
	}
	return out
}

// TestAuditFailureRollsBack makes every audit insert fail (a trigger) and
// checks that each kind of write then fails as a whole: no row, no version
// bump, nothing half-written.
func TestAuditFailureRollsBack(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	acme := mustCreateAccount(ctx, t, db, "acme")
	o, err := db.CreateOrigin(ctx, acme, webOrigin("one"))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := db.CreateEndpoint(ctx, acme, tenant.URLEndpoint{Description: "p", URLPrefix: "p", OriginIDs: []string{o.ID}})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := db.CreateNamedTransformation(ctx, acme, tenant.NamedTransformation{Name: "thumb", Transformation: "w-100", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	second := tenant.NewKey{ID: tenant.NewID(), DisplayPrefix: "private_x", Digest: []byte("d2"), Ciphertext: []byte("c2")}
	if _, err := db.CreateKey(ctx, acme, "second", second); err != nil {
		t.Fatal(err)
	}
	unused, err := db.CreateOrigin(ctx, acme, webOrigin("unused"))
	if err != nil {
		t.Fatal(err)
	}
	var userID string
	if err := db.pool.QueryRow(ctx, `SELECT id FROM account_users WHERE account_id = 'acme'`).Scan(&userID); err != nil {
		t.Fatal(err)
	}

	_, err = db.pool.Exec(ctx, `
		CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit log unavailable (test)'; END $$;
		CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();`)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotAll(ctx, t, db)
	name := "renamed"
	q := 50
	writes := map[string]func() error{
		"create origin":   func() error { _, err := db.CreateOrigin(ctx, acme, webOrigin("two")); return err },
		"update origin":   func() error { u := o; u.Name = "x"; _, err := db.UpdateOrigin(ctx, acme, u); return err },
		"delete origin":   func() error { return db.DeleteOrigin(ctx, acme, unused.ID) },
		"delete endpoint": func() error { return db.DeleteEndpoint(ctx, acme, ep.ID) },
		"create endpoint": func() error {
			_, err := db.CreateEndpoint(ctx, acme, tenant.URLEndpoint{Description: "q", URLPrefix: "q", CustomDomains: []string{"img.acme.example"}})
			return err
		},
		"update endpoint": func() error {
			_, err := db.UpdateEndpoint(ctx, acme, ep.ID, tenant.EndpointUpdate{Description: "changed", CustomDomains: []string{"x.acme.example"}})
			return err
		},
		"create named": func() error {
			_, err := db.CreateNamedTransformation(ctx, acme, tenant.NamedTransformation{Name: "other", Transformation: "h-1"})
			return err
		},
		"update named": func() error {
			_, err := db.UpdateNamedTransformation(ctx, acme, nt.ID, tenant.NamedTransformationPatch{Name: &name})
			return err
		},
		"delete named": func() error { return db.DeleteNamedTransformation(ctx, acme, nt.ID) },
		"create purge": func() error {
			_, err := db.CreatePurge(ctx, acme, tenant.PurgeURL{Raw: "http://e/acme/a.jpg", Host: "e", Path: "/acme/a.jpg"})
			return err
		},
		"create key": func() error {
			_, err := db.CreateKey(ctx, acme, "", tenant.NewKey{ID: tenant.NewID(), DisplayPrefix: "p", Digest: []byte("d3"), Ciphertext: []byte("c")})
			return err
		},
		"revoke key": func() error { return db.RevokeKey(ctx, acme, second.ID) },
		"update settings": func() error {
			_, err := db.UpdateSettings(ctx, acme, tenant.SettingsPatch{DefaultQuality: &q})
			return err
		},
		"create account": func() error { _, _, err := db.CreateAccount(ctx, admin, newAccount("other")); return err },
		"suspend account": func() error {
			s := tenant.StatusSuspended
			_, err := db.UpdateAccount(ctx, admin, "acme", tenant.AccountPatch{Status: &s})
			return err
		},
		"delete account": func() error { return db.DeleteAccount(ctx, admin, "acme") },
		"create session": func() error {
			return db.CreateSession(ctx, admin, tenant.NewSession{Digest: []byte("s"), AccountID: "acme", UserID: userID, ExpiresAt: time.Now().Add(time.Hour)})
		},
	}
	for name, write := range writes {
		err := write()
		if err == nil || errkind.KindOf(err) != errkind.Internal {
			t.Errorf("%s with a failing audit log: %v, want an internal error", name, err)
		}
	}
	if after := snapshotAll(ctx, t, db); !reflect.DeepEqual(before, after) {
		for table := range before {
			if before[table] != after[table] {
				t.Errorf("table %s changed although every write failed", table)
			}
		}
	}
}

// TestRateLimitCounter: concurrent hits are each counted once, windows
// restart the count, and accounts and buckets count separately.
func TestRateLimitCounter(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	mustCreateAccount(ctx, t, db, "acme")
	mustCreateAccount(ctx, t, db, "bravo")

	const n = 40
	seen := make([]bool, n+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			hits, reset, err := db.Hit(ctx, "acme", "api", time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			if !reset.After(time.Now().Add(-time.Minute)) {
				t.Errorf("reset %v is in the past", reset)
			}
			mu.Lock()
			defer mu.Unlock()
			if hits < 1 || hits > n || seen[hits] {
				t.Errorf("hit count %d repeated or out of range", hits)
				return
			}
			seen[hits] = true
		})
	}
	wg.Wait()
	if hits, _, _ := db.Hit(ctx, "bravo", "api", time.Hour); hits != 1 {
		t.Errorf("bravo's first hit counts %d, want 1", hits)
	}
	if hits, _, _ := db.Hit(ctx, "acme", "login", time.Hour); hits != 1 {
		t.Errorf("acme's first login hit counts %d, want 1", hits)
	}
	// A one-second window ends: the count starts over.
	first, reset, err := db.Hit(ctx, "acme", "short", time.Second)
	if err != nil || first != 1 {
		t.Fatalf("first short hit: %d %v", first, err)
	}
	time.Sleep(time.Until(reset) + 50*time.Millisecond)
	if hits, _, _ := db.Hit(ctx, "acme", "short", time.Second); hits != 1 {
		t.Errorf("hit in a new window counts %d, want 1", hits)
	}
}

// TestLoginAttempts: attempts per email are counted once each, also
// concurrently; windows start at the first attempt and end; a success is
// forgiven; ended windows are swept by new ones.
func TestLoginAttempts(t *testing.T) {
	ctx := testContext(t)
	count := func(t *testing.T, db *DB, email string, window time.Duration) (int, time.Time) {
		t.Helper()
		n, reset, err := db.CountLoginAttempt(ctx, tenant.LoginDigest(email), window)
		if err != nil {
			t.Fatal(err)
		}
		return n, reset
	}
	forgive := func(t *testing.T, db *DB, email string) {
		t.Helper()
		if err := db.ForgiveLoginAttempt(ctx, tenant.LoginDigest(email)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"concurrent attempts each count once", func(t *testing.T, db *DB) {
			const n = 30
			seen := make([]bool, n+1)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					got, _, err := db.CountLoginAttempt(ctx, tenant.LoginDigest("many@example.com"), time.Hour)
					mu.Lock()
					defer mu.Unlock()
					if err != nil || got < 1 || got > n || seen[got] {
						t.Errorf("attempt count %d (%v) repeated or out of range", got, err)
						return
					}
					seen[got] = true
				})
			}
			wg.Wait()
		}},
		{"emails count apart, case aside", func(t *testing.T, db *DB) {
			count(t, db, "apart@example.com", time.Hour)
			if n, _ := count(t, db, "APART@example.com", time.Hour); n != 2 {
				t.Fatalf("same email in capitals: attempt %d, want 2", n)
			}
			if n, _ := count(t, db, "other@example.com", time.Hour); n != 1 {
				t.Fatalf("another email: attempt %d, want 1", n)
			}
		}},
		{"the window starts at the first attempt", func(t *testing.T, db *DB) {
			before := time.Now()
			_, first := count(t, db, "window@example.com", time.Hour)
			_, second := count(t, db, "window@example.com", time.Hour)
			if !first.Equal(second) || first.Before(before.Add(59*time.Minute)) || first.After(time.Now().Add(61*time.Minute)) {
				t.Fatalf("window ends %v then %v, want one hour after the first attempt", first, second)
			}
		}},
		{"an ended window starts over", func(t *testing.T, db *DB) {
			count(t, db, "short@example.com", time.Second)
			_, reset := count(t, db, "short@example.com", time.Second)
			time.Sleep(time.Until(reset) + 50*time.Millisecond)
			if n, next := count(t, db, "short@example.com", time.Second); n != 1 || !next.After(reset) {
				t.Fatalf("after the window: attempt %d ending %v, want 1 in a new window", n, next)
			}
		}},
		{"a success is forgiven", func(t *testing.T, db *DB) {
			count(t, db, "forgive@example.com", time.Hour)
			count(t, db, "forgive@example.com", time.Hour)
			forgive(t, db, "forgive@example.com")
			if n, _ := count(t, db, "forgive@example.com", time.Hour); n != 2 {
				t.Fatalf("attempt %d after forgiving one of two, want 2", n)
			}
		}},
		{"forgiving stops at zero", func(t *testing.T, db *DB) {
			forgive(t, db, "never@example.com")
			count(t, db, "zero@example.com", time.Hour)
			forgive(t, db, "zero@example.com")
			forgive(t, db, "zero@example.com")
			if n, _ := count(t, db, "zero@example.com", time.Hour); n != 1 {
				t.Fatalf("attempt %d, want 1", n)
			}
		}},
		{"new windows sweep ended ones", func(t *testing.T, db *DB) {
			_, err := db.pool.Exec(ctx, `
				INSERT INTO login_attempts (email_digest, attempts, expires_at)
				SELECT sha256(('ended' || i)::bytea), 3, now() - interval '1 minute' FROM generate_series(1, 20) i`)
			if err != nil {
				t.Fatal(err)
			}
			ended := func() (n int) {
				t.Helper()
				if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM login_attempts WHERE expires_at <= now()`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			count(t, db, "sweep@example.com", time.Hour)
			count(t, db, "sweep@example.com", time.Hour) // not a new window: no sweep
			if n := ended(); n != 20-loginSweep {
				t.Fatalf("%d ended windows left, want %d", n, 20-loginSweep)
			}
			count(t, db, "sweep2@example.com", time.Hour)
			if n := ended(); n != 0 {
				t.Fatalf("%d ended windows left, want 0", n)
			}
		}},
	}
	for _, tt := range tests {
		// A database each: the sweep counts every ended window.
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newDB(t)) })
	}
}

// TestPurgeStatus: Pending until every connected, live edge has applied
// the purge's version; disconnected and silent edges do not hold it back.
func TestPurgeStatus(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	acme := mustCreateAccount(ctx, t, db, "acme")
	bravo := mustCreateAccount(ctx, t, db, "bravo")
	status := func(id string) string {
		t.Helper()
		s, err := db.PurgeStatus(ctx, acme, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, err := db.CreatePurge(ctx, acme, tenant.PurgeURL{Raw: "http://e/acme/a/b.jpg", Host: "e", Path: "/acme/a/b.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != version(ctx, t, db) || p.Path != "a/b.jpg" || p.Prefix || time.Until(p.ExpiresAt) < 36*24*time.Hour {
		t.Fatalf("purge %+v", p)
	}
	if s := status(p.ID); s != tenant.PurgeCompleted {
		t.Fatalf("no edges: %s, want Completed", s)
	}
	edge := func(id string, applied uint64) {
		t.Helper()
		if err := db.EdgeConnected(ctx, tenant.EdgeNode{NodeID: id, AppliedVersion: applied, Session: id + "#1"}); err != nil {
			t.Fatal(err)
		}
	}
	edge("e1", p.Version-1)
	edge("e2", p.Version)
	if s := status(p.ID); s != tenant.PurgePending {
		t.Fatalf("one edge behind: %s, want Pending", s)
	}
	if err := db.EdgeAcked(ctx, tenant.EdgeAck{NodeID: "e1", Session: "e1#1", Version: p.Version + 1, AppliedVersion: p.Version + 1}); err != nil {
		t.Fatal(err)
	}
	if s := status(p.ID); s != tenant.PurgeCompleted {
		t.Fatalf("every edge acked: %s, want Completed", s)
	}
	edge("e3", 0)
	if err := db.EdgeDisconnected(ctx, "e3", "e3#1"); err != nil {
		t.Fatal(err)
	}
	edge("e4", 0)
	if _, err := db.pool.Exec(ctx, `UPDATE edge_nodes SET last_seen = now() - interval '1 hour' WHERE node_id = 'e4'`); err != nil {
		t.Fatal(err)
	}
	if s := status(p.ID); s != tenant.PurgeCompleted {
		t.Fatalf("behind edges disconnected or silent: %s, want Completed", s)
	}
	_, err = db.PurgeStatus(ctx, bravo, p.ID)
	wantKind(t, err, errkind.NotFound, "")
}
