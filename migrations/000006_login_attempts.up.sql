-- Login attempts per email, counted across every control-plane replica (a
-- count per replica would give an attacker spread over N replicas N times
-- the guesses). Keyed by the SHA-256 of the lower-cased email, so emails
-- that own no account count the same as those that do (a 429 must not
-- tell which exist) and strangers' typing is not stored in the clear.
-- A window starts at an email's first attempt and ends at expires_at; the
-- attempts that open new windows also delete a few rows of ended ones, so
-- the table holds about the emails tried within one window.
--
-- Not account data (no account_id; an email need not belong to an
-- account): only the system role, which logins run as, may touch it.
CREATE TABLE login_attempts (
    email_digest bytea PRIMARY KEY,
    attempts     integer NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX login_attempts_expires ON login_attempts (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON login_attempts TO pictor_system;
