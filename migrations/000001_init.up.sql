-- One row, one number: the config version every edge converges on. Every
-- config write bumps it in its own transaction (see bump_config_version).
CREATE TABLE config_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO config_version (singleton, version) VALUES (true, 1);

-- bump_config_version raises the version and announces it on the
-- 'pictor_config' channel. NOTIFY is delivered at commit, so listeners never
-- see a version whose data is not yet visible.
CREATE FUNCTION bump_config_version() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
    UPDATE config_version SET version = version + 1, updated_at = now()
    WHERE singleton RETURNING version INTO v;
    PERFORM pg_notify('pictor_config', v::text);
    RETURN v;
END $$;

CREATE TABLE accounts (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{1,39}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    owner_email     text NOT NULL CHECK (length(owner_email) BETWEEN 3 AND 320),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    avif_enabled    boolean NOT NULL DEFAULT false,
    default_quality integer NOT NULL DEFAULT 80 CHECK (default_quality BETWEEN 1 AND 100),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Dashboard users; one owner per account for now.
CREATE TABLE account_users (
    id            text PRIMARY KEY,
    account_id    text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email         text NOT NULL,
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX account_users_email ON account_users (lower(email));

-- Private API keys. Edges need the key itself to verify URL signatures, so it
-- is kept encrypted (AES-GCM under PICTOR_MASTER_KEY); the SHA-256 digest
-- finds a key from an API request without decrypting anything.
CREATE TABLE api_keys (
    id             text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name           text NOT NULL DEFAULT '',
    display_prefix text NOT NULL,
    digest         bytea NOT NULL UNIQUE,
    ciphertext     bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE origins (
    id                            text PRIMARY KEY,
    account_id                    text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type                          text NOT NULL CHECK (type IN ('WEB_FOLDER')),
    name                          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_url                      text NOT NULL,
    forward_host_header_to_origin boolean NOT NULL DEFAULT false,
    include_canonical_header      boolean NOT NULL DEFAULT false,
    base_url_for_canonical_header text NOT NULL DEFAULT '',
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, id)
);

CREATE TABLE url_endpoints (
    id                       text PRIMARY KEY,
    account_id               text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    description              text NOT NULL DEFAULT '',
    url_prefix               text NOT NULL DEFAULT '' CHECK (url_prefix ~ '^[A-Za-z0-9-]*$'),
    restrict_unsigned_urls   boolean NOT NULL DEFAULT false,
    cache_ttl_seconds        bigint NOT NULL DEFAULT 0,
    stale_grace_seconds      bigint NOT NULL DEFAULT 0,
    use_origin_cache_control boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, url_prefix),
    UNIQUE (account_id, id)
);

-- The ordered origin preference list of an endpoint. The composite foreign
-- keys keep an endpoint from naming another account's origin, and RESTRICT
-- keeps an origin in use from being deleted.
CREATE TABLE url_endpoint_origins (
    account_id  text NOT NULL,
    endpoint_id text NOT NULL,
    origin_id   text NOT NULL,
    position    integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (endpoint_id, position),
    UNIQUE (endpoint_id, origin_id),
    FOREIGN KEY (account_id, endpoint_id) REFERENCES url_endpoints (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, origin_id) REFERENCES origins (account_id, id) ON DELETE RESTRICT
);

-- Custom domains are unique across every account: the Host header alone
-- picks the tenant.
CREATE TABLE custom_domains (
    domain      text PRIMARY KEY CHECK (domain = lower(domain)),
    account_id  text NOT NULL,
    endpoint_id text NOT NULL,
    FOREIGN KEY (account_id, endpoint_id) REFERENCES url_endpoints (account_id, id) ON DELETE CASCADE
);

CREATE TABLE named_transformations (
    id             text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name           text NOT NULL,
    transformation text NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

-- Purge requests become rules carried in the config stream from the version
-- that introduced them; status is derived from the edges' ACKs.
CREATE TABLE purge_requests (
    id             text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id    text NOT NULL,
    url            text NOT NULL,
    path           text NOT NULL,
    is_prefix      boolean NOT NULL DEFAULT false,
    config_version bigint NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX purge_requests_version ON purge_requests (config_version);

CREATE TABLE usage_daily (
    account_id     text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day            date NOT NULL,
    requests       bigint NOT NULL DEFAULT 0,
    bytes_out      bigint NOT NULL DEFAULT 0,
    hits_l1        bigint NOT NULL DEFAULT 0,
    hits_l2        bigint NOT NULL DEFAULT 0,
    misses         bigint NOT NULL DEFAULT 0,
    origin_fetches bigint NOT NULL DEFAULT 0,
    transforms     bigint NOT NULL DEFAULT 0,
    status_4xx     bigint NOT NULL DEFAULT 0,
    status_5xx     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);

-- Report ids already counted, so a retried usage report is not counted twice.
CREATE TABLE usage_reports (
    report_id   text PRIMARY KEY,
    node_id     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edge_nodes (
    node_id          text PRIMARY KEY,
    edge_group       text NOT NULL DEFAULT '',
    applied_version  bigint NOT NULL DEFAULT 0,
    last_ack_version bigint NOT NULL DEFAULT 0,
    last_nack_version bigint NOT NULL DEFAULT 0,
    last_nack_detail text NOT NULL DEFAULT '',
    connected        boolean NOT NULL DEFAULT false,
    replica_id       text NOT NULL DEFAULT '',
    last_seen        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    actor      text NOT NULL,
    account_id text,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_account ON audit_log (account_id, created_at);
