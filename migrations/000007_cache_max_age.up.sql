-- The Cache-Control max-age edges send with an account's shareable images
-- (DESIGN §6), in seconds: a year by default, from a minute to ten years.
ALTER TABLE accounts
    ADD COLUMN cache_max_age_seconds bigint NOT NULL DEFAULT 31536000
        CHECK (cache_max_age_seconds BETWEEN 60 AND 315360000);

GRANT UPDATE (cache_max_age_seconds) ON accounts TO pictor_app;
