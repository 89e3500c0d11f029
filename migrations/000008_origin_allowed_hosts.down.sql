-- Reverts 000008. The older schema cannot hold WEB_PROXY origins: they go,
-- and first their places in URL-endpoints' origin lists (the RESTRICT
-- foreign key would refuse the delete). Edges learn of it through a new
-- config version, as after any config write.
DO $$
BEGIN
    DELETE FROM url_endpoint_origins eo USING origins o
        WHERE o.account_id = eo.account_id AND o.id = eo.origin_id AND o.type = 'WEB_PROXY';
    DELETE FROM origins WHERE type = 'WEB_PROXY';
    IF FOUND THEN
        PERFORM bump_config_version();
    END IF;
END $$;

ALTER TABLE origins DROP COLUMN allowed_hosts;
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check CHECK (type IN ('WEB_FOLDER'));
