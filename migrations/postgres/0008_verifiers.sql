-- Verifier credentials: what a service that verifies authgate's tokens elsewhere presents to
-- read the revocation feed (GET /revocations, /revocations/stream). Only the SHA-256 of the
-- credential (256 random bits) is stored; `authgate verifier create NAME` prints it once.
-- Numbered 0008 so that the migrations other branches add (0006, 0007) keep their numbers.
CREATE TABLE verifiers (
    name        TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
