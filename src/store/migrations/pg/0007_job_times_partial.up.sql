-- 0007_job_times_partial: a job's times are nmap's own, or NULL; and a job
-- may hold only part of a scan.
--
-- jobs.started_at is NULL when the file has no start time (or start="0"),
-- never the import time; completed_at keeps nmap's own finish time.  The
-- CHECK of 0001 wanted a start with every finish: now only a finish before
-- a known start is refused.
--
-- jobs.partial: `scandb import --partial` stored the complete hosts of a
-- file that was cut off (nmap killed).  Its probed scope is empty: it
-- closes no port and downs no host it did not list.
-- PostgreSQL named 0001's CHECK itself (it spans two columns): found by
-- what it says, not by a guessed name.
DO $$
DECLARE c text;
BEGIN
    SELECT conname INTO STRICT c FROM pg_constraint
     WHERE conrelid = 'jobs'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) LIKE '%completed_at >= started_at%';
    EXECUTE format('ALTER TABLE jobs DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE jobs ADD CONSTRAINT jobs_completed_after_started
    CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at);
ALTER TABLE jobs ADD COLUMN partial boolean NOT NULL DEFAULT false;
