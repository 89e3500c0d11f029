-- WEB_PROXY origins (ImageKit's type of that name): the image path is itself
-- an absolute http(s) URL, so such an origin has no base URL. base_url stays
-- NOT NULL and holds '' for them, which keeps every reader's scan of it a
-- plain string.
ALTER TABLE origins DROP CONSTRAINT origins_type_check;
ALTER TABLE origins ADD CONSTRAINT origins_type_check CHECK (type IN ('WEB_FOLDER', 'WEB_PROXY'));

-- The hosts a WEB_PROXY origin may fetch from (a Pictor extension):
-- "images.example.com", or "*.example.com" for any subdomain; empty allows
-- any public host. Always '{}' for WEB_FOLDER. NOT NULL so that "no list"
-- has one spelling. The tenant role's table-wide privileges on origins
-- (000002) cover the new column.
ALTER TABLE origins ADD COLUMN allowed_hosts text[] NOT NULL DEFAULT '{}';
