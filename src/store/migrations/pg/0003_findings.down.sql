-- 0003_findings down.
DROP TABLE finding_status_changes;
DROP TABLE finding_jobs;
DROP TABLE findings;
