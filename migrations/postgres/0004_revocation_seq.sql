-- Revocation entries are polled by a number the database assigns, not by the writer's clock: a
-- host whose clock is behind, or an insert that commits late, can no longer hide a row from the
-- other instances. Every write (insert or upsert) takes the next value of revocation_seq while
-- holding a transaction-level advisory lock, so values are assigned in commit order (see
-- src/store/sql/revocations.rs); there is no default, so no writer can bypass that.
CREATE SEQUENCE revocation_seq;
ALTER TABLE revocations ADD COLUMN seq BIGINT NOT NULL DEFAULT nextval('revocation_seq');
ALTER TABLE revocations ALTER COLUMN seq DROP DEFAULT;
CREATE INDEX revocations_seq ON revocations (seq);
