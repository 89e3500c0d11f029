package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// MaxActiveKeys bounds an account's active keys: enough to rotate, few
// enough that a leaked-key hunt stays short.
const MaxActiveKeys = 10

func keyNotFound() error {
	return errkind.New(errkind.NotFound, "key_not_found", "no active API key with this id")
}

// FindKeyByDigest implements tenant.KeyService. It runs as the system role:
// the key is what tells which account the request belongs to.
func (db *DB) FindKeyByDigest(ctx context.Context, digest []byte) (tenant.APIKey, error) {
	var k tenant.APIKey
	err := db.systemRead(ctx, "find API key", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT k.id, k.account_id, a.status, k.ciphertext
			FROM api_keys k JOIN accounts a ON a.id = k.account_id
			WHERE k.digest = $1 AND k.revoked_at IS NULL`, digest,
		).Scan(&k.ID, &k.AccountID, &k.AccountStatus, &k.Ciphertext)
		if errors.Is(err, pgx.ErrNoRows) {
			return errkind.New(errkind.Unauthorized, "unknown_key", "invalid API key")
		}
		return err
	})
	return k, err
}

// ListKeys implements tenant.KeyService: the active keys, oldest first.
func (db *DB) ListKeys(ctx context.Context, c tenant.Caller) ([]tenant.KeyInfo, error) {
	out := []tenant.KeyInfo{}
	err := db.tenantRead(ctx, "list API keys", c, func(tx pgx.Tx, account string) error {
		rows, _ := tx.Query(ctx, `
			SELECT id, name, display_prefix, created_at FROM api_keys
			WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`, account)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.KeyInfo, error) {
			var k tenant.KeyInfo
			err := r.Scan(&k.ID, &k.Name, &k.DisplayPrefix, &k.CreatedAt)
			return k, err
		})
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateKey implements tenant.KeyService. Keys are config: edges verify
// signatures with them, so the version moves.
func (db *DB) CreateKey(ctx context.Context, c tenant.Caller, name string, k tenant.NewKey) (tenant.KeyInfo, error) {
	const op = "create API key"
	info := tenant.KeyInfo{ID: k.ID, Name: name, DisplayPrefix: k.DisplayPrefix}
	if err := requireScope(op, c); err != nil {
		return info, err
	}
	err := db.mutate(ctx, op, c, &change{action: "api_key.create", target: k.ID, config: true}, func(tx pgx.Tx) error {
		var active int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL`, c.AccountID).Scan(&active); err != nil {
			return err
		}
		if active >= MaxActiveKeys {
			return errkind.New(errkind.Conflict, "too_many_keys", "the account already has the maximum of 10 active API keys; revoke one first")
		}
		return tx.QueryRow(ctx, `
			INSERT INTO api_keys (id, account_id, name, display_prefix, digest, ciphertext)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
			k.ID, c.AccountID, name, k.DisplayPrefix, k.Digest, k.Ciphertext).Scan(&info.CreatedAt)
	})
	return info, err
}

// RevokeKey implements tenant.KeyService. Revoked keys stay stored (the
// audit log names them) but no longer authenticate anything, and the
// version bump makes edges drop them from signature checks.
func (db *DB) RevokeKey(ctx context.Context, c tenant.Caller, id string) error {
	const op = "revoke API key"
	if err := requireScope(op, c); err != nil {
		return err
	}
	return db.mutate(ctx, op, c, &change{action: "api_key.revoke", target: id, config: true}, func(tx pgx.Tx) error {
		// The account row is locked, so two revocations cannot both see
		// the other key still active.
		var others int
		err := tx.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL AND id <> $2)
			FROM api_keys WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL`, c.AccountID, id).Scan(&others)
		if errors.Is(err, pgx.ErrNoRows) {
			return keyNotFound()
		}
		if err != nil {
			return err
		}
		if others == 0 {
			return errkind.New(errkind.Conflict, "last_key", "this is the account's last active API key; create another one before revoking it")
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE account_id = $1 AND id = $2`, c.AccountID, id)
		return err
	})
}
