-- Revocation entries are polled by a number the database assigns, not by the writer's clock: a
-- host whose clock is behind, or an insert that commits late, can no longer hide a row from the
-- other instances. SQLite writers serialise, so a counter bumped inside the write transaction
-- is monotonic in commit order. It is a row of its own, not MAX(seq) + 1: purging the newest
-- rows must never make a number come round again.
CREATE TABLE revocation_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
ALTER TABLE revocations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE revocations SET seq = rowid;
INSERT INTO revocation_seq (id, value) VALUES (1, COALESCE((SELECT MAX(seq) FROM revocations), 0));
CREATE INDEX revocations_seq ON revocations (seq);
