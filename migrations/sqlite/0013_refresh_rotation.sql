-- A refresh as one statement (issue 14). SQLite has one writer at a time, so the write lock is
-- what bounds refreshes per second. The rotation was a transaction of three statements (mark the
-- presented token used, extend the session, insert the successor), each a round trip to
-- sqlx's connection thread while the lock is held. Now the claim is the successor's insert
-- alone (`INSERT … SELECT … WHERE used_at IS NULL`, in src/store/sql/refresh_claim.rs), and this
-- trigger does the other two writes in the same statement: exactly one concurrent caller's
-- insert finds the parent unused, and the insert, the claim and the extension commit together
-- or not at all.
--
-- Only a successor has a parent: a session's first token is inserted with `parent_hash` NULL and
-- fires nothing. PostgreSQL does the same three writes in one statement of data-modifying CTEs
-- and needs no trigger; its 0013 is a no-op.
CREATE TRIGGER refresh_tokens_rotate AFTER INSERT ON refresh_tokens
WHEN new.parent_hash IS NOT NULL
BEGIN
    UPDATE refresh_tokens SET used_at = new.issued_at WHERE token_hash = new.parent_hash;
    -- The new idle expiry is never past the session's absolute end.
    UPDATE sessions SET last_used_at = new.issued_at,
        idle_expires_at = MIN(new.issued_at + idle_ttl, expires_at)
    WHERE session_id = new.session_id;
END;
