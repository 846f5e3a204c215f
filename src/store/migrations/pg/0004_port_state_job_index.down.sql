-- 0004_port_state_job_index down.
DROP INDEX port_state_job;
