-- 0005_port_state_per_host: what the history knows of a host -- the
-- scope-aware current state of its ports, and the latest OS, MAC and names
-- its up scans reported -- is one row per host (host_state), not one row
-- per port plus three searches of its scans.  Every scan of a host rewrites
-- its ports' state (at least which scan probed them last), so a row per
-- port cost a B-tree write per port per scan -- twice the rows the scan
-- itself stores -- and finding the latest OS/MAC/names walked back through
-- every scan of a host that never reported one.  Now a scan of a host reads
-- one row and writes one.
--
-- host_state.ports is a JSON array with one array per port:
--   [protocol, port, state, job_id, seen_at, first_seen, last_seen,
--    closed_at, reason, method, service, product, version, extrainfo, tunnel]
-- (times in Unix seconds; everything after seen_at may be null, and nulls
-- that end an array are left out).  The view port_state shows it as the table it replaces, one row
-- per port, for queries and for people.
--
-- job_id (the latest scan that probed the port) is no foreign key any more:
-- prune never deletes such a job, and doctor checks that each exists.
-- No CHECK (json_valid(ports)): parsing every document SQLite is given cost
-- a tenth of an import's time; scandb's reader refuses any document that is
-- not exactly this shape (naming the host), and doctor reads them all.
CREATE TABLE host_state (
    host_id   INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    os        TEXT,                   -- latest OS best match an up scan reported
    mac       TEXT,                   -- latest MAC address an up scan reported
    hostnames TEXT,                   -- latest names an up scan reported: "a,b" sorted
    ports     TEXT NOT NULL DEFAULT '[]'
);

INSERT INTO host_state (host_id, os, mac, hostnames, ports)
SELECT h.id,
       (SELECT os_name FROM host_scans WHERE host_id = h.id AND status = 'up'
        AND os_name IS NOT NULL ORDER BY scanned_at DESC, job_id DESC LIMIT 1),
       (SELECT mac FROM host_scans WHERE host_id = h.id AND status = 'up'
        AND mac IS NOT NULL ORDER BY scanned_at DESC, job_id DESC LIMIT 1),
       (SELECT group_concat(n, ',') FROM (SELECT DISTINCT j.value AS n
        FROM json_each((SELECT hostnames FROM host_scans WHERE host_id = h.id AND status = 'up'
                        AND hostnames <> '[]' ORDER BY scanned_at DESC, job_id DESC LIMIT 1)) j
        WHERE j.type = 'text' AND j.value <> '' ORDER BY j.value)),
       (SELECT json_group_array(json_array(protocol, port, state, job_id, seen_at,
               first_seen, last_seen, closed_at, reason, method, service, product, version,
               extrainfo, tunnel))
        FROM (SELECT * FROM port_state ps WHERE ps.host_id = h.id ORDER BY protocol, port))
FROM hosts h;

DROP TABLE port_state; -- and its index port_state_job (0004)

CREATE VIEW port_state AS
SELECT s.host_id AS host_id,
       p.value ->> 0 AS protocol,
       p.value ->> 1 AS port,
       p.value ->> 2 AS state,
       p.value ->> 8 AS reason,
       p.value ->> 10 AS service,
       p.value ->> 11 AS product,
       p.value ->> 12 AS version,
       p.value ->> 13 AS extrainfo,
       p.value ->> 14 AS tunnel,
       p.value ->> 9 AS method,
       p.value ->> 3 AS job_id,
       p.value ->> 4 AS seen_at,
       p.value ->> 5 AS first_seen,
       p.value ->> 6 AS last_seen,
       p.value ->> 7 AS closed_at
FROM host_state s, json_each(s.ports) p;
