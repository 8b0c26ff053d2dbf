-- authgate schema (PostgreSQL). Timestamps are unix seconds (BIGINT) on both backends, ids are UUID text,
-- so one set of queries serves SQLite and PostgreSQL alike.
CREATE TABLE users (
    user_id          TEXT PRIMARY KEY,
    email            TEXT NOT NULL,
    email_lower      TEXT NOT NULL UNIQUE,
    username         TEXT,
    username_lower   TEXT UNIQUE,
    password_hash    TEXT NOT NULL,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       BIGINT NOT NULL,
    last_login_at    BIGINT,
    last_activity_at BIGINT
);

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

INSERT INTO roles (name, description, created_at) VALUES
    ('user', 'Every registered account', 0),
    ('moderator', 'May list users and (de)activate non-admins', 0),
    ('admin', 'May do everything under /admin', 0);

CREATE TABLE user_roles (
    user_id   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_name)
);
CREATE INDEX user_roles_role ON user_roles (role_name);

-- One row per login: the refresh-token family.
CREATE TABLE sessions (
    session_id    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,      -- absolute end of the session
    idle_ttl      BIGINT NOT NULL,      -- seconds a refresh token stays usable unused
    idle_expires_at BIGINT NOT NULL,
    remember_me   BOOLEAN NOT NULL,
    user_agent    TEXT,
    ip            TEXT,
    revoked_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    parent_hash TEXT,
    issued_at   BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der TEXT NOT NULL,          -- base64 PKCS#8 / SEC1 / PKCS#1 DER; never leaves the server
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Revocation state every request consults in memory; persisted so it survives a restart, and
-- ordered by seq so that other instances can poll for what they have not yet seen.
CREATE TABLE revocations (
    kind       TEXT NOT NULL,           -- 'session' or 'user'
    subject    TEXT NOT NULL,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_expiry ON revocations (expires_at);
