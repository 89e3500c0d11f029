package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// CreateAccount implements tenant.AccountService.
func (db *DB) CreateAccount(ctx context.Context, c tenant.Caller, a tenant.NewAccount) (tenant.Account, tenant.URLEndpoint, error) {
	acct := tenant.Account{ID: a.ID, Name: a.Name, OwnerEmail: a.OwnerEmail}
	ep := tenant.URLEndpoint{
		ID:            tenant.NewID(),
		AccountID:     a.ID,
		Description:   tenant.DefaultEndpointDescription,
		OriginIDs:     []string{},
		CustomDomains: []string{},
	}
	c.AccountID = "" // the account does not exist yet: nothing to lock
	err := db.configWrite(ctx, "create account", c, audit{accountID: a.ID, action: "account.create", target: a.ID}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO accounts (id, name, owner_email) VALUES ($1, $2, $3)
			RETURNING status, avif_enabled, default_quality, created_at`,
			a.ID, a.Name, a.OwnerEmail,
		).Scan(&acct.Status, &acct.AVIFEnabled, &acct.DefaultQuality, &acct.CreatedAt)
		if code, _, ok := violation(err); ok && code == uniqueViolation {
			return &errkind.Error{Kind: errkind.Conflict, Reason: "account_exists", Field: "id", Msg: "an account with this id already exists", Err: err}
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO account_users (id, account_id, email, password_hash) VALUES ($1, $2, $3, NULLIF($4, ''))`,
			tenant.NewID(), a.ID, a.OwnerEmail, a.OwnerPasswordHash)
		if code, _, ok := violation(err); ok && code == uniqueViolation {
			return &errkind.Error{Kind: errkind.Conflict, Reason: "email_in_use", Field: "ownerEmail", Msg: "this email already owns an account", Err: err}
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO api_keys (id, account_id, name, display_prefix, digest, ciphertext) VALUES ($1, $2, 'default', $3, $4, $5)`,
			a.Key.ID, a.ID, a.Key.DisplayPrefix, a.Key.Digest, a.Key.Ciphertext)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO url_endpoints (id, account_id, description, url_prefix) VALUES ($1, $2, $3, '')`,
			ep.ID, a.ID, ep.Description)
		return err
	})
	if err != nil {
		return tenant.Account{}, tenant.URLEndpoint{}, err
	}
	return acct, ep, nil
}
