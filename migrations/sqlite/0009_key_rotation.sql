-- Key rotation: a key is published (JWKS, verification) from created_at, signs from
-- activates_at (existing keys: at once), and is retired (neither) from retired_at.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
