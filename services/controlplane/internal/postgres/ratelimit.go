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

// loginSweep is how many rows of ended windows each new window deletes:
// more than one, so the sweep outpaces the windows that end.
const loginSweep = 16

// CountLoginAttempt implements tenant.LoginLimiter. The window starts at
// the email's first attempt, not on a clock boundary, so attempts cannot
// be doubled by straddling one. The attempt that opens a window also
// deletes a few rows of ended windows: the table stays about as large as
// the emails tried within one window, with no background job.
func (db *DB) CountLoginAttempt(ctx context.Context, digest []byte, window time.Duration) (int, time.Time, error) {
	var (
		attempts int
		reset    time.Time
	)
	err := db.systemWrite(ctx, "count login attempt", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO login_attempts AS l (email_digest, attempts, expires_at)
			VALUES ($1, 1, now() + make_interval(secs => $2))
			ON CONFLICT (email_digest) DO UPDATE SET
				attempts = CASE WHEN l.expires_at > now() THEN l.attempts + 1 ELSE 1 END,
				expires_at = CASE WHEN l.expires_at > now() THEN l.expires_at ELSE EXCLUDED.expires_at END
			RETURNING attempts, expires_at`,
			digest, window.Seconds()).Scan(&attempts, &reset)
		if err != nil || attempts > 1 {
			return err
		}
		// SKIP LOCKED: concurrent sweeps take different rows, never wait.
		_, err = tx.Exec(ctx, `
			DELETE FROM login_attempts WHERE email_digest IN (
				SELECT email_digest FROM login_attempts WHERE expires_at <= now()
				LIMIT $1 FOR UPDATE SKIP LOCKED)`, loginSweep)
		return err
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return attempts, reset, nil
}

// ForgiveLoginAttempt implements tenant.LoginLimiter.
func (db *DB) ForgiveLoginAttempt(ctx context.Context, digest []byte) error {
	return db.systemWrite(ctx, "forgive login attempt", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE login_attempts SET attempts = attempts - 1
			WHERE email_digest = $1 AND attempts > 0 AND expires_at > now()`, digest)
		return err
	})
}
