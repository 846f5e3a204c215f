-- Back to 0007: jobs are numbered max(id) + 1 again (ids may be reused).
DROP TRIGGER jobs_id_high_water ON jobs;
DROP FUNCTION jobs_id_high_water();
DROP TABLE job_id_high_water;
