-- AZURE_BLOB origins (ImageKit's type of that name): a container of an
-- Azure storage account, read with the origin's SAS token. Like S3 origins
-- they have no base URL (base_url holds '') and may have a blob name
-- prefix (the prefix column of 000009).
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check
    CHECK (type IN ('WEB_FOLDER', 'WEB_PROXY', 'S3', 'S3_COMPATIBLE', 'AZURE_BLOB'));

-- '' for every other type.
ALTER TABLE origins ADD COLUMN container text NOT NULL DEFAULT '';
ALTER TABLE origins ADD COLUMN account_name text NOT NULL DEFAULT '';

-- The SAS token is the origin's secret: sealed exactly as an S3 origin's
-- secret key is, in the same column, secret_key_ciphertext (which now
-- holds "the origin's secret", whatever its type). Every AZURE_BLOB
-- origin has one.
ALTER TABLE origins DROP CONSTRAINT origins_secret_key_check;
ALTER TABLE origins ADD CONSTRAINT origins_secret_key_check
    CHECK ((secret_key_ciphertext IS NOT NULL) = (type IN ('S3', 'S3_COMPATIBLE', 'AZURE_BLOB')));

-- Privileges: the tenant role's table-wide privileges on origins (000002)
-- cover the new columns, and the row-level policies apply to whole rows.
