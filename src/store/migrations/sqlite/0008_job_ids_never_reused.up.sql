-- 0008_job_ids_never_reused: a job id names one scan forever.
--
-- Before, a job got max(id) + 1: after `prune` (or any removal of the
-- newest job) the next job took the same id, and a finding's "found by job
-- N", a note or an alert naming job N pointed at an unrelated scan.
-- job_id_high_water keeps the highest id ever given, in the same
-- transaction as the job (a job whose transaction rolls back takes no id,
-- as SQLite's AUTOINCREMENT; PostgreSQL's sequences would burn one, so
-- both backends use this table and number alike).  The trigger keeps it
-- whoever inserts the job; new jobs take max(high water, max(id)) + 1.
-- Ids removed before this migration ran cannot be known: it starts at
-- the highest id there is.
CREATE TABLE job_id_high_water (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    last_id  INTEGER NOT NULL CHECK (last_id >= 0)
);
INSERT INTO job_id_high_water (one, last_id) SELECT 1, coalesce(max(id), 0) FROM jobs;
CREATE TRIGGER jobs_id_high_water AFTER INSERT ON jobs
BEGIN
    UPDATE job_id_high_water SET last_id = NEW.id WHERE one = 1 AND last_id < NEW.id;
END;
