ALTER TABLE accounts DROP COLUMN cache_max_age_seconds;
