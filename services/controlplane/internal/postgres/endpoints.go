package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

func endpointNotFound() error {
	return errkind.New(errkind.NotFound, "url_endpoint_not_found", "no URL-endpoint with this id")
}

// readEndpoints returns the account's endpoints (id ""), or the one with
// id, which may be tenant.DefaultEndpointID. The default endpoint comes
// first, the others in creation order; domains are sorted.
func readEndpoints(ctx context.Context, tx pgx.Tx, account, id string) ([]tenant.URLEndpoint, error) {
	rows, _ := tx.Query(ctx, `
		SELECT e.id, e.account_id, e.description, e.url_prefix, e.restrict_unsigned_urls,
			e.cache_ttl_seconds, e.stale_grace_seconds, e.use_origin_cache_control,
			COALESCE((SELECT array_agg(origin_id ORDER BY position) FROM url_endpoint_origins WHERE endpoint_id = e.id), '{}'),
			COALESCE((SELECT array_agg(domain ORDER BY domain) FROM custom_domains WHERE endpoint_id = e.id), '{}')
		FROM url_endpoints e
		WHERE e.account_id = $1 AND ($2 = '' OR e.id = $2 OR ($2 = $3 AND e.url_prefix = ''))
		ORDER BY e.url_prefix <> '', e.created_at, e.id`, account, id, tenant.DefaultEndpointID)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.URLEndpoint, error) {
		var e tenant.URLEndpoint
		err := r.Scan(&e.ID, &e.AccountID, &e.Description, &e.URLPrefix, &e.RestrictUnsignedURLs,
			&e.CacheTTLSeconds, &e.StaleGraceSeconds, &e.UseOriginCacheControl, &e.OriginIDs, &e.CustomDomains)
		return e, err
	})
}

func readEndpoint(ctx context.Context, tx pgx.Tx, account, id string) (tenant.URLEndpoint, error) {
	list, err := readEndpoints(ctx, tx, account, id)
	if err != nil {
		return tenant.URLEndpoint{}, err
	}
	if len(list) != 1 {
		return tenant.URLEndpoint{}, endpointNotFound()
	}
	return list[0], nil
}

// ListEndpoints implements tenant.EndpointService.
func (db *DB) ListEndpoints(ctx context.Context, c tenant.Caller) ([]tenant.URLEndpoint, error) {
	out := []tenant.URLEndpoint{}
	err := db.tenantRead(ctx, "list URL-endpoints", c, func(tx pgx.Tx, account string) error {
		list, err := readEndpoints(ctx, tx, account, "")
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindEndpoint implements tenant.EndpointService.
func (db *DB) FindEndpoint(ctx context.Context, c tenant.Caller, id string) (tenant.URLEndpoint, error) {
	var e tenant.URLEndpoint
	err := db.tenantRead(ctx, "find URL-endpoint", c, func(tx pgx.Tx, account string) error {
		var err error
		e, err = readEndpoint(ctx, tx, account, id)
		return err
	})
	return e, err
}

// CreateEndpoint implements tenant.EndpointService.
func (db *DB) CreateEndpoint(ctx context.Context, c tenant.Caller, e tenant.URLEndpoint) (tenant.URLEndpoint, error) {
	const op = "create URL-endpoint"
	if err := requireScope(op, c); err != nil {
		return tenant.URLEndpoint{}, err
	}
	e.ID = tenant.NewID()
	var out tenant.URLEndpoint
	err := db.mutate(ctx, op, c, &change{action: "url_endpoint.create", target: e.ID, config: true}, func(tx pgx.Tx) error {
		if err := checkOriginsExist(ctx, tx, c.AccountID, e.OriginIDs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO url_endpoints (id, account_id, description, url_prefix, restrict_unsigned_urls)
			VALUES ($1, $2, $3, $4, $5)`,
			e.ID, c.AccountID, e.Description, e.URLPrefix, e.RestrictUnsignedURLs)
		if err := prefixConflict(err); err != nil {
			return err
		}
		if err := writeEndpointLists(ctx, tx, c.AccountID, e.ID, e.OriginIDs, e.CustomDomains); err != nil {
			return err
		}
		out, err = readEndpoint(ctx, tx, c.AccountID, e.ID)
		return err
	})
	return out, err
}

// UpdateEndpoint implements tenant.EndpointService.
func (db *DB) UpdateEndpoint(ctx context.Context, c tenant.Caller, id string, u tenant.EndpointUpdate) (tenant.URLEndpoint, error) {
	const op = "update URL-endpoint"
	if err := requireScope(op, c); err != nil {
		return tenant.URLEndpoint{}, err
	}
	var out tenant.URLEndpoint
	ch := &change{action: "url_endpoint.update", target: id, config: true}
	err := db.mutate(ctx, op, c, ch, func(tx pgx.Tx) error {
		cur, err := readEndpoint(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		ch.target = cur.ID
		prefix := cur.URLPrefix
		if u.URLPrefix != nil {
			prefix = *u.URLPrefix
		}
		switch {
		case cur.Default() && prefix != "":
			return errkind.InvalidField("urlPrefix", "the default URL-endpoint's prefix is always empty and cannot change")
		case !cur.Default():
			if err := tenant.CheckURLPrefix(prefix); err != nil {
				return err
			}
		}
		if err := checkOriginsExist(ctx, tx, c.AccountID, u.OriginIDs); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE url_endpoints SET description = $3, url_prefix = $4, restrict_unsigned_urls = $5, updated_at = now()
			WHERE account_id = $1 AND id = $2`,
			c.AccountID, cur.ID, u.Description, prefix, u.RestrictUnsignedURLs)
		if err := prefixConflict(err); err != nil {
			return err
		}
		for _, table := range []string{"url_endpoint_origins", "custom_domains"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE account_id = $1 AND endpoint_id = $2`, c.AccountID, cur.ID); err != nil {
				return err
			}
		}
		if err := writeEndpointLists(ctx, tx, c.AccountID, cur.ID, u.OriginIDs, u.CustomDomains); err != nil {
			return err
		}
		out, err = readEndpoint(ctx, tx, c.AccountID, cur.ID)
		return err
	})
	return out, err
}

// DeleteEndpoint implements tenant.EndpointService. The endpoint's origin
// list and domains go with it (foreign keys cascade); its origins stay.
func (db *DB) DeleteEndpoint(ctx context.Context, c tenant.Caller, id string) error {
	const op = "delete URL-endpoint"
	if err := requireScope(op, c); err != nil {
		return err
	}
	ch := &change{action: "url_endpoint.delete", target: id, config: true}
	return db.mutate(ctx, op, c, ch, func(tx pgx.Tx) error {
		cur, err := readEndpoint(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		ch.target = cur.ID
		if cur.Default() {
			return errkind.New(errkind.Conflict, "default_endpoint", "the default URL-endpoint cannot be deleted; change its origins instead")
		}
		_, err = tx.Exec(ctx, `DELETE FROM url_endpoints WHERE account_id = $1 AND id = $2`, c.AccountID, cur.ID)
		return err
	})
}

// checkOriginsExist refuses origin ids that are not the account's; under
// the tenant role another account's origins do not exist either way.
func checkOriginsExist(ctx context.Context, tx pgx.Tx, account string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, _ := tx.Query(ctx, `SELECT id FROM origins WHERE account_id = $1 AND id = ANY($2)`, account, ids)
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			return errkind.InvalidField("origins", "origins: no origin with id "+strconv.Quote(id))
		}
	}
	return nil
}

// writeEndpointLists stores an endpoint's ordered origins and its domains.
// Domains are inserted one by one so a conflict names the domain at fault.
func writeEndpointLists(ctx context.Context, tx pgx.Tx, account, endpointID string, origins, domains []string) error {
	for i, o := range origins {
		_, err := tx.Exec(ctx, `
			INSERT INTO url_endpoint_origins (account_id, endpoint_id, origin_id, position) VALUES ($1, $2, $3, $4)`,
			account, endpointID, o, i)
		if err != nil {
			return err
		}
	}
	for _, d := range domains {
		_, err := tx.Exec(ctx, `INSERT INTO custom_domains (domain, account_id, endpoint_id) VALUES ($1, $2, $3)`, d, account, endpointID)
		if code, _, ok := violation(err); ok && code == uniqueViolation {
			return &errkind.Error{Kind: errkind.Conflict, Reason: "domain_taken", Field: "customDomains",
				Msg: "customDomains: " + d + " is already bound to a URL-endpoint", Err: err}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prefixConflict turns the per-account prefix uniqueness violation into a
// conflict naming urlPrefix.
func prefixConflict(err error) error {
	if code, constraint, ok := violation(err); ok && code == uniqueViolation && constraint == "url_endpoints_account_id_url_prefix_key" {
		return &errkind.Error{Kind: errkind.Conflict, Reason: "prefix_taken", Field: "urlPrefix",
			Msg: "another URL-endpoint of this account already uses this urlPrefix", Err: err}
	}
	return err
}
