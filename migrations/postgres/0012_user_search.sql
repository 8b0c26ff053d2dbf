-- Nothing to do on PostgreSQL: the trigram indexes of migration 0011 (pg_trgm) already serve
-- the admin search `q=`. SQLite's 0012 adds its own (FTS5 trigram); this file keeps the two
-- backends' migration numbers the same.
SELECT 1;
