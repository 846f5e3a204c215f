-- 0012_hosts_gone down: no 'gone' status, no host_gone event, no ranges.
-- A gone host becomes 'down'; its host_gone events are deleted.
UPDATE hosts SET status = 'down' WHERE status = 'gone';
DELETE FROM host_events WHERE kind = 'host_gone';
DROP TABLE job_targets;
ALTER TABLE host_state DROP COLUMN miss_at;
ALTER TABLE host_state DROP COLUMN miss_job_id;
ALTER TABLE host_state DROP COLUMN misses;
ALTER TABLE hosts DROP CONSTRAINT hosts_status_check;
ALTER TABLE hosts ADD CONSTRAINT hosts_status_check
    CHECK (status IN ('unknown', 'up', 'down', 'skipped'));
ALTER TABLE host_events DROP CONSTRAINT host_events_kind_check;
ALTER TABLE host_events ADD CONSTRAINT host_events_kind_check
    CHECK (kind IN ('host_up', 'host_down', 'port_opened', 'port_closed', 'service_changed', 'os_changed', 'mac_changed', 'hostname_changed', 'script_changed'));
