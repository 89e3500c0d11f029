// Package postgres stores the control plane's state in Postgres and is its
// only user of pgx. It implements the tenant services, reads consistent
// config snapshots, tracks edge streams and listens for config version
// announcements.
//
// Every transaction runs under one of two database roles (migration
// 000002): pictor_app, scoped by row-level security to the caller's
// account, for tenant requests, and pictor_system for cross-tenant work. So
// tenant isolation holds twice: every tenant query filters by account, and
// the database hides other accounts' rows from a query that forgot to.
// Every write appends an audit row in its own transaction, and every config
// write also bumps the config version there, so edges never see a change
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

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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
func Open(ctx context.Context, databaseURL string, log *slog.Logger, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error can quote the URL, password included.
		return nil, errkind.InvalidField("PICTOR_DATABASE_URL", "cannot parse the database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = queryTracer{tracer: o.tracer.Tracer("pictor/controlplane/postgres")}
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
