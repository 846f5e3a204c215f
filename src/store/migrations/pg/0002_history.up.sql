-- 0002_history (PostgreSQL): the scope-aware current state of every port,
-- and the detail (script id) of change events.

-- One row per (host, protocol, port) that any scan ever listed for the host.
-- `state` is what the most recent scan that probed the port saw.
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
    job_id      bigint REFERENCES jobs(id) ON DELETE SET NULL, -- latest scan that probed it
    seen_at     timestamptz NOT NULL CHECK (seen_at >= 'epoch'),  -- that scan's time
    first_seen  timestamptz CHECK (first_seen IS NULL OR first_seen >= 'epoch'), -- first seen open
    last_seen   timestamptz CHECK (last_seen IS NULL OR (first_seen IS NOT NULL AND last_seen >= first_seen)),
    closed_at   timestamptz CHECK (closed_at IS NULL OR closed_at >= 'epoch'), -- found no longer open
    CHECK (state <> 'open' OR closed_at IS NULL),
    PRIMARY KEY (host_id, protocol, port)
);

ALTER TABLE host_events ADD COLUMN detail text; -- script id of script_changed
