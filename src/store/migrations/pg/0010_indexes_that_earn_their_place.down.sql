-- 0010_indexes_that_earn_their_place down: the indexes of 0001 and 0003 again.
DROP INDEX host_events_prev_job;
CREATE INDEX ports_open ON ports(protocol, port) WHERE state = 'open';
CREATE INDEX ports_service ON ports(service) WHERE service IS NOT NULL AND state = 'open';
CREATE INDEX hosts_status_last_seen ON hosts(status, last_seen);
CREATE INDEX findings_status ON findings (status, severity);
