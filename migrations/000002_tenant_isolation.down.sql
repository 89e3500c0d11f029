-- Reverts 000002 in this database. The roles themselves stay: they are
-- cluster-wide and other databases of the cluster may still use them.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'account_users', 'api_keys', 'origins', 'url_endpoints',
        'url_endpoint_origins', 'custom_domains', 'named_transformations', 'purge_requests',
        'usage_daily', 'audit_log']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS system_access ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END $$;

DROP TABLE api_rate_limits;
DROP TABLE sessions;

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM pictor_system;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM pictor_system;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM pictor_app, pictor_system;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM pictor_app, pictor_system;

ALTER FUNCTION bump_config_version() SECURITY INVOKER RESET search_path;
REVOKE EXECUTE ON FUNCTION bump_config_version() FROM pictor_app, pictor_system;
GRANT EXECUTE ON FUNCTION bump_config_version() TO PUBLIC;
