-- Cost as data grows (issue 14). The admin list filtered by role walks that role's members in
-- id order (the list's order) and stops after one page, instead of testing every user; the
-- index on the role alone is a prefix of this one.
CREATE INDEX user_roles_role_user ON user_roles (role_name, user_id);
DROP INDEX user_roles_role;

-- The admin search `q=` is a substring match (`LIKE '%q%'`), which no B-tree serves: with
-- pg_trgm (a trusted contrib extension, so the database owner may create it) trigram indexes
-- find the matching users without reading every row. Where the extension is not installed on
-- the server the migration still succeeds and the search scans, as it did before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX users_email_trgm ON users USING gin (email_lower gin_trgm_ops);
    CREATE INDEX users_username_trgm ON users USING gin (username_lower gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): admin search by q= scans the users table', SQLERRM;
END
$$;
