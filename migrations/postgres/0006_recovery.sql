-- The e-mail outbox (issue #10). Handlers only insert here, in the transaction of the change
-- that causes the mail; a sender task on each instance claims due rows (PostgreSQL: FOR UPDATE
-- SKIP LOCKED, so N instances send each mail once), sends, and retries with backoff.
-- `context` holds the template's values (the link, with its token, included) and is emptied as
-- soon as the mail is sent or given up; sent rows are purged after a retention.
CREATE TABLE outbox (
    mail_id         TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,         -- the template: reset_password, verify_email, ...
    recipient       TEXT NOT NULL,
    user_id         TEXT,                  -- the account it is about, for the audit log
    context         TEXT NOT NULL,         -- JSON
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,       -- due at; while claimed, the end of the claim
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    failed_at       BIGINT,                -- given up after the last attempt
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

-- One-time tokens of verification, reset and e-mail change links. Only HMAC-SHA256(server
-- secret, token) is stored. A token is used by one UPDATE ... WHERE used_at IS NULL AND
-- expires_at > now; issuing a newer one of the same purpose uses up the older ones.
CREATE TABLE one_time_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,             -- reset, verify, email_change
    email       TEXT NOT NULL,             -- the address the link was sent to (confirms it)
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);
