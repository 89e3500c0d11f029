package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
)

// Usage implements tenant.UsageService: the stored days in [from, to).
// Edges' reports land in usage_daily (config push and usage ingest); this
// only reads them, as the tenant.
func (db *DB) Usage(ctx context.Context, c tenant.Caller, from, to time.Time) ([]tenant.UsageDay, error) {
	out := []tenant.UsageDay{}
	err := db.tenantRead(ctx, "read usage", c, func(tx pgx.Tx, account string) error {
		rows, _ := tx.Query(ctx, `
			SELECT day, requests, bytes_out, hits_l1, hits_l2, misses, origin_fetches, transforms, status_4xx, status_5xx
			FROM usage_daily WHERE account_id = $1 AND day >= $2::date AND day < $3::date ORDER BY day`,
			account, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.UsageDay, error) {
			var d tenant.UsageDay
			err := r.Scan(&d.Day, &d.Requests, &d.BytesOut, &d.HitsL1, &d.HitsL2, &d.Misses, &d.OriginFetches,
				&d.Transforms, &d.Status4xx, &d.Status5xx)
			d.Day = time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, time.UTC)
			return d, err
		})
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
