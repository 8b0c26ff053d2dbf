-- Abuse resistance: rate-limit buckets and login-failure counters shared by every instance on
-- this database, and the audit log of security events.

-- GCRA buckets, one per (limit, client): 'login:203.0.113.7'. tat_ms is the theoretical arrival
-- time; a request is allowed while max(tat, now) + interval - now <= period.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    tat_ms BIGINT NOT NULL
);

-- Consecutive failed logins per account ('user:<uuid>', or 'login:<name>' for unknown names, so
-- that an unknown account answers exactly like a known one). Attempts are counted before the
-- password is checked, so parallel attempts cannot exceed the threshold.
CREATE TABLE login_failures (
    account      TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,      -- unix seconds; the account is locked while now < locked_until
    next_lock    BIGINT NOT NULL,      -- seconds the next lock lasts (doubles up to the maximum)
    updated_at   BIGINT NOT NULL
);

-- Security events. Never a password or a token: only who, what, when and from where.
CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    user_id    TEXT,
    actor_id   TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_user ON audit_log (user_id, seq);
CREATE INDEX audit_log_event ON audit_log (event, seq);
CREATE INDEX audit_log_at ON audit_log (at);
