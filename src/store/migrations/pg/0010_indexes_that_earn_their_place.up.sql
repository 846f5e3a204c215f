-- 0010_indexes_that_earn_their_place: every index is used by a query the
-- program runs (tests/e2e/test_pg_plans.py, every_index_is_used),
-- or it goes (issue 18).
--
-- Dropped, used by no query: ports_open and ports_service (open ports by
-- (protocol, port) and by service: listings filter the current state, kept
-- in host_state, and a job's view probes the ports primary key; the two
-- were 23 % of a file with 100 stored scans), hosts_status_last_seen and
-- findings_status.
--
-- Added: host_events(prev_job_id).  Deleting a job (prune) sets the
-- prev_job_id of the events that compared with it to NULL; without an
-- index that meant a scan of every stored event for each pruned job.
DROP INDEX ports_open;
DROP INDEX ports_service;
DROP INDEX hosts_status_last_seen;
DROP INDEX findings_status;
CREATE INDEX host_events_prev_job ON host_events(prev_job_id);
