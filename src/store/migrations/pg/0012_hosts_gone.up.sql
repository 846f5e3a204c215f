-- 0012_hosts_gone: a host that stopped answering (docs/HISTORY.md, "Gone").
--
-- job_targets: the address ranges a job was told to scan (its targets, read
-- from nmap's command line: addresses, CIDRs, octet ranges), as addr_key
-- ranges (core/addr.h: 16 bytes, IPv4 v4-mapped, sorting numerically).  A
-- job covers a host when the host's address is in one of them, or when the
-- job listed it.  Jobs stored before this migration have none: they cover
-- only the hosts they listed.
--
-- host_state.misses: the covering scans in a row, up to the latest, that
-- saw the host down or did not list it; miss_job_id / miss_at the latest
-- of those that did not list it (its order key, scan time then job id).
-- miss_job_id is no foreign key: an order key only, kept when prune
-- removes that job.
--
-- hosts.status may be 'gone' and host_events.kind 'host_gone': PostgreSQL
-- changes the CHECKs in place (0001's names: table_column_check).
ALTER TABLE hosts DROP CONSTRAINT hosts_status_check;
ALTER TABLE hosts ADD CONSTRAINT hosts_status_check
    CHECK (status IN ('unknown', 'up', 'down', 'skipped', 'gone'));
ALTER TABLE host_events DROP CONSTRAINT host_events_kind_check;
ALTER TABLE host_events ADD CONSTRAINT host_events_kind_check
    CHECK (kind IN ('host_up', 'host_down', 'port_opened', 'port_closed', 'service_changed', 'os_changed', 'mac_changed', 'hostname_changed', 'script_changed', 'host_gone'));

ALTER TABLE host_state ADD COLUMN misses integer NOT NULL DEFAULT 0 CHECK (misses >= 0);
ALTER TABLE host_state ADD COLUMN miss_job_id bigint;
ALTER TABLE host_state ADD COLUMN miss_at timestamptz CHECK (miss_at IS NULL OR miss_at >= 'epoch');

CREATE TABLE job_targets (
    job_id  bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    lo      bytea NOT NULL CHECK (length(lo) = 16),
    hi      bytea NOT NULL CHECK (length(hi) = 16 AND hi >= lo),
    PRIMARY KEY (job_id, lo, hi)
);
