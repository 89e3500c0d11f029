package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

const accountColumns = `id, name, owner_email, status, avif_enabled, default_quality, cache_max_age_seconds, created_at`

func scanAccount(row pgx.Row) (tenant.Account, error) {
	var a tenant.Account
	err := row.Scan(&a.ID, &a.Name, &a.OwnerEmail, &a.Status, &a.AVIFEnabled, &a.DefaultQuality, &a.CacheMaxAge, &a.CreatedAt)
	return a, err
}

func accountNotFound() error {
	return errkind.New(errkind.NotFound, "account_not_found", "no account with this id")
}

// CreateAccount implements tenant.AccountService. It runs as the system
// role: the account does not exist yet, so there is no tenant to be.
func (db *DB) CreateAccount(ctx context.Context, c tenant.Caller, a tenant.NewAccount) (tenant.Account, tenant.URLEndpoint, error) {
	acct := tenant.Account{ID: a.ID, Name: a.Name, OwnerEmail: a.OwnerEmail}
	ep := tenant.URLEndpoint{
		ID:            tenant.NewID(),
		AccountID:     a.ID,
		Description:   tenant.DefaultEndpointDescription,
		OriginIDs:     []string{},
		CustomDomains: []string{},
	}
	if a.OwnerID == "" {
		a.OwnerID = tenant.NewID()
	}
	c.AccountID = ""
	err := db.mutate(ctx, "create account", c, &change{action: "account.create", target: a.ID, account: a.ID, config: true}, func(tx pgx.Tx) error {
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
			a.OwnerID, a.ID, a.OwnerEmail, a.OwnerPasswordHash)
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

// ListAccounts implements tenant.AccountService with keyset pagination on
// the id, so pages stay stable while accounts are created.
func (db *DB) ListAccounts(ctx context.Context, after string, limit int) (tenant.AccountPage, error) {
	page := tenant.AccountPage{Accounts: []tenant.Account{}}
	err := db.systemRead(ctx, "list accounts", func(tx pgx.Tx) error {
		// One row more than asked tells whether another page follows.
		rows, _ := tx.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, after, limit+1)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.Account, error) { return scanAccount(r) })
		if err != nil {
			return err
		}
		if len(list) > limit {
			list = list[:limit]
			page.Next = list[limit-1].ID
		}
		page.Accounts = append(page.Accounts, list...)
		return nil
	})
	return page, err
}

// FindAccount implements tenant.AccountService.
func (db *DB) FindAccount(ctx context.Context, id string) (tenant.Account, error) {
	var a tenant.Account
	err := db.systemRead(ctx, "find account", func(tx pgx.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return accountNotFound()
		}
		return err
	})
	return a, err
}

// UpdateAccount implements tenant.AccountService. The version is bumped
// whatever changed: edges carry the status.
func (db *DB) UpdateAccount(ctx context.Context, c tenant.Caller, id string, p tenant.AccountPatch) (tenant.Account, error) {
	var a tenant.Account
	c.AccountID = ""
	err := db.mutate(ctx, "update account", c, &change{action: "account.update", target: id, account: id, config: true}, func(tx pgx.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRow(ctx, `
			UPDATE accounts SET name = COALESCE($2, name), status = COALESCE($3, status), updated_at = now()
			WHERE id = $1 RETURNING `+accountColumns, id, p.Name, p.Status))
		if errors.Is(err, pgx.ErrNoRows) {
			return accountNotFound()
		}
		return err
	})
	return a, err
}

// DeleteAccount implements tenant.AccountService. Children go first, in
// an order the foreign keys accept: an endpoint's origin list restricts
// deleting its origins, so it is removed before them.
func (db *DB) DeleteAccount(ctx context.Context, c tenant.Caller, id string) error {
	c.AccountID = ""
	return db.mutate(ctx, "delete account", c, &change{action: "account.delete", target: id, account: id, config: true}, func(tx pgx.Tx) error {
		var found string
		err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, id).Scan(&found)
		if errors.Is(err, pgx.ErrNoRows) {
			return accountNotFound()
		}
		if err != nil {
			return err
		}
		for _, table := range []string{"custom_domains", "url_endpoint_origins", "url_endpoints", "origins"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE account_id = $1`, id); err != nil {
				return err
			}
		}
		// Everything else cascades from the account row.
		_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		return err
	})
}

// Account implements tenant.SettingsService.
func (db *DB) Account(ctx context.Context, c tenant.Caller) (tenant.Account, error) {
	var a tenant.Account
	err := db.tenantRead(ctx, "read account", c, func(tx pgx.Tx, account string) error {
		var err error
		a, err = scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, account))
		if errors.Is(err, pgx.ErrNoRows) {
			return accountNotFound()
		}
		return err
	})
	return a, err
}

// Settings implements tenant.SettingsService.
func (db *DB) Settings(ctx context.Context, c tenant.Caller) (tenant.Settings, error) {
	var s tenant.Settings
	err := db.tenantRead(ctx, "read settings", c, func(tx pgx.Tx, account string) error {
		err := tx.QueryRow(ctx, `SELECT avif_enabled, default_quality, cache_max_age_seconds FROM accounts WHERE id = $1`, account).
			Scan(&s.AVIFEnabled, &s.DefaultQuality, &s.CacheMaxAge)
		if errors.Is(err, pgx.ErrNoRows) {
			return accountNotFound()
		}
		return err
	})
	return s, err
}

// UpdateSettings implements tenant.SettingsService.
func (db *DB) UpdateSettings(ctx context.Context, c tenant.Caller, p tenant.SettingsPatch) (tenant.Settings, error) {
	const op = "update settings"
	var s tenant.Settings
	if err := requireScope(op, c); err != nil {
		return s, err
	}
	err := db.mutate(ctx, op, c, &change{action: "settings.update", target: c.AccountID, config: true}, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			UPDATE accounts SET avif_enabled = COALESCE($2, avif_enabled), default_quality = COALESCE($3, default_quality),
				cache_max_age_seconds = COALESCE($4, cache_max_age_seconds), updated_at = now()
			WHERE id = $1 RETURNING avif_enabled, default_quality, cache_max_age_seconds`,
			c.AccountID, p.AVIFEnabled, p.DefaultQuality, p.CacheMaxAge).Scan(&s.AVIFEnabled, &s.DefaultQuality, &s.CacheMaxAge)
	})
	return s, err
}
