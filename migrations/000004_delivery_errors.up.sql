-- Recent delivery errors the edges report with their usage (the dashboard's
-- "Not-found help" page): diagnostic data, at most 100 rows per account
-- (usage ingest deletes older ones), one row per endpoint, path and status
-- (the newest). Paths are escaped image paths as requested, without query.
CREATE TABLE delivery_errors (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id text NOT NULL,
    path        text NOT NULL,
    status      integer NOT NULL,
    reason      text NOT NULL,
    -- The endpoint's origins in the order the edge tried them (ids; an
    -- origin may have been deleted since).
    origin_ids  text[] NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    node_id     text NOT NULL
);
CREATE INDEX delivery_errors_account_occurred ON delivery_errors (account_id, occurred_at DESC);

-- Tenants only read them; usage ingest (the system role) writes them.
GRANT SELECT ON delivery_errors TO pictor_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_errors TO pictor_system;

-- Row-level security as for every table with account data (000002).
ALTER TABLE delivery_errors ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_errors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON delivery_errors TO pictor_app
    USING (account_id = current_setting('pictor.account_id', true))
    WITH CHECK (account_id = current_setting('pictor.account_id', true));
CREATE POLICY system_access ON delivery_errors TO pictor_system USING (true) WITH CHECK (true);
