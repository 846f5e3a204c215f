-- 0004_port_state_job_index
DROP INDEX port_state_job;
