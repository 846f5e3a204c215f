-- 0004_port_state_job_index: port_state rows by the job that last probed
-- them, for deleting jobs (prune): ON DELETE SET NULL finds them by index.
CREATE INDEX port_state_job ON port_state(job_id);
