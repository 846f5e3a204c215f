-- 0005_port_state_per_host: the scope-aware current state of a host's ports
-- is one row per host, not one per port.  Every scan of a host rewrites its
-- ports' state (at least which scan probed them last), so a row per port
-- cost a B-tree write per port per scan -- twice the rows the scan itself
-- stores.  Now it is one document per host, written once per scan of it.
--
-- host_port_state.ports is a JSON array with one array per port:
--   [protocol, port, state, reason, service, product, version, extrainfo,
--    tunnel, method, job_id, seen_at, first_seen, last_seen, closed_at]
-- (times in Unix seconds; job_id, first_seen, last_seen, closed_at may be
-- null).  The view port_state shows it as the table it replaces, one row
-- per port, for queries and for people.
--
-- job_id (the latest scan that probed the port) is no foreign key any more:
-- prune never deletes such a job, and doctor checks that each exists.
-- No CHECK (json_valid(ports)): parsing every document SQLite is given cost
-- a tenth of an import's time; scandb's reader refuses any document that is
-- not exactly this shape (naming the host), and doctor reads them all.
CREATE TABLE host_port_state (
    host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    ports   TEXT NOT NULL
);

INSERT INTO host_port_state (host_id, ports)
SELECT host_id, json_group_array(json_array(protocol, port, state, reason, service, product,
       version, extrainfo, tunnel, method, job_id, seen_at, first_seen, last_seen, closed_at))
FROM (SELECT * FROM port_state ORDER BY host_id, protocol, port)
GROUP BY host_id;

DROP TABLE port_state; -- and its index port_state_job (0004)

CREATE VIEW port_state AS
SELECT s.host_id AS host_id,
       p.value ->> 0 AS protocol,
       p.value ->> 1 AS port,
       p.value ->> 2 AS state,
       p.value ->> 3 AS reason,
       p.value ->> 4 AS service,
       p.value ->> 5 AS product,
       p.value ->> 6 AS version,
       p.value ->> 7 AS extrainfo,
       p.value ->> 8 AS tunnel,
       p.value ->> 9 AS method,
       p.value ->> 10 AS job_id,
       p.value ->> 11 AS seen_at,
       p.value ->> 12 AS first_seen,
       p.value ->> 13 AS last_seen,
       p.value ->> 14 AS closed_at
FROM host_port_state s, json_each(s.ports) p;
