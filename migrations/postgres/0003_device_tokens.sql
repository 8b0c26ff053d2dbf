-- Device tokens (OWASP's "device cookie"): proof that a browser or app once signed in to an
-- account with its password. An attempt that presents one is counted against the token, never
-- against the account's lock, so an attacker who locks an account does not lock its owner out.
-- Only the SHA-256 of a token is stored. pw_tag is the SHA-256 of the password hash the token
-- was issued under: a password change or reset (any new hash) voids every older token.
CREATE TABLE device_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    pw_tag     TEXT NOT NULL,
    failures   BIGINT NOT NULL DEFAULT 0,  -- attempts since issued; it burns at the threshold
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_tokens_user ON device_tokens (user_id, created_at);
