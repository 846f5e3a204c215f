-- 0004_port_state_job_index: port_state.job_id is ON DELETE SET NULL; deleting
-- jobs (scandb prune) makes SQLite look up the port_state rows of each
-- deleted job, which without this index is a full scan of port_state per job.
CREATE INDEX port_state_job ON port_state(job_id);
