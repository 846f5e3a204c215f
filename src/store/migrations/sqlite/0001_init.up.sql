-- 0001_init: the foundation schema (ARCHITECTURE data model).
-- Times are Unix seconds (INTEGER). Enumerations and ranges are CHECKs that
-- mirror the C enums in core/record.h and store/store.h.  Enumeration CHECKs
-- are written as OR chains, not IN (...): SQLite 3.40 builds a temporary
-- table for an IN list on every row checked, which tripled the cost of a
-- port row.  The meaning is the same.

CREATE TABLE targets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,            -- addresses/CIDRs/exclusions
    ports       TEXT,
    schedule    TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at  INTEGER NOT NULL CHECK (created_at >= 0),
    deleted_at  INTEGER CHECK (deleted_at IS NULL OR deleted_at >= created_at)
);
CREATE UNIQUE INDEX targets_name ON targets(name) WHERE deleted_at IS NULL;

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind = 'import' OR kind = 'scan'),
    source        TEXT NOT NULL,          -- file name, '<stdin>', or 'nmap'
    status        TEXT NOT NULL CHECK (status = 'queued' OR status = 'running' OR status = 'completed' OR status = 'failed' OR status = 'cancelled'),
    target_id     INTEGER REFERENCES targets(id) ON DELETE SET NULL,
    args          TEXT,                   -- scanner command line
    scanner       TEXT,
    scanner_version TEXT,
    progress      INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    worker_id     TEXT,                   -- host:pid of the process that owns it
    created_at    INTEGER NOT NULL CHECK (created_at >= 0),
    started_at    INTEGER CHECK (started_at IS NULL OR started_at >= 0),
    completed_at  INTEGER CHECK (completed_at IS NULL OR (started_at IS NOT NULL AND completed_at >= started_at)),
    timeout_at    INTEGER,
    error         TEXT,
    content_hash  TEXT CHECK (content_hash IS NULL OR length(content_hash) = 64),
    forced        INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),
    probed_scope  TEXT,                   -- "tcp:1-1000;udp:53" (what was probed)
    hosts_up      INTEGER CHECK (hosts_up IS NULL OR hosts_up >= 0),
    hosts_down    INTEGER CHECK (hosts_down IS NULL OR hosts_down >= 0),
    hosts_total   INTEGER CHECK (hosts_total IS NULL OR hosts_total >= 0),
    ports_open    INTEGER CHECK (ports_open IS NULL OR ports_open >= 0),
    elapsed       REAL CHECK (elapsed IS NULL OR elapsed >= 0),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);
-- Same content is stored once unless forced: the database, not a
-- select-then-insert, decides (race-free under concurrent importers).
CREATE UNIQUE INDEX jobs_content_hash ON jobs(content_hash)
    WHERE content_hash IS NOT NULL AND forced = 0 AND status = 'completed';
CREATE INDEX jobs_status_created ON jobs(status, created_at);

CREATE TABLE hosts (
    id           INTEGER PRIMARY KEY,
    addr         TEXT NOT NULL UNIQUE,    -- canonical text form
    addr_key     BLOB NOT NULL CHECK (length(addr_key) = 16), -- IPv6 / v4-mapped, sorts numerically
    family       INTEGER NOT NULL CHECK (family IN (4, 6)),
    status       TEXT NOT NULL CHECK (status = 'unknown' OR status = 'up' OR status = 'down' OR status = 'skipped'),
    mac          TEXT,
    mac_vendor   TEXT,
    hostnames    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(hostnames)),
    os_name      TEXT,
    os_accuracy  INTEGER CHECK (os_accuracy IS NULL OR os_accuracy BETWEEN 0 AND 100),
    first_seen   INTEGER NOT NULL CHECK (first_seen >= 0),
    last_seen    INTEGER NOT NULL CHECK (last_seen >= first_seen),
    last_job_id  INTEGER REFERENCES jobs(id) ON DELETE SET NULL
);
CREATE INDEX hosts_addr_key ON hosts(addr_key);
CREATE INDEX hosts_status_last_seen ON hosts(status, last_seen);
CREATE INDEX hosts_last_job ON hosts(last_job_id);

-- What one job saw of one host (hosts holds the latest view).
CREATE TABLE host_scans (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    host_id      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status = 'unknown' OR status = 'up' OR status = 'down' OR status = 'skipped'),
    reason       TEXT,
    reason_ttl   INTEGER CHECK (reason_ttl IS NULL OR reason_ttl BETWEEN 0 AND 255),
    starttime    INTEGER,
    endtime      INTEGER CHECK (endtime IS NULL OR starttime IS NULL OR endtime >= starttime),
    scanned_at   INTEGER NOT NULL CHECK (scanned_at >= 0),
    mac          TEXT,
    mac_vendor   TEXT,
    hostnames    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(hostnames)),
    os_name      TEXT,
    os_accuracy  INTEGER CHECK (os_accuracy IS NULL OR os_accuracy BETWEEN 0 AND 100),
    os_vendor    TEXT,
    os_family    TEXT,
    os_gen       TEXT,
    os_type      TEXT,
    os_cpe       TEXT,
    uptime       INTEGER CHECK (uptime IS NULL OR uptime >= 0),
    lastboot     TEXT,
    distance     INTEGER CHECK (distance IS NULL OR distance BETWEEN 0 AND 255),
    PRIMARY KEY (job_id, host_id)
) WITHOUT ROWID;
CREATE INDEX host_scans_host ON host_scans(host_id, scanned_at);

CREATE TABLE ports (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    host_id      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol     TEXT NOT NULL CHECK (protocol = 'tcp' OR protocol = 'udp' OR protocol = 'sctp' OR protocol = 'ip'),
    port         INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    state        TEXT NOT NULL CHECK (state = 'open' OR state = 'closed' OR state = 'filtered' OR state = 'unfiltered' OR state = 'open|filtered' OR state = 'closed|filtered'),
    reason       TEXT,
    reason_ttl   INTEGER CHECK (reason_ttl IS NULL OR reason_ttl BETWEEN 0 AND 255),
    service      TEXT,
    product      TEXT,
    version      TEXT,
    extrainfo    TEXT,
    ostype       TEXT,
    method       TEXT CHECK (method IS NULL OR (method = 'table' OR method = 'probed')),
    conf         INTEGER CHECK (conf IS NULL OR conf BETWEEN 0 AND 10),
    tunnel       TEXT,
    cpe          TEXT CHECK (cpe IS NULL OR json_valid(cpe)), -- JSON array
    PRIMARY KEY (job_id, host_id, protocol, port)
) WITHOUT ROWID;
-- ports by (job, host) is the primary key.  Open ports by (protocol, port)
-- and by service are partial indexes: closed/filtered ports and ports without
-- service detection cost nothing to index.
CREATE INDEX ports_open ON ports(protocol, port) WHERE state = 'open';
CREATE INDEX ports_service ON ports(service) WHERE service IS NOT NULL AND state = 'open';

CREATE TABLE extraports (
    job_id   INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    host_id  INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    state    TEXT NOT NULL CHECK (state = 'open' OR state = 'closed' OR state = 'filtered' OR state = 'unfiltered' OR state = 'open|filtered' OR state = 'closed|filtered'),
    count    INTEGER NOT NULL CHECK (count >= 0),
    reasons  TEXT,
    PRIMARY KEY (job_id, host_id, state)
) WITHOUT ROWID;

CREATE TABLE scripts (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    host_id    INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol   TEXT CHECK (protocol IS NULL OR (protocol = 'tcp' OR protocol = 'udp' OR protocol = 'sctp' OR protocol = 'ip')),
    port       INTEGER CHECK (port IS NULL OR port BETWEEN 0 AND 65535),
    script_id  TEXT NOT NULL,
    output     TEXT NOT NULL,
    CHECK ((protocol IS NULL) = (port IS NULL))
);
CREATE INDEX scripts_job_host ON scripts(job_id, host_id);
CREATE INDEX scripts_host ON scripts(host_id);

CREATE TABLE host_events (
    id           INTEGER PRIMARY KEY,
    host_id      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    prev_job_id  INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    kind         TEXT NOT NULL CHECK (kind = 'host_up' OR kind = 'host_down' OR kind = 'port_opened' OR kind = 'port_closed' OR kind = 'service_changed' OR kind = 'os_changed' OR kind = 'mac_changed' OR kind = 'hostname_changed' OR kind = 'script_changed'),
    protocol     TEXT CHECK (protocol IS NULL OR (protocol = 'tcp' OR protocol = 'udp' OR protocol = 'sctp' OR protocol = 'ip')),
    port         INTEGER CHECK (port IS NULL OR port BETWEEN 0 AND 65535),
    old_value    TEXT,
    new_value    TEXT,
    at           INTEGER NOT NULL CHECK (at >= 0)
);
CREATE INDEX host_events_host_at ON host_events(host_id, at);
CREATE INDEX host_events_at ON host_events(at);
CREATE INDEX host_events_job ON host_events(job_id);
