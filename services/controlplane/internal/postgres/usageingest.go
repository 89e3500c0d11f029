package postgres

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
)

// IngestUsage adds an edge's usage report to the daily totals unless its
// id was counted before, and reports whether it was. The id is recorded in
// the same transaction as the counters, so a report counts once or not at
// all, whatever fails and however often the edge retries: two replicas
// ingesting one report at once serialise on the id's unique index, and the
// second finds it taken. Rows for accounts deleted since the edge served
// them are dropped (the account's usage went with it). It runs as the
// system role: one report carries many accounts.
func (db *DB) IngestUsage(ctx context.Context, r tenant.UsageReport) (duplicate bool, err error) {
	rows := slices.Clone(r.Rows)
	// Upserts lock their rows in this order in every transaction, so two
	// reports touching the same accounts cannot deadlock.
	slices.SortFunc(rows, func(a, b tenant.AccountUsage) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), a.Day.Compare(b.Day))
	})
	n := len(rows)
	var (
		accounts = make([]string, n)
		days     = make([]string, n)
		counts   = [9][]int64{}
	)
	for i := range counts {
		counts[i] = make([]int64, n)
	}
	for i, u := range rows {
		accounts[i] = u.AccountID
		days[i] = u.Day.UTC().Format(time.DateOnly)
		for j, v := range []int64{u.Requests, u.BytesOut, u.HitsL1, u.HitsL2, u.Misses,
			u.OriginFetches, u.Transforms, u.Status4xx, u.Status5xx} {
			counts[j][i] = v
		}
	}
	err = db.systemWrite(ctx, "ingest usage report", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO usage_reports (report_id, node_id) VALUES ($1, $2)
			ON CONFLICT (report_id) DO NOTHING`, r.ID, r.NodeID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			duplicate = true
			return nil
		}
		if n == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO usage_daily AS d (account_id, day, requests, bytes_out, hits_l1, hits_l2, misses,
				origin_fetches, transforms, status_4xx, status_5xx)
			SELECT u.account_id, u.day::date, u.requests, u.bytes_out, u.hits_l1, u.hits_l2, u.misses,
				u.origin_fetches, u.transforms, u.status_4xx, u.status_5xx
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
				$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[]) WITH ORDINALITY
				AS u(account_id, day, requests, bytes_out, hits_l1, hits_l2, misses,
					origin_fetches, transforms, status_4xx, status_5xx, ord)
			WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = u.account_id)
			ORDER BY u.ord
			ON CONFLICT (account_id, day) DO UPDATE SET
				requests = d.requests + EXCLUDED.requests,
				bytes_out = d.bytes_out + EXCLUDED.bytes_out,
				hits_l1 = d.hits_l1 + EXCLUDED.hits_l1,
				hits_l2 = d.hits_l2 + EXCLUDED.hits_l2,
				misses = d.misses + EXCLUDED.misses,
				origin_fetches = d.origin_fetches + EXCLUDED.origin_fetches,
				transforms = d.transforms + EXCLUDED.transforms,
				status_4xx = d.status_4xx + EXCLUDED.status_4xx,
				status_5xx = d.status_5xx + EXCLUDED.status_5xx`,
			accounts, days, counts[0], counts[1], counts[2], counts[3], counts[4],
			counts[5], counts[6], counts[7], counts[8])
		return err
	})
	return duplicate, err
}

// PruneUsageReports forgets report ids received before olderThan ago, in
// batches, and returns how many it removed. An edge retries a report only
// while its control plane is unreachable, so ids older than any outage an
// edge survives are never asked about again.
func (db *DB) PruneUsageReports(ctx context.Context, olderThan time.Duration) (int64, error) {
	const batch = 10000
	var total int64
	for {
		var n int64
		err := db.systemWrite(ctx, "prune usage report ids", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `
				DELETE FROM usage_reports WHERE report_id IN (
					SELECT report_id FROM usage_reports
					WHERE received_at < now() - make_interval(secs => $1)
					LIMIT $2)`, olderThan.Seconds(), batch)
			n = tag.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
