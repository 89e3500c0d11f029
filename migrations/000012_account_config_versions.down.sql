CREATE OR REPLACE FUNCTION bump_config_version() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE v bigint;
BEGIN
    UPDATE config_version SET version = version + 1, updated_at = now()
    WHERE singleton RETURNING version INTO v;
    PERFORM pg_notify('pictor_config', v::text);
    RETURN v;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'api_keys', 'origins', 'url_endpoints', 'url_endpoint_origins',
                             'custom_domains', 'named_transformations'] LOOP
        EXECUTE format('DROP TRIGGER note_config_change ON %I', t);
    END LOOP;
END $$;
DROP FUNCTION note_config_change();
DROP TABLE account_versions;
DROP TABLE config_changes;
