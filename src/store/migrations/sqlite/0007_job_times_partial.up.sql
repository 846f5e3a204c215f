-- 0007_job_times_partial: a job's times are nmap's own, or NULL; and a job
-- may hold only part of a scan.
--
-- jobs.started_at is NULL when the file has no start time (or start="0"),
-- never the import time; completed_at keeps nmap's own finish time.  The
-- CHECK of 0001 wanted a start with every finish: now only a finish before
-- a known start is refused.  SQLite cannot change a CHECK in place; this is
-- SQLite's documented procedure for loosening one ("Making Other Kinds Of
-- Table Schema Changes", lang_altertable.html): rewrite the table's text in
-- sqlite_schema (no row can violate the looser CHECK), reload the schema
-- (RESET), and let the ALTER TABLE below bump the schema cookie so that
-- every other connection reloads it too.
--
-- jobs.partial = 1: `scandb import --partial` stored the complete hosts of
-- a file that was cut off (nmap killed).  Its probed scope is empty: it
-- closes no port and downs no host it did not list.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
       'completed_at IS NULL OR (started_at IS NOT NULL AND completed_at >= started_at)',
       'completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at')
 WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = RESET;
ALTER TABLE jobs ADD COLUMN partial INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1));
