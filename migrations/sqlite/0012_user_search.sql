-- Cost as data grows (issue 14). The admin search `q=` is a substring match (`LIKE '%q%'` on
-- email_lower and username_lower), which no B-tree serves, so it read every user. An FTS5 table
-- with the trigram tokenizer (SQLite 3.34 or later; the bundled SQLite is newer) indexes every
-- three-character substring of both columns, so a phrase query of three or more characters
-- finds the users that contain it without reading the others (`list_users` in
-- src/store/sql/users.rs still applies the exact LIKE to those candidates).
--
-- The key. `users` is keyed by `user_id TEXT`, so its rowid is implicit, and VACUUM may
-- renumber an implicit rowid: keying the index on `users.rowid` would silently point search
-- rows at the wrong users after a VACUUM. An FTS5 table can only be looked up by its own rowid
-- (or by MATCH), so a `user_id` column in it would make every delete and update scan the whole
-- index. Instead `user_search_ids` gives each user a stable integer: its `search_id` is an
-- INTEGER PRIMARY KEY (an alias of the rowid, which VACUUM keeps), and it is the rowid of the
-- user's row in `user_search`. A search goes FTS rowid -> search_id (the primary key) ->
-- user_id; a change to a user goes user_id (the UNIQUE index) -> search_id -> the FTS row by
-- rowid. Both are index lookups, so keeping the index in sync costs a few B-tree steps per
-- write, at any number of users.
--
-- The triggers are the only writers of both tables. No foreign key to `users`: an ON DELETE
-- CASCADE could remove the id row before the delete trigger has used it to find the FTS row.
-- An `INSERT … ON CONFLICT DO NOTHING` that inserts nothing fires no trigger.
CREATE TABLE user_search_ids (
    search_id INTEGER PRIMARY KEY,
    user_id   TEXT NOT NULL UNIQUE
);

-- `columnsize = 0`: no per-row token counts (they serve only bm25 ranking, which the list does
-- not use), about 15 MiB less at a million users.
CREATE VIRTUAL TABLE user_search USING fts5 (
    email, username, tokenize = 'trigram', columnsize = 0
);

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_ids (user_id) VALUES (new.user_id);
    INSERT INTO user_search (rowid, email, username)
        SELECT search_id, new.email_lower, new.username_lower
        FROM user_search_ids WHERE user_id = new.user_id;
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_search
        WHERE rowid = (SELECT search_id FROM user_search_ids WHERE user_id = old.user_id);
    DELETE FROM user_search_ids WHERE user_id = old.user_id;
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF email_lower, username_lower ON users BEGIN
    UPDATE user_search SET email = new.email_lower, username = new.username_lower
        WHERE rowid = (SELECT search_id FROM user_search_ids WHERE user_id = new.user_id);
END;

-- The users there already. In user_id order, so the FTS rows of users in one page of the list
-- tend to sit together.
INSERT INTO user_search_ids (user_id) SELECT user_id FROM users ORDER BY user_id;
INSERT INTO user_search (rowid, email, username)
    SELECT k.search_id, u.email_lower, u.username_lower
    FROM user_search_ids k JOIN users u ON u.user_id = k.user_id;
