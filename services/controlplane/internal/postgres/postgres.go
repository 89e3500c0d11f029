// Package postgres stores the control plane's state in Postgres and is its
// only user of pgx. It implements the tenant services, reads consistent
// config snapshots, tracks edge streams and listens for config version
// announcements. Every config write runs in one transaction that also bumps
// the config version and appends an audit row, so edges never see a change
// that was not audited and a failed write changes nothing.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// defaultConnectTimeout applies when the URL sets none, so a request
// against a dead database fails fast with 503 instead of hanging.
const defaultConnectTimeout = 5 * time.Second

// DB is a connection pool plus the control plane's queries.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Open parses databaseURL and returns a pool. It does not connect: the
// control plane starts (and answers /healthz) while the database is down.
func Open(ctx context.Context, databaseURL string, log *slog.Logger) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error can quote the URL, password included.
		return nil, errkind.InvalidField("PICTOR_DATABASE_URL", "cannot parse the database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return &DB{pool: pool, log: log}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return dbError("ping database", err)
	}
	return nil
}

// dbError wraps err with the operation and an errkind: connection trouble
// is Unavailable (clients retry), everything unexpected Internal.
func dbError(op string, err error) error {
	return fmt.Errorf("%s: %w", op, classify(err))
}

func classify(err error) error {
	if errkind.Of(err) != nil {
		return err
	}
	unavailable := func() error {
		return errkind.Wrap(errkind.Unavailable, "database_unavailable", "database unavailable, retry later", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"40", // serialization failure, deadlock: retrying succeeds
			"53", // insufficient resources (too many connections, disk full)
			"57": // operator intervention: shutdown, statement timeout
			return unavailable()
		}
		return errkind.Wrap(errkind.Internal, "database_error", "", err)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		pgconn.SafeToRetry(err):
		return unavailable()
	}
	return errkind.Wrap(errkind.Internal, "database_error", "", err)
}

// violation returns the constraint a unique or foreign-key violation names.
func violation(err error) (code, constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code[:2] == "23" {
		return pgErr.Code, pgErr.ConstraintName, true
	}
	return "", "", false
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// audit describes the audit row of a config write.
type audit struct {
	accountID string
	action    string // "origin.create", ...
	target    string // id of the object changed
}

// configWrite runs fn in a transaction that, after fn succeeds, bumps the
// config version (announcing it with pg_notify at commit) and appends an
// audit row. Any failure rolls everything back, the version included.
//
// For account-scoped callers the account row is locked first: writes to
// one account are serialised (so "the first origin" is well defined) and
// a suspended or deleted account cannot be changed.
func (db *DB) configWrite(ctx context.Context, op string, c tenant.Caller, a audit, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return dbError(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if c.AccountID != "" {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, c.AccountID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%s: %w", op, errkind.New(errkind.Unauthorized, "account_gone", "the account of this API key no longer exists"))
		case err != nil:
			return dbError(op+": lock account", err)
		case status != tenant.StatusActive:
			return fmt.Errorf("%s: %w", op, errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended"))
		}
	}
	if err := fn(tx); err != nil {
		if errkind.Of(err) != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return dbError(op, err)
	}
	if _, err := tx.Exec(ctx, `SELECT bump_config_version()`); err != nil {
		return dbError(op+": bump config version", err)
	}
	_, err = tx.Exec(ctx,
		`INSERT INTO audit_log (actor, account_id, action, target, request_id) VALUES ($1, NULLIF($2, ''), $3, $4, $5)`,
		c.Actor, a.accountID, a.action, a.target, c.RequestID)
	if err != nil {
		return dbError(op+": write audit log", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError(op+": commit", err)
	}
	return nil
}

// scope returns the account an account-scoped call may touch. An empty
// scope is a bug in the caller, never a licence to see every account.
func scope(op string, c tenant.Caller) (string, error) {
	if c.AccountID == "" {
		return "", fmt.Errorf("%s: %w", op, errkind.New(errkind.Internal, "missing_account_scope", ""))
	}
	return c.AccountID, nil
}
