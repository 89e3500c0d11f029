-- Which accounts each config version changed, so the control plane builds
-- a version by reading those accounts alone instead of every tenant.
--
-- A trigger on every table an account's config lives in notes the account
-- in config_changes under the writing transaction; bump_config_version()
-- then stamps the accounts its transaction touched (and any left by a
-- finished transaction that never bumped) with the new version in
-- account_versions. Neither table holds tenant data beyond account ids;
-- tenants cannot read them.
CREATE TABLE config_changes (
    xid        xid8 NOT NULL,
    account_id text NOT NULL,
    PRIMARY KEY (xid, account_id)
);

CREATE TABLE account_versions (
    account_id text PRIMARY KEY,
    version    bigint NOT NULL
);
CREATE INDEX account_versions_version ON account_versions (version);

-- Row-level security as on every table keyed by account (000002). Tenants
-- get no privileges here at all; the functions below run as their owner,
-- which gets a policy of its own so they work when it is not a superuser.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['config_changes', 'account_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO pictor_app
            USING (account_id = current_setting(''pictor.account_id'', true))
            WITH CHECK (account_id = current_setting(''pictor.account_id'', true))', t);
        EXECUTE format('CREATE POLICY system_access ON %I TO pictor_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY definer_access ON %I TO %I USING (true) WITH CHECK (true)', t, current_user);
    END LOOP;
END $$;

CREATE FUNCTION note_config_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE account text;
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        account := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE
        account := CASE WHEN TG_OP = 'DELETE' THEN OLD.account_id ELSE NEW.account_id END;
    END IF;
    INSERT INTO config_changes (xid, account_id) VALUES (pg_current_xact_id(), account)
        ON CONFLICT DO NOTHING;
    -- A row moved to another account changes both. (Nested: PL/pgSQL
    -- evaluates every operand, and OLD has no account_id on accounts.)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME <> 'accounts' THEN
        IF OLD.account_id <> NEW.account_id THEN
            INSERT INTO config_changes (xid, account_id) VALUES (pg_current_xact_id(), OLD.account_id)
                ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION note_config_change() FROM PUBLIC;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'api_keys', 'origins', 'url_endpoints', 'url_endpoint_origins',
                             'custom_domains', 'named_transformations'] LOOP
        EXECUTE format('CREATE TRIGGER note_config_change AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION note_config_change()', t);
    END LOOP;
END $$;

-- Replacing the function resets its attributes: they are given again.
CREATE OR REPLACE FUNCTION bump_config_version() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE v bigint;
BEGIN
    UPDATE config_version SET version = version + 1, updated_at = now()
    WHERE singleton RETURNING version INTO v;
    -- This transaction's changes, and any a finished transaction left
    -- without bumping: a full build would have shown those too.
    WITH moved AS (
        DELETE FROM config_changes
        WHERE xid = pg_current_xact_id() OR xid < pg_snapshot_xmin(pg_current_snapshot())
        RETURNING account_id
    )
    INSERT INTO account_versions (account_id, version)
    SELECT DISTINCT account_id, v FROM moved
    ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version;
    PERFORM pg_notify('pictor_config', v::text);
    RETURN v;
END $$;
