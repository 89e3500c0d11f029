package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// originColumns are what tenant reads of an origin: never the sealed
// secret, which only the snapshot source reads (originColumnsWithSecret).
const originColumns = `id, account_id, type, name, base_url, forward_host_header_to_origin,
	include_canonical_header, base_url_for_canonical_header, allowed_hosts,
	bucket, prefix, access_key, endpoint, s3_force_path_style, container, account_name,
	created_at, updated_at`

const originColumnsWithSecret = originColumns + `, secret_key_ciphertext`

func originFields(o *tenant.Origin) []any {
	return []any{&o.ID, &o.AccountID, &o.Type, &o.Name, &o.BaseURL, &o.ForwardHostHeaderToOrigin,
		&o.IncludeCanonicalHeader, &o.BaseURLForCanonicalHeader, &o.AllowedHosts,
		&o.Bucket, &o.Prefix, &o.AccessKey, &o.Endpoint, &o.S3ForcePathStyle, &o.Container, &o.AccountName,
		&o.CreatedAt, &o.UpdatedAt}
}

func scanOrigin(row pgx.Row) (tenant.Origin, error) {
	var o tenant.Origin
	err := row.Scan(originFields(&o)...)
	return o, err
}

// scanOriginWithSecret also reads the sealed secret (secret key or SAS
// token), for the snapshot.
func scanOriginWithSecret(row pgx.Row) (tenant.Origin, error) {
	var o tenant.Origin
	err := row.Scan(append(originFields(&o), &o.SecretKeyCiphertext)...)
	return o, err
}

// checkOriginSecret keeps storage's side of the secret-key contract: the
// caller seals the secret (tenant.Origin.SecretKeyCiphertext) and storage
// never receives it in the clear; only S3, S3_COMPATIBLE and AZURE_BLOB
// origins carry one (tenant.HasSecret).
func checkOriginSecret(op string, o tenant.Origin) error {
	if o.SecretKey != "" || o.SASToken != "" {
		return errkind.New(errkind.Internal, "unsealed_secret", op+": an origin secret reached storage unsealed")
	}
	if o.SecretKeyCiphertext != nil && !tenant.HasSecret(o.Type) {
		return errkind.New(errkind.Internal, "unexpected_secret", op+": a "+o.Type+" origin has no secret")
	}
	return nil
}

// secretField is the API's name for the secret of an origin of type t.
func secretField(t string) string {
	if t == tenant.OriginAzureBlob {
		return "sasToken"
	}
	return "secretKey"
}

func secretRequired(t string) error {
	return errkind.InvalidField(secretField(t), secretField(t)+" is required")
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

// FindOriginSecret implements tenant.OriginService.
func (db *DB) FindOriginSecret(ctx context.Context, c tenant.Caller, id string) (tenant.Origin, error) {
	var o tenant.Origin
	err := db.tenantRead(ctx, "find origin secret", c, func(tx pgx.Tx, account string) error {
		var err error
		o, err = scanOriginWithSecret(tx.QueryRow(ctx, `SELECT `+originColumnsWithSecret+` FROM origins WHERE account_id = $1 AND id = $2`, account, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return originNotFound()
		}
		return err
	})
	return o, err
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
	if err := checkOriginSecret(op, o); err != nil {
		return tenant.Origin{}, err
	}
	if tenant.HasSecret(o.Type) && o.SecretKeyCiphertext == nil {
		return tenant.Origin{}, secretRequired(o.Type)
	}
	// The caller may choose the id: a secret is sealed for the id of the
	// origin it belongs to, so it must be known before storage.
	if o.ID == "" {
		o.ID = tenant.NewID()
	}
	o.AccountID = c.AccountID
	err := db.mutate(ctx, op, c, &change{action: "origin.create", target: o.ID, config: true}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO origins (id, account_id, type, name, base_url, forward_host_header_to_origin,
				include_canonical_header, base_url_for_canonical_header, allowed_hosts,
				bucket, prefix, access_key, endpoint, s3_force_path_style, secret_key_ciphertext,
				container, account_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			RETURNING allowed_hosts, created_at, updated_at`,
			o.ID, o.AccountID, o.Type, o.Name, o.BaseURL, o.ForwardHostHeaderToOrigin,
			o.IncludeCanonicalHeader, o.BaseURLForCanonicalHeader, allowedHosts(o.AllowedHosts),
			o.Bucket, o.Prefix, o.AccessKey, o.Endpoint, o.S3ForcePathStyle, o.SecretKeyCiphertext,
			o.Container, o.AccountName,
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
	o.SecretKeyCiphertext = nil // what tenant reads never holds it
	return o, nil
}

// UpdateOrigin implements tenant.OriginService: every field is replaced,
// except the secret of an origin that has one (tenant.HasSecret) when
// o.SecretKeyCiphertext is nil, which keeps the stored one if it is of the
// same kind (tenant.SameSecretKind: the type may change between S3 and
// S3_COMPATIBLE, but an S3 secret key is no SAS token). Any other type
// drops it.
func (db *DB) UpdateOrigin(ctx context.Context, c tenant.Caller, o tenant.Origin) (tenant.Origin, error) {
	const op = "update origin"
	if err := requireScope(op, c); err != nil {
		return tenant.Origin{}, err
	}
	if err := checkOriginSecret(op, o); err != nil {
		return tenant.Origin{}, err
	}
	o.AccountID = c.AccountID
	err := db.mutate(ctx, op, c, &change{action: "origin.update", target: o.ID, config: true}, func(tx pgx.Tx) error {
		if tenant.HasSecret(o.Type) && o.SecretKeyCiphertext == nil {
			// Keep the stored secret; there must be one, of the same kind
			// (the origin may be turning into a bucket or a container
			// now). The account row is locked (mutate), so it cannot
			// change before the UPDATE.
			var stored bool
			var storedType string
			err := tx.QueryRow(ctx, `SELECT secret_key_ciphertext IS NOT NULL, type FROM origins WHERE account_id = $1 AND id = $2`,
				o.AccountID, o.ID).Scan(&stored, &storedType)
			if errors.Is(err, pgx.ErrNoRows) {
				return originNotFound()
			}
			if err != nil {
				return err
			}
			if !stored || !tenant.SameSecretKind(storedType, o.Type) {
				f := secretField(o.Type)
				return errkind.InvalidField(f, f+" is required: the origin has no stored "+f+" to keep")
			}
		}
		err := tx.QueryRow(ctx, `
			UPDATE origins SET type = $3, name = $4, base_url = $5, forward_host_header_to_origin = $6,
				include_canonical_header = $7, base_url_for_canonical_header = $8, allowed_hosts = $9,
				bucket = $10, prefix = $11, access_key = $12, endpoint = $13, s3_force_path_style = $14,
				secret_key_ciphertext = CASE WHEN $3 IN ('S3', 'S3_COMPATIBLE', 'AZURE_BLOB')
					THEN COALESCE($15, secret_key_ciphertext) END,
				container = $16, account_name = $17,
				updated_at = now()
			WHERE account_id = $1 AND id = $2
			RETURNING allowed_hosts, created_at, updated_at`,
			o.AccountID, o.ID, o.Type, o.Name, o.BaseURL, o.ForwardHostHeaderToOrigin,
			o.IncludeCanonicalHeader, o.BaseURLForCanonicalHeader, allowedHosts(o.AllowedHosts),
			o.Bucket, o.Prefix, o.AccessKey, o.Endpoint, o.S3ForcePathStyle, o.SecretKeyCiphertext,
			o.Container, o.AccountName,
		).Scan(&o.AllowedHosts, &o.CreatedAt, &o.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return originNotFound()
		}
		return err
	})
	if err != nil {
		return tenant.Origin{}, err
	}
	o.SecretKeyCiphertext = nil
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
