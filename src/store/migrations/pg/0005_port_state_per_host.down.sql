-- 0005_port_state_per_host down: back to one port_state row per port.
DROP VIEW port_state;
CREATE TABLE port_state (
    host_id     bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol    text NOT NULL CHECK (protocol IN ('tcp', 'udp', 'sctp', 'ip')),
    port        integer NOT NULL CHECK (port BETWEEN 0 AND 65535),
    state       text NOT NULL CHECK (state IN ('open', 'closed', 'filtered', 'unfiltered', 'open|filtered', 'closed|filtered')),
    reason      text,
    service     text,
    product     text,
    version     text,
    extrainfo   text,
    tunnel      text,
    method      text CHECK (method IS NULL OR method IN ('table', 'probed')),
    job_id      bigint REFERENCES jobs(id) ON DELETE SET NULL,
    seen_at     timestamptz NOT NULL CHECK (seen_at >= 'epoch'),
    first_seen  timestamptz CHECK (first_seen IS NULL OR first_seen >= 'epoch'),
    last_seen   timestamptz CHECK (last_seen IS NULL OR (first_seen IS NOT NULL AND last_seen >= first_seen)),
    closed_at   timestamptz CHECK (closed_at IS NULL OR closed_at >= 'epoch'),
    CHECK (state <> 'open' OR closed_at IS NULL),
    PRIMARY KEY (host_id, protocol, port)
);
CREATE INDEX port_state_job ON port_state(job_id);
INSERT INTO port_state (host_id, protocol, port, state, reason, service, product, version,
                        extrainfo, tunnel, method, job_id, seen_at, first_seen, last_seen,
                        closed_at)
SELECT s.host_id, p.e ->> 0, (p.e ->> 1)::integer, p.e ->> 2, p.e ->> 8, p.e ->> 10,
       p.e ->> 11, p.e ->> 12, p.e ->> 13, p.e ->> 14, p.e ->> 9,
       (SELECT j.id FROM jobs j WHERE j.id = (p.e ->> 3)::bigint),
       to_timestamp((p.e ->> 4)::bigint), to_timestamp((p.e ->> 5)::bigint),
       to_timestamp((p.e ->> 6)::bigint), to_timestamp((p.e ->> 7)::bigint)
FROM host_state s CROSS JOIN LATERAL jsonb_array_elements(s.ports) AS p(e);
DROP TABLE host_state;
