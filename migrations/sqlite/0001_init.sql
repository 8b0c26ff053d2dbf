-- authgate schema (SQLite). Timestamps are unix seconds (INTEGER) on both backends, ids are UUID text,
-- so one set of queries serves SQLite and PostgreSQL alike.
CREATE TABLE users (
    user_id          TEXT PRIMARY KEY,
    email            TEXT NOT NULL,
    email_lower      TEXT NOT NULL UNIQUE,
    username         TEXT,
    username_lower   TEXT UNIQUE,
    password_hash    TEXT NOT NULL,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       INTEGER NOT NULL,
    last_login_at    INTEGER,
    last_activity_at INTEGER
);

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
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
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,      -- absolute end of the session
    idle_ttl      INTEGER NOT NULL,      -- seconds a refresh token stays usable unused
    idle_expires_at INTEGER NOT NULL,
    remember_me   BOOLEAN NOT NULL,
    user_agent    TEXT,
    ip            TEXT,
    revoked_at    INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    parent_hash TEXT,
    issued_at   INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der TEXT NOT NULL,          -- base64 PKCS#8 / SEC1 / PKCS#1 DER; never leaves the server
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Revocation state every request consults in memory; persisted so it survives a restart, and
-- ordered by seq so that other instances can poll for what they have not yet seen.
CREATE TABLE revocations (
    kind       TEXT NOT NULL,           -- 'session' or 'user'
    subject    TEXT NOT NULL,
    data       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_expiry ON revocations (expires_at);
