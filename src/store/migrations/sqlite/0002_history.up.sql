-- 0002_history: the scope-aware current state of every port, and the
-- detail (script id) of change events.

-- One row per (host, protocol, port) that any scan ever listed for the host.
-- `state` is what the most recent scan that probed the port saw (a scan
-- whose probed scope does not cover the port, or that found the host down,
-- does not change it).
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
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL, -- latest scan that probed it
    seen_at     INTEGER NOT NULL CHECK (seen_at >= 0),          -- that scan's time
    first_seen  INTEGER CHECK (first_seen IS NULL OR first_seen >= 0), -- first seen open
    last_seen   INTEGER CHECK (last_seen IS NULL OR (first_seen IS NOT NULL AND last_seen >= first_seen)),
    closed_at   INTEGER CHECK (closed_at IS NULL OR closed_at >= 0), -- found no longer open
    CHECK (state <> 'open' OR closed_at IS NULL),
    PRIMARY KEY (host_id, protocol, port)
) WITHOUT ROWID;
-- No index on job_id: it would cost a write per port on every import; the
-- prune operation (which deletes jobs) will bring its own index.

ALTER TABLE host_events ADD COLUMN detail TEXT; -- script id of script_changed
