package postgres

import (
	"cmp"
	"context"
	"encoding/json"
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
		if err := storeDeliveryErrors(ctx, tx, r); err != nil {
			return err
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

// MaxDeliveryErrorsPerAccount is how many delivery errors are kept per
// account: ingest deletes the older ones.
const MaxDeliveryErrorsPerAccount = 100

// storeDeliveryErrors adds a report's delivery errors, in the transaction
// that records the report id (so a retried report adds them once). An
// error replaces the stored one for the same endpoint, path and status, so
// one failing image repeated by many requests or edges does not crowd out
// the rest; then only the newest MaxDeliveryErrorsPerAccount of each
// account touched are kept. Errors of deleted accounts are dropped.
func storeDeliveryErrors(ctx context.Context, tx pgx.Tx, r tenant.UsageReport) error {
	if len(r.Errors) == 0 {
		return nil
	}
	errs := slices.Clone(r.Errors)
	// Locks are taken account by account in the same order everywhere.
	slices.SortStableFunc(errs, func(a, b tenant.DeliveryError) int { return cmp.Compare(a.AccountID, b.AccountID) })
	n := len(errs)
	var (
		accounts  = make([]string, n)
		endpoints = make([]string, n)
		paths     = make([]string, n)
		statuses  = make([]int32, n)
		reasons   = make([]string, n)
		origins   = make([]string, n) // JSON arrays: text[] cannot be ragged
		times     = make([]time.Time, n)
	)
	for i, e := range errs {
		accounts[i], endpoints[i], paths[i], reasons[i] = e.AccountID, e.EndpointID, e.Path, e.Reason
		statuses[i] = int32(e.Status)
		ids := e.OriginIDs
		if ids == nil {
			ids = []string{}
		}
		b, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		origins[i] = string(b)
		times[i] = e.OccurredAt
	}
	_, err := tx.Exec(ctx, `
		WITH u AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[])
				WITH ORDINALITY AS u(account_id, endpoint_id, path, status, reason, origins, occurred_at, ord)
			WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = u.account_id)
		), replaced AS (
			DELETE FROM delivery_errors d USING u
			WHERE d.account_id = u.account_id AND d.endpoint_id = u.endpoint_id AND d.path = u.path
				AND d.status = u.status AND d.occurred_at <= u.occurred_at
		)
		INSERT INTO delivery_errors (account_id, endpoint_id, path, status, reason, origin_ids, occurred_at, node_id)
		SELECT u.account_id, u.endpoint_id, u.path, u.status, u.reason,
			ARRAY(SELECT jsonb_array_elements_text(u.origins::jsonb)), u.occurred_at, $8
		FROM u
		WHERE NOT EXISTS (SELECT 1 FROM delivery_errors d WHERE d.account_id = u.account_id
			AND d.endpoint_id = u.endpoint_id AND d.path = u.path AND d.status = u.status AND d.occurred_at > u.occurred_at)
		ORDER BY u.ord`,
		accounts, endpoints, paths, statuses, reasons, origins, times, r.NodeID)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		DELETE FROM delivery_errors d USING (
			SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY occurred_at DESC, id DESC) AS rank
			FROM delivery_errors WHERE account_id = ANY($1::text[])
		) old
		WHERE d.id = old.id AND old.rank > $2`, slices.Compact(accounts), MaxDeliveryErrorsPerAccount)
	return err
}

// DeliveryErrors implements tenant.DeliveryErrorService. The account's
// default endpoint is named tenant.DefaultEndpointID, as the endpoints API
// names it (edges know it by its real id).
func (db *DB) DeliveryErrors(ctx context.Context, c tenant.Caller, limit int) ([]tenant.DeliveryError, error) {
	out := []tenant.DeliveryError{}
	err := db.tenantRead(ctx, "read delivery errors", c, func(tx pgx.Tx, account string) error {
		rows, _ := tx.Query(ctx, `
			SELECT d.account_id,
				CASE WHEN EXISTS (SELECT 1 FROM url_endpoints e
					WHERE e.account_id = d.account_id AND e.id = d.endpoint_id AND e.url_prefix = '')
				THEN $3 ELSE d.endpoint_id END,
				d.path, d.status, d.reason, d.origin_ids, d.occurred_at, d.node_id
			FROM delivery_errors d WHERE d.account_id = $1 ORDER BY d.occurred_at DESC, d.id DESC LIMIT $2`,
			account, limit, tenant.DefaultEndpointID)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.DeliveryError, error) {
			var e tenant.DeliveryError
			err := r.Scan(&e.AccountID, &e.EndpointID, &e.Path, &e.Status, &e.Reason, &e.OriginIDs, &e.OccurredAt, &e.NodeID)
			e.OccurredAt = e.OccurredAt.UTC()
			return e, err
		})
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
