-- Reverts 000010. The older schema cannot hold AZURE_BLOB origins: they
-- go, and first their places in URL-endpoints' origin lists (the RESTRICT
-- foreign key would refuse the delete). Edges learn of it through a new
-- config version, as after any config write.
DO $$
BEGIN
    DELETE FROM url_endpoint_origins eo USING origins o
        WHERE o.account_id = eo.account_id AND o.id = eo.origin_id AND o.type = 'AZURE_BLOB';
    DELETE FROM origins WHERE type = 'AZURE_BLOB';
    IF FOUND THEN
        PERFORM bump_config_version();
    END IF;
END $$;

ALTER TABLE origins DROP CONSTRAINT origins_secret_key_check;
ALTER TABLE origins ADD CONSTRAINT origins_secret_key_check
    CHECK ((secret_key_ciphertext IS NOT NULL) = (type IN ('S3', 'S3_COMPATIBLE')));
ALTER TABLE origins DROP COLUMN account_name;
ALTER TABLE origins DROP COLUMN container;
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check CHECK (type IN ('WEB_FOLDER', 'WEB_PROXY', 'S3', 'S3_COMPATIBLE'));
