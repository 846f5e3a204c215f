-- 0007_job_times_partial, reverted: a finish needs a start again (a job
-- without a start takes its finish as its start), and no job is partial.
UPDATE jobs SET started_at = completed_at WHERE started_at IS NULL AND completed_at IS NOT NULL;
ALTER TABLE jobs DROP CONSTRAINT jobs_completed_after_started;
ALTER TABLE jobs ADD CONSTRAINT jobs_completed_after_started
    CHECK (completed_at IS NULL OR (started_at IS NOT NULL AND completed_at >= started_at));
ALTER TABLE jobs DROP COLUMN partial;
