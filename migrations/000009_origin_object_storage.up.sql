-- S3 and S3_COMPATIBLE origins (ImageKit's types of those names): a bucket
-- read through the S3 API with the origin's own credentials. Like
-- WEB_PROXY origins they have no base URL: base_url holds '' for them.
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check
    CHECK (type IN ('WEB_FOLDER', 'WEB_PROXY', 'S3', 'S3_COMPATIBLE'));

-- '' / false for every other type. prefix is stored without leading or
-- trailing '/'; endpoint and s3_force_path_style are S3_COMPATIBLE's.
ALTER TABLE origins ADD COLUMN bucket text NOT NULL DEFAULT '';
ALTER TABLE origins ADD COLUMN prefix text NOT NULL DEFAULT '';
ALTER TABLE origins ADD COLUMN access_key text NOT NULL DEFAULT '';
ALTER TABLE origins ADD COLUMN endpoint text NOT NULL DEFAULT '';
ALTER TABLE origins ADD COLUMN s3_force_path_style boolean NOT NULL DEFAULT false;

-- The secret access key, sealed (AES-256-GCM) under the master key by the
-- control plane as API keys are (api_keys.ciphertext), bound to the
-- origin's id: the database never holds it in the clear. NULL when the
-- origin has none, which only S3 and S3_COMPATIBLE origins never are.
ALTER TABLE origins ADD COLUMN secret_key_ciphertext bytea;
ALTER TABLE origins ADD CONSTRAINT origins_secret_key_check
    CHECK ((secret_key_ciphertext IS NOT NULL) = (type IN ('S3', 'S3_COMPATIBLE')));

-- Privileges: the tenant role's table-wide SELECT, INSERT, UPDATE and
-- DELETE on origins (000002) cover the new columns, and the row-level
-- policies (tenant_isolation, system_access) apply to whole rows. Tenant
-- requests need to read secret_key_ciphertext (an update without a new
-- secret keeps the stored one); it is as readable to them as
-- api_keys.ciphertext, and as useless without the master key.
