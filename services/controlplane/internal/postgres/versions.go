package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"pictor/services/internal/errkind"
)

// maxVersionJump bounds AdvanceVersion: far more config writes than a
// database restored from any backup can have lost, and far below where a
// bigint version could overflow, whatever an edge claims.
const maxVersionJump = 1 << 32

// AdvanceVersion moves the config version past `past` (to past+1) when it
// is not already beyond it, announces it like any config write, and
// returns the version in force afterwards. The configuration itself does
// not change.
//
// It exists for a database restored from a backup or replaced: edges then
// serve versions the database never reached, and since an edge ignores any
// version older than the one it applied, the database must move ahead of
// them for its (restored) configuration to reach them again.
func (db *DB) AdvanceVersion(ctx context.Context, past uint64) (uint64, error) {
	const op = "advance config version"
	var v uint64
	err := db.systemWrite(ctx, op, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM config_version FOR UPDATE`).Scan(&v); err != nil {
			return err
		}
		if v > past {
			return nil
		}
		if past-v > maxVersionJump {
			return errkind.New(errkind.Invalid, "version_jump_too_large",
				fmt.Sprintf("refusing to move config version %d to %d", v, past+1))
		}
		v = past + 1
		if _, err := tx.Exec(ctx, `UPDATE config_version SET version = $1, updated_at = now()`, v); err != nil {
			return err
		}
		// Every account counts as changed at v: an edge's config from
		// before (another history of this database) is then resumed
		// with every account, never with a delta that assumes it.
		if _, err := tx.Exec(ctx, `
			INSERT INTO account_versions (account_id, version) SELECT id, $1 FROM accounts
			ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version`, v); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE account_versions SET version = $1`, v); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ConfigChannel, strconv.FormatUint(v, 10))
		return err
	})
	return v, err
}

// AccountsChangedSince lists the accounts whose config changed after
// version v, deleted ones included (account_versions keeps a deleted
// account's row, stamped at its deletion).
func (db *DB) AccountsChangedSince(ctx context.Context, v uint64) ([]string, error) {
	var ids []string
	err := db.systemRead(ctx, "accounts changed since", func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT account_id FROM account_versions WHERE version > $1`, v)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return ids, err
}
