-- Passkeys (WebAuthn, issue #13).
--
-- A user's passkeys: the credential id (base64url, unique across users: a credential belongs to
-- one account), the webauthn-rs `Passkey` as JSON (public key, algorithm, counter, flags: not
-- secret, so not sealed), a name the user can change, when it was made and last used, and the
-- signature counter and backup flags as the authenticator last reported them.
CREATE TABLE passkeys (
    passkey_id      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    passkey         TEXT NOT NULL,
    name            TEXT NOT NULL,
    sign_count      BIGINT NOT NULL DEFAULT 0,
    backup_eligible BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- Ceremonies in flight (a registration, a sign-in, a second-factor step): the webauthn-rs state
-- with its challenge, kept here rather than in memory so that any instance can finish what
-- another started. Five minutes, used once (taken by one DELETE ... RETURNING). `bound_to` ties
-- it to what started it: the session (registration) or the mfa_token's keyed hash (second
-- factor).
CREATE TABLE passkey_ceremonies (
    ceremony_id TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    bound_to    TEXT,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

-- How the session was authenticated, when it is not the password (with or without a TOTP
-- code, which `mfa_at` records): RFC 8176 `amr` values, space-separated, that its refreshed
-- access tokens keep (`hwk user` for a passkey sign-in, `pwd hwk` for a passkey second factor).
ALTER TABLE sessions ADD COLUMN amr TEXT;
