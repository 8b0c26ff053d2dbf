-- Two-factor authentication (issue #11).
--
-- One TOTP factor per user. The secret is recoverable by the server (it must compute codes),
-- so it is stored sealed: ChaCha20-Poly1305 under a server key (`crate::token::sealed`), with
-- the id of that key beside it for rotation. `last_step` is the last accepted RFC 6238 time
-- step (the enrolment code's included): a code is accepted only for a larger step, by one
-- atomic UPDATE, so a code is never accepted twice (RFC 6238 §5.2).
CREATE TABLE mfa_factors (
    user_id       TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,                  -- NULL while the enrolment is pending
    last_step     BIGINT NOT NULL DEFAULT 0
);

-- Recovery codes: only HMAC-SHA256(server key, user id + code) is stored; each is used once,
-- by one UPDATE ... WHERE used_at IS NULL.
CREATE TABLE mfa_recovery_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

-- The step between a correct password and the second factor: the keyed hash of the opaque
-- `mfa_token`, its attempts (at most 5, counted atomically), its 5-minute life, and what the
-- session it opens needs. Bound to the password hash it was issued under.
CREATE TABLE mfa_challenges (
    challenge_hash TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    password_tag   TEXT NOT NULL,
    remember_me    BOOLEAN NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

-- When the session's second factor was checked (at the login step, or at enrolment for the
-- session that enrolled): its refreshed access tokens keep `amr: ["pwd","otp"]`.
ALTER TABLE sessions ADD COLUMN mfa_at BIGINT;
