-- 0007_job_times_partial, reverted: a finish needs a start again (a job
-- without a start takes its finish as its start), and no job is partial.
UPDATE jobs SET started_at = completed_at WHERE started_at IS NULL AND completed_at IS NOT NULL;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
       'completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at',
       'completed_at IS NULL OR (started_at IS NOT NULL AND completed_at >= started_at)')
 WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = RESET;
ALTER TABLE jobs DROP COLUMN partial;
