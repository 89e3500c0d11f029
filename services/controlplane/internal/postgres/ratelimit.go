package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hit implements tenant.RateLimiter with a fixed-window counter in
// Postgres, which every control-plane replica shares (an in-process
// limiter would let N replicas admit N times the limit). One UPSERT per
// request: the row restarts at 1 when a new window begins. Windows are
// aligned on the database clock, so replicas with skewed clocks agree.
func (db *DB) Hit(ctx context.Context, account, bucket string, window time.Duration) (int, time.Time, error) {
	var (
		hits  int
		start time.Time
	)
	secs := window.Seconds()
	err := db.systemWrite(ctx, "count API request", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO api_rate_limits AS r (account_id, bucket, window_start, hits)
			VALUES ($1, $2, to_timestamp(floor(extract(epoch FROM now()) / $3) * $3), 1)
			ON CONFLICT (account_id, bucket) DO UPDATE SET
				hits = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.hits + 1 ELSE 1 END,
				window_start = EXCLUDED.window_start
			RETURNING hits, window_start`,
			account, bucket, secs).Scan(&hits, &start)
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return hits, start.Add(window), nil
}
