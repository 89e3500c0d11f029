-- Reverts 000009. The older schema cannot hold S3 or S3_COMPATIBLE
-- origins: they go, and first their places in URL-endpoints' origin lists
-- (the RESTRICT foreign key would refuse the delete). Edges learn of it
-- through a new config version, as after any config write.
DO $$
BEGIN
    DELETE FROM url_endpoint_origins eo USING origins o
        WHERE o.account_id = eo.account_id AND o.id = eo.origin_id AND o.type IN ('S3', 'S3_COMPATIBLE');
    DELETE FROM origins WHERE type IN ('S3', 'S3_COMPATIBLE');
    IF FOUND THEN
        PERFORM bump_config_version();
    END IF;
END $$;

ALTER TABLE origins DROP CONSTRAINT origins_secret_key_check;
ALTER TABLE origins DROP COLUMN secret_key_ciphertext;
ALTER TABLE origins DROP COLUMN s3_force_path_style;
ALTER TABLE origins DROP COLUMN endpoint;
ALTER TABLE origins DROP COLUMN access_key;
ALTER TABLE origins DROP COLUMN prefix;
ALTER TABLE origins DROP COLUMN bucket;
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check CHECK (type IN ('WEB_FOLDER', 'WEB_PROXY'));
