-- 0005_port_state_per_host down: back to one port_state row per port.
DROP VIEW port_state;
CREATE TABLE port_state (
    host_id     INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol    TEXT NOT NULL CHECK (protocol = 'tcp' OR protocol = 'udp' OR protocol = 'sctp' OR protocol = 'ip'),
    port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    state       TEXT NOT NULL CHECK (state = 'open' OR state = 'closed' OR state = 'filtered' OR state = 'unfiltered' OR state = 'open|filtered' OR state = 'closed|filtered'),
    reason      TEXT,
    service     TEXT,
    product     TEXT,
    version     TEXT,
    extrainfo   TEXT,
    tunnel      TEXT,
    method      TEXT CHECK (method IS NULL OR method = 'table' OR method = 'probed'),
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    seen_at     INTEGER NOT NULL CHECK (seen_at >= 0),
    first_seen  INTEGER CHECK (first_seen IS NULL OR first_seen >= 0),
    last_seen   INTEGER CHECK (last_seen IS NULL OR (first_seen IS NOT NULL AND last_seen >= first_seen)),
    closed_at   INTEGER CHECK (closed_at IS NULL OR closed_at >= 0),
    CHECK (state <> 'open' OR closed_at IS NULL),
    PRIMARY KEY (host_id, protocol, port)
) WITHOUT ROWID;
CREATE INDEX port_state_job ON port_state(job_id);
INSERT INTO port_state (host_id, protocol, port, state, reason, service, product, version,
                        extrainfo, tunnel, method, job_id, seen_at, first_seen, last_seen,
                        closed_at)
SELECT s.host_id, p.value ->> 0, p.value ->> 1, p.value ->> 2, p.value ->> 8, p.value ->> 10,
       p.value ->> 11, p.value ->> 12, p.value ->> 13, p.value ->> 14, p.value ->> 9,
       (SELECT j.id FROM jobs j WHERE j.id = p.value ->> 3), p.value ->> 4,
       p.value ->> 5, p.value ->> 6, p.value ->> 7
FROM host_state s, json_each(s.ports) p;
DROP TABLE host_state;
