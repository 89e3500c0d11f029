package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// FindKeyByDigest implements tenant.KeyService.
func (db *DB) FindKeyByDigest(ctx context.Context, digest []byte) (tenant.APIKey, error) {
	var k tenant.APIKey
	err := db.pool.QueryRow(ctx, `
		SELECT k.id, k.account_id, a.status, k.ciphertext
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.digest = $1 AND k.revoked_at IS NULL`, digest,
	).Scan(&k.ID, &k.AccountID, &k.AccountStatus, &k.Ciphertext)
	if errors.Is(err, pgx.ErrNoRows) {
		return tenant.APIKey{}, errkind.New(errkind.Unauthorized, "unknown_key", "invalid API key")
	}
	if err != nil {
		return tenant.APIKey{}, dbError("find API key", err)
	}
	return k, nil
}
