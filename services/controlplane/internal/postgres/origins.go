package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

const originColumns = `id, account_id, type, name, base_url, forward_host_header_to_origin,
	include_canonical_header, base_url_for_canonical_header, allowed_hosts, created_at, updated_at`

func scanOrigin(row pgx.Row) (tenant.Origin, error) {
	var o tenant.Origin
	err := row.Scan(&o.ID, &o.AccountID, &o.Type, &o.Name, &o.BaseURL, &o.ForwardHostHeaderToOrigin,
		&o.IncludeCanonicalHeader, &o.BaseURLForCanonicalHeader, &o.AllowedHosts, &o.CreatedAt, &o.UpdatedAt)
	return o, err
}

// allowedHosts is what the allowed_hosts column stores for hosts: pgx
// sends a nil slice as NULL, which the column refuses, and "no hosts" has
// one spelling, '{}'.
func allowedHosts(hosts []string) []string {
	if hosts == nil {
		return []string{}
	}
	return hosts
}

func originNotFound() error {
	return errkind.New(errkind.NotFound, "origin_not_found", "no origin with this id")
}

// ListOrigins implements tenant.OriginService.
func (db *DB) ListOrigins(ctx context.Context, c tenant.Caller) ([]tenant.Origin, error) {
	out := []tenant.Origin{}
	err := db.tenantRead(ctx, "list origins", c, func(tx pgx.Tx, account string) error {
		rows, _ := tx.Query(ctx, `SELECT `+originColumns+` FROM origins WHERE account_id = $1 ORDER BY created_at, id`, account)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.Origin, error) { return scanOrigin(r) })
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindOrigin implements tenant.OriginService. Another account's origin is
// simply not found.
func (db *DB) FindOrigin(ctx context.Context, c tenant.Caller, id string) (tenant.Origin, error) {
	var o tenant.Origin
	err := db.tenantRead(ctx, "find origin", c, func(tx pgx.Tx, account string) error {
		var err error
		o, err = scanOrigin(tx.QueryRow(ctx, `SELECT `+originColumns+` FROM origins WHERE account_id = $1 AND id = $2`, account, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return originNotFound()
		}
		return err
	})
	return o, err
}

// CreateOrigin implements tenant.OriginService. When the account had no
// origin before, the new one is appended to its default URL-endpoint, in
// the same transaction, so the account can serve images at once.
func (db *DB) CreateOrigin(ctx context.Context, c tenant.Caller, o tenant.Origin) (tenant.Origin, error) {
	const op = "create origin"
	if err := requireScope(op, c); err != nil {
		return tenant.Origin{}, err
	}
	o.ID = tenant.NewID()
	o.AccountID = c.AccountID
	err := db.mutate(ctx, op, c, &change{action: "origin.create", target: o.ID, config: true}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO origins (id, account_id, type, name, base_url, forward_host_header_to_origin,
				include_canonical_header, base_url_for_canonical_header, allowed_hosts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			RETURNING allowed_hosts, created_at, updated_at`,
			o.ID, o.AccountID, o.Type, o.Name, o.BaseURL, o.ForwardHostHeaderToOrigin,
			o.IncludeCanonicalHeader, o.BaseURLForCanonicalHeader, allowedHosts(o.AllowedHosts),
		).Scan(&o.AllowedHosts, &o.CreatedAt, &o.UpdatedAt)
		if err != nil {
			return err
		}
		// The account row is locked (mutate), so "no other origin"
		// cannot race with a concurrent create.
		_, err = tx.Exec(ctx, `
			INSERT INTO url_endpoint_origins (account_id, endpoint_id, origin_id, position)
			SELECT e.account_id, e.id, $2,
				COALESCE((SELECT max(position) + 1 FROM url_endpoint_origins WHERE endpoint_id = e.id), 0)
			FROM url_endpoints e
			WHERE e.account_id = $1 AND e.url_prefix = ''
			  AND NOT EXISTS (SELECT 1 FROM origins WHERE account_id = $1 AND id <> $2)`,
			o.AccountID, o.ID)
		return err
	})
	if err != nil {
		return tenant.Origin{}, err
	}
	return o, nil
}

// UpdateOrigin implements tenant.OriginService: every field is replaced.
func (db *DB) UpdateOrigin(ctx context.Context, c tenant.Caller, o tenant.Origin) (tenant.Origin, error) {
	const op = "update origin"
	if err := requireScope(op, c); err != nil {
		return tenant.Origin{}, err
	}
	o.AccountID = c.AccountID
	err := db.mutate(ctx, op, c, &change{action: "origin.update", target: o.ID, config: true}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE origins SET type = $3, name = $4, base_url = $5, forward_host_header_to_origin = $6,
				include_canonical_header = $7, base_url_for_canonical_header = $8, allowed_hosts = $9,
				updated_at = now()
			WHERE account_id = $1 AND id = $2
			RETURNING allowed_hosts, created_at, updated_at`,
			o.AccountID, o.ID, o.Type, o.Name, o.BaseURL, o.ForwardHostHeaderToOrigin,
			o.IncludeCanonicalHeader, o.BaseURLForCanonicalHeader, allowedHosts(o.AllowedHosts),
		).Scan(&o.AllowedHosts, &o.CreatedAt, &o.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return originNotFound()
		}
		return err
	})
	if err != nil {
		return tenant.Origin{}, err
	}
	return o, nil
}

// DeleteOrigin implements tenant.OriginService.
func (db *DB) DeleteOrigin(ctx context.Context, c tenant.Caller, id string) error {
	const op = "delete origin"
	if err := requireScope(op, c); err != nil {
		return err
	}
	account := c.AccountID
	return db.mutate(ctx, op, c, &change{action: "origin.delete", target: id, config: true}, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM origins WHERE account_id = $1 AND id = $2)`, account, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return originNotFound()
		}
		// Named as the API names them: the default endpoint is "default".
		rows, _ := tx.Query(ctx, `
			SELECT DISTINCT CASE WHEN e.url_prefix = '' THEN $3 ELSE e.id END
			FROM url_endpoint_origins eo JOIN url_endpoints e ON e.id = eo.endpoint_id
			WHERE eo.account_id = $1 AND eo.origin_id = $2 ORDER BY 1`, account, id, tenant.DefaultEndpointID)
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errkind.New(errkind.Conflict, "origin_in_use",
				"origin is used by URL-endpoint(s) "+strings.Join(users, ", ")+"; remove it from them first")
		}
		_, err = tx.Exec(ctx, `DELETE FROM origins WHERE account_id = $1 AND id = $2`, account, id)
		if code, _, ok := violation(err); ok && code == foreignKeyViolation {
			// An endpoint started using it since the check above.
			return errkind.Wrap(errkind.Conflict, "origin_in_use", "origin is used by a URL-endpoint; remove it from it first", err)
		}
		return err
	})
}
