package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// The database roles of migration 000002.
const (
	// roleTenant runs tenant requests; row-level security limits it to the
	// account in the pictor.account_id setting.
	roleTenant = "pictor_app"
	// roleSystem runs cross-tenant work: config snapshots, the admin API,
	// key and session look-up, rate limits, purge status, edge bookkeeping.
	roleSystem = "pictor_system"
)

var (
	readOnly  = pgx.TxOptions{AccessMode: pgx.ReadOnly}
	readWrite = pgx.TxOptions{}
)

// inTx runs fn in a transaction under role, scoped to account (tenant role
// only), and commits when fn succeeds. Both settings are transaction-local,
// so a pooled connection never carries one request's role into the next.
func (db *DB) inTx(ctx context.Context, opts pgx.TxOptions, role, account string, fn func(pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// set_config(..., true) is SET LOCAL, but takes parameters.
	if _, err := tx.Exec(ctx, `SELECT set_config('role', $1, true), set_config('pictor.account_id', $2, true)`, role, account); err != nil {
		return fmt.Errorf("assume role %s: %w", role, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// tenantRead runs fn read-only as the tenant role of the caller's account.
func (db *DB) tenantRead(ctx context.Context, op string, c tenant.Caller, fn func(tx pgx.Tx, account string) error) error {
	account, err := scope(op, c)
	if err != nil {
		return err
	}
	if err := db.inTx(ctx, readOnly, roleTenant, account, func(tx pgx.Tx) error { return fn(tx, account) }); err != nil {
		return dbError(op, err)
	}
	return nil
}

// systemRead runs fn read-only as the system role.
func (db *DB) systemRead(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := db.inTx(ctx, readOnly, roleSystem, "", fn); err != nil {
		return dbError(op, err)
	}
	return nil
}

// systemWrite runs fn as the system role, for bookkeeping that is neither
// config nor a user's action (edge state, rate-limit counters): no audit
// row, no version bump.
func (db *DB) systemWrite(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := db.inTx(ctx, readWrite, roleSystem, "", fn); err != nil {
		return dbError(op, err)
	}
	return nil
}

// change describes a mutation for its audit row and says whether it
// changes what edges see.
type change struct {
	action string // "origin.create", ...
	// target is the id of the object changed; fn may set it once it
	// knows (an endpoint addressed as "default").
	target string
	// account is the account the change concerns, for system-role
	// changes (admin API, sign-up); tenant changes always concern the
	// caller's account.
	account string
	// config bumps the config version after fn, in the same transaction.
	config bool
}

// mutate runs fn in a write transaction that then, when ch.config is set,
// bumps the config version (announced with pg_notify at commit) and always
// appends an audit row. Any failure, the audit insert's included, rolls
// everything back.
//
// A caller with an account runs as the tenant role with the account row
// locked first: writes to one account are serialised (so "the first
// origin" is well defined) and a suspended or deleted account cannot be
// changed. A caller without one (admin, sign-up, login) runs as the system
// role.
func (db *DB) mutate(ctx context.Context, op string, c tenant.Caller, ch *change, fn func(pgx.Tx) error) error {
	role, account, auditAccount := roleSystem, "", ch.account
	if c.AccountID != "" {
		role, account, auditAccount = roleTenant, c.AccountID, c.AccountID
	}
	err := db.inTx(ctx, readWrite, role, account, func(tx pgx.Tx) error {
		if account != "" {
			if err := lockActiveAccount(ctx, tx, account); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		if ch.config {
			if _, err := tx.Exec(ctx, `SELECT bump_config_version()`); err != nil {
				return fmt.Errorf("bump config version: %w", err)
			}
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO audit_log (actor, account_id, action, target, request_id) VALUES ($1, NULLIF($2, ''), $3, $4, $5)`,
			c.Actor, auditAccount, ch.action, ch.target, c.RequestID)
		if err != nil {
			return fmt.Errorf("write audit log: %w", err)
		}
		return nil
	})
	if err != nil {
		return dbError(op, err)
	}
	return nil
}

// lockActiveAccount locks the account row against concurrent writes and
// refuses a suspended or vanished account.
func lockActiveAccount(ctx context.Context, tx pgx.Tx, account string) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, account).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return errkind.New(errkind.Unauthorized, "account_gone", "the account of these credentials no longer exists")
	case err != nil:
		return fmt.Errorf("lock account: %w", err)
	case status != tenant.StatusActive:
		return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
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

// requireScope is scope for mutations, which take their account from the
// caller inside mutate: it only refuses an unscoped caller.
func requireScope(op string, c tenant.Caller) error {
	_, err := scope(op, c)
	return err
}
