-- Tenant isolation in the database itself (DESIGN §8, RELIABILITY E.38):
-- the queries of the API already filter by account, and row-level security
-- makes a query that forgets to do so see and change nothing of another
-- account.
--
-- Two roles, neither of which can log in or owns anything:
--   pictor_app     runs every tenant request. Its policies admit only rows
--                  whose account is the one in the transaction-local setting
--                  pictor.account_id; it has no BYPASSRLS and only the
--                  privileges the account API needs.
--   pictor_system  runs cross-tenant work: the snapshot builder, the admin
--                  API, key and session look-up, usage ingest, purge status,
--                  edge bookkeeping. Its policies admit every row.
-- The control plane connects as some login role that is a member of both and
-- begins every transaction with SET LOCAL ROLE (set_config('role', ..., true)).
-- Every table holding account data is FORCE ROW LEVEL SECURITY, so even the
-- table owner sees nothing without one of those roles (superusers still
-- bypass RLS: they are the migrator and the dev stack, never the tenant role).
-- The best production set-up is a NOINHERIT login role that is a member of
-- both roles and has no privilege of its own: a query that forgot to pick a
-- role then fails instead of running with the login's rights.
--
-- Roles are cluster-wide while migrations are per database: create them only
-- when missing (several databases may share a cluster, and two migrations
-- may race: a lost race is unique_violation), and leave them in place on the
-- way down.
DO $$
BEGIN
    BEGIN
        CREATE ROLE pictor_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE pictor_system NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END $$;

-- The migrating role is the one the control plane usually connects as (the
-- dev stack's postgres); it must be able to SET ROLE to both.
GRANT pictor_app, pictor_system TO CURRENT_USER;

-- Dashboard sessions: the cookie holds a random id, the table only its
-- SHA-256, so a database dump yields no usable session.
CREATE TABLE sessions (
    id_hash    bytea PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES account_users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Fixed-window request counters, one row per account and bucket ("api",
-- "login"), shared by every control-plane replica. The row is overwritten
-- when a new window starts, so the table never grows past one row per
-- account and bucket.
CREATE TABLE api_rate_limits (
    account_id   text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (account_id, bucket)
);

-- bump_config_version runs with its owner's rights, so the tenant role needs
-- no UPDATE on config_version: it can move the version forward, not set it.
ALTER FUNCTION bump_config_version() SECURITY DEFINER SET search_path FROM CURRENT;
REVOKE EXECUTE ON FUNCTION bump_config_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bump_config_version() TO pictor_app, pictor_system;

-- What a tenant request may do. Accounts: read its own row, change only its
-- settings (never its status; UPDATE on some column is also what lets a
-- write lock the account row). Keys: create and revoke, never rewrite a
-- secret. Purges: create and read. Usage: read. Audit: append only.
GRANT SELECT ON accounts TO pictor_app;
GRANT UPDATE (name, avif_enabled, default_quality, updated_at) ON accounts TO pictor_app;
GRANT SELECT ON account_users TO pictor_app;
GRANT SELECT, INSERT ON api_keys TO pictor_app;
GRANT UPDATE (name, revoked_at) ON api_keys TO pictor_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON origins, url_endpoints, url_endpoint_origins,
    custom_domains, named_transformations TO pictor_app;
GRANT SELECT, INSERT ON purge_requests TO pictor_app;
GRANT SELECT ON usage_daily TO pictor_app;
GRANT INSERT ON audit_log TO pictor_app;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO pictor_app;
GRANT SELECT ON config_version TO pictor_app;

-- The system role reads and writes everything, including tables later
-- migrations create (default privileges of the migrating role).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pictor_system;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO pictor_system;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pictor_system;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO pictor_system;

-- Row-level security on every table with account data. accounts is keyed by
-- id, every other table by account_id. A test fails when a table with an
-- account_id column lacks RLS, FORCE or a policy, so later migrations cannot
-- forget one.
DO $$
DECLARE
    t   text;
    col text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'account_users', 'api_keys', 'origins', 'url_endpoints',
        'url_endpoint_origins', 'custom_domains', 'named_transformations', 'purge_requests',
        'usage_daily', 'audit_log', 'sessions', 'api_rate_limits']
    LOOP
        col := CASE WHEN t = 'accounts' THEN 'id' ELSE 'account_id' END;
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO pictor_app
            USING (%I = current_setting(''pictor.account_id'', true))
            WITH CHECK (%I = current_setting(''pictor.account_id'', true))', t, col, col);
        EXECUTE format('CREATE POLICY system_access ON %I TO pictor_system USING (true) WITH CHECK (true)', t);
    END LOOP;
END $$;
