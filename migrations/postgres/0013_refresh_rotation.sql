-- Nothing to do on PostgreSQL: a refresh is already one statement there (data-modifying CTEs in
-- src/store/sql/refresh_claim.rs). SQLite's 0013 adds the trigger that makes it one statement
-- there too; this file keeps the two backends' migration numbers the same.
SELECT 1;
