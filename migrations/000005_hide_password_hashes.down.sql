-- Reverts 000005: the tenant role reads every column again.
REVOKE SELECT (id, account_id, email, created_at) ON account_users FROM pictor_app;
GRANT SELECT ON account_users TO pictor_app;
