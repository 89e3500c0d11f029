-- The tenant role cannot read password hashes. Tenant requests never need
-- them (login reads the hash as the system role, before any account is
-- known), and a hash that leaks through a tenant query (a bug, an injected
-- string) can be cracked offline. Table-level SELECT would cover every
-- column, so it is replaced by SELECT on each column but password_hash; a
-- column added later stays hidden from the tenant role until granted.
REVOKE SELECT ON account_users FROM pictor_app;
GRANT SELECT (id, account_id, email, created_at) ON account_users TO pictor_app;
