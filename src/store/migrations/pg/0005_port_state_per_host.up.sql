-- 0005_port_state_per_host (PostgreSQL): what the history knows of a host --
-- the scope-aware current state of its ports, and the latest OS, MAC and
-- names its up scans reported -- is one row per host (host_state), not one
-- row per port plus three searches of its scans.  Every scan of a host
-- rewrites its ports' state (at least which scan probed them last), so a
-- row per port cost a row write, an index entry and foreign-key checks per
-- port per scan.  Now a scan of a host reads one row and writes one.
--
-- host_state.ports is a JSON array with one array per port:
--   [protocol, port, state, job_id, seen_at, first_seen, last_seen,
--    closed_at, reason, method, service, product, version, extrainfo, tunnel]
-- (times in Unix seconds; everything after seen_at may be null, and nulls
-- that end an array are left out) -- the same document as in SQLite.  The view port_state shows it as
-- the table it replaces, one row per port with the same column types.
--
-- job_id (the latest scan that probed the port) is no foreign key any more:
-- prune never deletes such a job, and doctor checks that each exists.
CREATE TABLE host_state (
    host_id   bigint PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    os        text,                   -- latest OS best match an up scan reported
    mac       text,                   -- latest MAC address an up scan reported
    hostnames text,                   -- latest names an up scan reported: "a,b" sorted
    ports     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ports) = 'array')
);

INSERT INTO host_state (host_id, os, mac, hostnames, ports)
SELECT h.id,
       (SELECT os_name FROM host_scans WHERE host_id = h.id AND status = 'up'
        AND os_name IS NOT NULL ORDER BY scanned_at DESC, job_id DESC LIMIT 1),
       (SELECT mac FROM host_scans WHERE host_id = h.id AND status = 'up'
        AND mac IS NOT NULL ORDER BY scanned_at DESC, job_id DESC LIMIT 1),
       (SELECT string_agg(d.n, ',' ORDER BY d.n) FROM (SELECT DISTINCT (e #>> '{}') COLLATE "C" AS n
        FROM jsonb_array_elements((SELECT hostnames FROM host_scans WHERE host_id = h.id
                                   AND status = 'up' AND hostnames <> '[]'::jsonb
                                   ORDER BY scanned_at DESC, job_id DESC LIMIT 1)) AS e
        WHERE jsonb_typeof(e) = 'string' AND (e #>> '{}') <> '') d),
       coalesce((SELECT jsonb_agg(jsonb_build_array(protocol, port, state, job_id,
               extract(epoch FROM seen_at)::bigint, extract(epoch FROM first_seen)::bigint,
               extract(epoch FROM last_seen)::bigint, extract(epoch FROM closed_at)::bigint,
               reason, method, service, product, version, extrainfo, tunnel)
               ORDER BY protocol COLLATE "C", port)
        FROM port_state ps WHERE ps.host_id = h.id), '[]'::jsonb)
FROM hosts h;

DROP TABLE port_state; -- and its index port_state_job (0004)

CREATE VIEW port_state AS
SELECT s.host_id AS host_id,
       p.e ->> 0 AS protocol,
       (p.e ->> 1)::integer AS port,
       p.e ->> 2 AS state,
       p.e ->> 8 AS reason,
       p.e ->> 10 AS service,
       p.e ->> 11 AS product,
       p.e ->> 12 AS version,
       p.e ->> 13 AS extrainfo,
       p.e ->> 14 AS tunnel,
       p.e ->> 9 AS method,
       (p.e ->> 3)::bigint AS job_id,
       to_timestamp((p.e ->> 4)::bigint) AS seen_at,
       to_timestamp((p.e ->> 5)::bigint) AS first_seen,
       to_timestamp((p.e ->> 6)::bigint) AS last_seen,
       to_timestamp((p.e ->> 7)::bigint) AS closed_at
FROM host_state s CROSS JOIN LATERAL jsonb_array_elements(s.ports) AS p(e);
