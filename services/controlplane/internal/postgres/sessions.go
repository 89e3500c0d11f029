package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// FindUserByEmail implements tenant.SessionService. It runs as the system
// role: at login, the email is what tells the account.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (tenant.User, error) {
	var u tenant.User
	err := db.systemRead(ctx, "find user", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT u.id, u.account_id, u.email, COALESCE(u.password_hash, ''), a.status
			FROM account_users u JOIN accounts a ON a.id = u.account_id
			WHERE lower(u.email) = lower($1)`, email,
		).Scan(&u.ID, &u.AccountID, &u.Email, &u.PasswordHash, &u.AccountStatus)
		if errors.Is(err, pgx.ErrNoRows) {
			return errkind.New(errkind.NotFound, "user_not_found", "no user with this email")
		}
		return err
	})
	return u, err
}

// CreateSession implements tenant.SessionService. Expired sessions of the
// same user are cleared on the way, so the table does not grow with every
// forgotten browser.
func (db *DB) CreateSession(ctx context.Context, c tenant.Caller, s tenant.NewSession) error {
	c.AccountID = ""
	return db.mutate(ctx, "create session", c, &change{action: "session.create", target: s.UserID, account: s.AccountID}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()`, s.UserID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, account_id, user_id, expires_at) VALUES ($1, $2, $3, $4)`,
			s.Digest, s.AccountID, s.UserID, s.ExpiresAt)
		return err
	})
}

// FindSession implements tenant.SessionService.
func (db *DB) FindSession(ctx context.Context, digest []byte) (tenant.Session, error) {
	var s tenant.Session
	err := db.systemRead(ctx, "find session", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT s.account_id, s.user_id, u.email, a.status, s.expires_at
			FROM sessions s JOIN account_users u ON u.id = s.user_id JOIN accounts a ON a.id = s.account_id
			WHERE s.id_hash = $1 AND s.expires_at > now()`, digest,
		).Scan(&s.AccountID, &s.UserID, &s.Email, &s.AccountStatus, &s.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return errkind.New(errkind.Unauthorized, "no_session", "not logged in or the session expired")
		}
		return err
	})
	return s, err
}

// DeleteSession implements tenant.SessionService; deleting a session that
// is already gone succeeds (logging out twice is not an error).
func (db *DB) DeleteSession(ctx context.Context, c tenant.Caller, digest []byte) error {
	account := c.AccountID
	c.AccountID = "" // sessions are the system's bookkeeping, even the caller's own
	return db.mutate(ctx, "delete session", c, &change{action: "session.delete", account: account}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, digest)
		return err
	})
}
