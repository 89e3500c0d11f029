package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
)

// ConfigChannel is the pg_notify channel bump_config_version announces new
// versions on.
const ConfigChannel = "pictor_config"

// CurrentVersion returns the config version in force.
func (db *DB) CurrentVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := db.systemRead(ctx, "read config version", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&v)
	})
	return v, err
}

// LoadConfig reads everything edges need at one config version. All reads
// share one REPEATABLE READ snapshot with the version row, and a write
// holds the version row locked until it commits, so the state returned is
// exactly the state of that version. It reads every account, so it runs as
// the system role.
func (db *DB) LoadConfig(ctx context.Context) (tenant.ConfigState, error) {
	var st tenant.ConfigState
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.inTx(ctx, opts, roleSystem, "", func(tx pgx.Tx) error {
		var err error
		st, err = loadConfig(ctx, tx, nil, 0)
		return err
	})
	if err != nil {
		return tenant.ConfigState{}, dbError("load config", err)
	}
	return st, nil
}

// LoadConfigSince reads what changed after version since, as LoadConfig
// reads everything (one snapshot, the system role): the accounts whose
// config a later version changed (account_versions, kept by migration
// 000012's triggers), every account id, and the purge rules issued after
// since. Its cost follows the change, not the number of tenants.
func (db *DB) LoadConfigSince(ctx context.Context, since uint64) (tenant.ConfigState, error) {
	var st tenant.ConfigState
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.inTx(ctx, opts, roleSystem, "", func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT account_id FROM account_versions WHERE version > $1`, since)
		changed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("changed accounts: %w", err)
		}
		if st, err = loadConfig(ctx, tx, &changed, since); err != nil {
			return err
		}
		// A deleted account keeps its row here, stamped at its deletion,
		// so the ids changed tell the deleted ones too: no read of every
		// account id per version.
		st.Since, st.Changed = since, changed
		return nil
	})
	if err != nil {
		return tenant.ConfigState{}, dbError("load config changes", err)
	}
	return st, nil
}

// loadConfig reads the config of the accounts in only (every account when
// nil) and the purge rules issued after version since.
func loadConfig(ctx context.Context, tx pgx.Tx, only *[]string, since uint64) (tenant.ConfigState, error) {
	var st tenant.ConfigState
	if err := tx.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&st.Version); err != nil {
		return st, fmt.Errorf("version: %w", err)
	}
	// where filters a query's rows to the accounts in only.
	where := func(column string) string {
		if only == nil {
			return "WHERE $1::text[] IS NULL"
		}
		return "WHERE " + column + " = ANY($1::text[])"
	}
	var ids []string
	if only != nil {
		ids = *only
	}

	rows, _ := tx.Query(ctx, `
		SELECT id, name, owner_email, status, avif_enabled, default_quality, cache_max_age_seconds, created_at
		FROM accounts `+where("id")+` ORDER BY id`, ids)
	accounts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.AccountConfig, error) {
		var a tenant.AccountConfig
		err := r.Scan(&a.Account.ID, &a.Account.Name, &a.Account.OwnerEmail, &a.Account.Status,
			&a.Account.AVIFEnabled, &a.Account.DefaultQuality, &a.Account.CacheMaxAge, &a.Account.CreatedAt)
		return a, err
	})
	if err != nil {
		return st, fmt.Errorf("accounts: %w", err)
	}
	byAccount := make(map[string]*tenant.AccountConfig, len(accounts))
	for i := range accounts {
		byAccount[accounts[i].Account.ID] = &accounts[i]
	}

	rows, _ = tx.Query(ctx, `
		SELECT account_id, id, ciphertext FROM api_keys
		`+where("account_id")+` AND revoked_at IS NULL ORDER BY account_id, created_at, id`, ids)
	var accountID string
	var key tenant.SealedKey
	_, err = pgx.ForEachRow(rows, []any{&accountID, &key.ID, &key.Ciphertext}, func() error {
		if a := byAccount[accountID]; a != nil {
			a.Keys = append(a.Keys, tenant.SealedKey{ID: key.ID, Ciphertext: key.Ciphertext})
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("keys: %w", err)
	}

	// Origin secrets stay sealed, like API keys: the snapshot builder
	// opens them.
	rows, _ = tx.Query(ctx, `SELECT `+originColumnsWithSecret+` FROM origins `+where("account_id")+` ORDER BY account_id, created_at, id`, ids)
	origins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.Origin, error) { return scanOriginWithSecret(r) })
	if err != nil {
		return st, fmt.Errorf("origins: %w", err)
	}
	for _, o := range origins {
		if a := byAccount[o.AccountID]; a != nil {
			a.Origins = append(a.Origins, o)
		}
	}

	rows, _ = tx.Query(ctx, `
		SELECT id, account_id, description, url_prefix, restrict_unsigned_urls,
			cache_ttl_seconds, stale_grace_seconds, use_origin_cache_control
		FROM url_endpoints `+where("account_id")+` ORDER BY account_id, url_prefix`, ids)
	endpoints, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.URLEndpoint, error) {
		e := tenant.URLEndpoint{OriginIDs: []string{}, CustomDomains: []string{}}
		err := r.Scan(&e.ID, &e.AccountID, &e.Description, &e.URLPrefix, &e.RestrictUnsignedURLs,
			&e.CacheTTLSeconds, &e.StaleGraceSeconds, &e.UseOriginCacheControl)
		return e, err
	})
	if err != nil {
		return st, fmt.Errorf("url endpoints: %w", err)
	}
	byEndpoint := make(map[string]*tenant.URLEndpoint, len(endpoints))
	for i := range endpoints {
		byEndpoint[endpoints[i].ID] = &endpoints[i]
	}
	var endpointID, value string
	rows, _ = tx.Query(ctx, `SELECT endpoint_id, origin_id FROM url_endpoint_origins `+where("account_id")+` ORDER BY endpoint_id, position`, ids)
	if _, err := pgx.ForEachRow(rows, []any{&endpointID, &value}, func() error {
		if e := byEndpoint[endpointID]; e != nil {
			e.OriginIDs = append(e.OriginIDs, value)
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("endpoint origins: %w", err)
	}
	rows, _ = tx.Query(ctx, `SELECT endpoint_id, domain FROM custom_domains `+where("account_id")+` ORDER BY endpoint_id, domain`, ids)
	if _, err := pgx.ForEachRow(rows, []any{&endpointID, &value}, func() error {
		if e := byEndpoint[endpointID]; e != nil {
			e.CustomDomains = append(e.CustomDomains, value)
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("custom domains: %w", err)
	}
	for _, e := range endpoints {
		if a := byAccount[e.AccountID]; a != nil {
			a.Endpoints = append(a.Endpoints, e)
		}
	}

	rows, _ = tx.Query(ctx, `
		SELECT id, account_id, name, transformation, enabled
		FROM named_transformations `+where("account_id")+` ORDER BY account_id, name`, ids)
	named, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.NamedTransformation, error) {
		var n tenant.NamedTransformation
		err := r.Scan(&n.ID, &n.AccountID, &n.Name, &n.Transformation, &n.Enabled)
		return n, err
	})
	if err != nil {
		return st, fmt.Errorf("named transformations: %w", err)
	}
	for _, n := range named {
		if a := byAccount[n.AccountID]; a != nil {
			a.NamedTransformations = append(a.NamedTransformations, n)
		}
	}

	// Rules past their expiry cover nothing any edge still caches.
	rows, _ = tx.Query(ctx, `
		SELECT id, account_id, endpoint_id, path, is_prefix, config_version, created_at
		FROM purge_requests WHERE expires_at > now() AND config_version > $1
		ORDER BY config_version, created_at, id`, since)
	st.Purges, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.PurgeRule, error) {
		var p tenant.PurgeRule
		err := r.Scan(&p.ID, &p.AccountID, &p.EndpointID, &p.Path, &p.Prefix, &p.Version, &p.CreatedAt)
		return p, err
	})
	if err != nil {
		return st, fmt.Errorf("purge rules: %w", err)
	}
	st.Accounts = accounts
	return st, nil
}

// ListenVersions calls notify with each config version announced on
// ConfigChannel until ctx ends. It holds a dedicated connection (LISTEN
// does not survive a pool) and reconnects with jittered backoff when it
// drops. Announcements can be missed while disconnected, so after every
// (re)connect it also reports the current version. A version of 0 means
// "something changed; read the version yourself".
func (db *DB) ListenVersions(ctx context.Context, notify func(version uint64)) {
	const minDelay, maxDelay = 250 * time.Millisecond, 10 * time.Second
	delay := minDelay
	for {
		start := time.Now()
		err := db.listen(ctx, notify)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			delay = minDelay // it had been working: start over
		}
		wait := delay/2 + rand.N(delay/2+1)
		db.log.Warn("config listener disconnected; reconnecting", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(2*delay, maxDelay)
	}
}

func (db *DB) listen(ctx context.Context, notify func(uint64)) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	// Notice a silently dead peer within ~30 s instead of the kernel's
	// default hours; the caller's poll covers the gap.
	dialer := &net.Dialer{
		Timeout:         cfg.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	cfg.DialFunc = dialer.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return dbError("config listener: connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// A dedicated connection, closed on return: the session-wide role
	// cannot leak into a pool.
	if _, err := conn.Exec(ctx, `SELECT set_config('role', $1, false)`, roleSystem); err != nil {
		return dbError("config listener: assume role", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+ConfigChannel); err != nil {
		return dbError("config listener: listen", err)
	}
	var v uint64
	if err := conn.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&v); err != nil {
		return dbError("config listener: read version", err)
	}
	notify(v)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return dbError("config listener: wait", err)
		}
		v, err := strconv.ParseUint(n.Payload, 10, 64)
		if err != nil {
			db.log.Warn("config listener: unexpected payload", "payload", n.Payload)
			v = 0
		}
		notify(v)
	}
}

// SchemaVersion returns the migration version the database is at and
// whether a failed migration left it dirty; 0 when it was never migrated.
// It only reads, unlike asking golang-migrate, which creates its table. It
// runs as the connecting user: before migration 000002 there is no system
// role to assume.
func (db *DB) SchemaVersion(ctx context.Context) (version uint, dirty bool, err error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, false, dbError("read schema version", err)
	}
	if !exists {
		return 0, false, nil
	}
	err = db.pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil && db.systemRoleAvailable(ctx):
		// A login without privileges of its own (the recommended set-up)
		// reads it through the system role.
		err = db.systemRead(ctx, "read schema version", func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
		})
	}
	if err != nil {
		return 0, false, dbError("read schema version", err)
	}
	return version, dirty, nil
}

// systemRoleAvailable reports whether the connecting user may assume the
// system role (migration 000002 has run and granted it).
func (db *DB) systemRoleAvailable(ctx context.Context) bool {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT pg_has_role($1, 'MEMBER')`, roleSystem).Scan(&ok)
	return err == nil && ok
}
