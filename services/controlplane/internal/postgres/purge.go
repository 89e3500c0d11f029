package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// edgeStaleAfter is how long an edge may stay silent and still count as
// connected for purge status. Streams refresh last_seen with every
// keepalive (15 s); a node whose control-plane replica died without
// marking it disconnected must not hold every purge pending forever.
const edgeStaleAfter = 2 * time.Minute

func otherAccountURL() error {
	return errkind.InvalidField("url", "url is not an image URL of this account: use http(s)://{edge host}/{accountId}/{path} or one of the account's custom domains")
}

// CreatePurge implements tenant.PurgeService. It resolves the URL the way
// an edge routes a request (DESIGN §3): a Host bound to a custom domain
// names the domain's endpoint; any other Host routes by path. The rule is
// stored with the config version its own write creates, so edges apply it
// to entries stored under any earlier version.
func (db *DB) CreatePurge(ctx context.Context, c tenant.Caller, u tenant.PurgeURL) (tenant.PurgeRequest, error) {
	const op = "create purge"
	if err := requireScope(op, c); err != nil {
		return tenant.PurgeRequest{}, err
	}
	// Other accounts' domains are invisible to the tenant role, yet a URL
	// on one must be refused rather than read as a path: ask as the system.
	var domainAccount, domainEndpoint string
	err := db.systemRead(ctx, op+": look up domain", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT account_id, endpoint_id FROM custom_domains WHERE domain = $1`, u.Host).Scan(&domainAccount, &domainEndpoint)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return tenant.PurgeRequest{}, err
	}
	if domainAccount != "" && domainAccount != c.AccountID {
		return tenant.PurgeRequest{}, otherAccountURL()
	}

	p := tenant.PurgeRequest{PurgeRule: tenant.PurgeRule{ID: tenant.NewID(), AccountID: c.AccountID}, URL: u.Raw}
	// The write bumps the version itself, first, to store it in the rule.
	err = db.mutate(ctx, op, c, &change{action: "purge.create", target: p.ID}, func(tx pgx.Tx) error {
		rest := strings.TrimPrefix(u.Path, "/")
		if domainAccount != "" {
			p.EndpointID = domainEndpoint
		} else {
			id, after, _ := strings.Cut(rest, "/")
			if id != c.AccountID {
				return otherAccountURL()
			}
			rest = after
			seg, tail, _ := strings.Cut(after, "/")
			err := tx.QueryRow(ctx, `SELECT id FROM url_endpoints WHERE account_id = $1 AND url_prefix = $2 AND $2 <> ''`,
				c.AccountID, seg).Scan(&p.EndpointID)
			switch {
			case err == nil:
				rest = tail
			case errors.Is(err, pgx.ErrNoRows):
				if err := tx.QueryRow(ctx, `SELECT id FROM url_endpoints WHERE account_id = $1 AND url_prefix = ''`, c.AccountID).Scan(&p.EndpointID); err != nil {
					return err
				}
			default:
				return err
			}
		}
		var err error
		if p.Path, p.Prefix, err = tenant.PurgePath(rest); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT bump_config_version()`).Scan(&p.Version); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO purge_requests (id, account_id, endpoint_id, url, path, is_prefix, config_version, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
			RETURNING created_at, expires_at`,
			p.ID, p.AccountID, p.EndpointID, p.URL, p.Path, p.Prefix, p.Version, tenant.PurgeTTL.Seconds(),
		).Scan(&p.CreatedAt, &p.ExpiresAt)
	})
	if err != nil {
		return tenant.PurgeRequest{}, err
	}
	return p, nil
}

// PurgeStatus implements tenant.PurgeService. The purge is read as the
// tenant (another account's request id is not found); the edges' progress
// is cross-tenant state, read as the system role.
func (db *DB) PurgeStatus(ctx context.Context, c tenant.Caller, id string) (string, error) {
	const op = "read purge status"
	var version uint64
	err := db.tenantRead(ctx, op, c, func(tx pgx.Tx, account string) error {
		err := tx.QueryRow(ctx, `SELECT config_version FROM purge_requests WHERE account_id = $1 AND id = $2`, account, id).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return errkind.New(errkind.NotFound, "purge_not_found", "no purge request with this id")
		}
		return err
	})
	if err != nil {
		return "", err
	}
	var behind int
	err = db.systemRead(ctx, op, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			SELECT count(*) FROM edge_nodes
			WHERE connected AND last_seen > now() - make_interval(secs => $2)
			  AND GREATEST(applied_version, last_ack_version) < $1`,
			version, edgeStaleAfter.Seconds()).Scan(&behind)
	})
	if err != nil {
		return "", err
	}
	if behind > 0 {
		return tenant.PurgePending, nil
	}
	return tenant.PurgeCompleted, nil
}

// PurgesPending counts purge requests that some live edge has not applied
// yet — the same rule as PurgeStatus, for every request at once (metrics).
// The config_version index keeps it a range count.
func (db *DB) PurgesPending(ctx context.Context) (int64, error) {
	var n int64
	err := db.systemRead(ctx, "count pending purges", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			SELECT count(*) FROM purge_requests
			WHERE config_version > (
				SELECT min(GREATEST(applied_version, last_ack_version)) FROM edge_nodes
				WHERE connected AND last_seen > now() - make_interval(secs => $1))`,
			edgeStaleAfter.Seconds()).Scan(&n)
	})
	return n, err
}
