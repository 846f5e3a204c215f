-- 0003_findings: things to act on (history/findings.c), their lifecycle and
-- the jobs that saw them.  Enumerations mirror enum findings_severity and
-- enum findings_status (history/findings.h); written as OR chains, not IN
-- lists (SQLite 3.40 builds a temporary table per row for IN).

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    host_id     INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol    TEXT CHECK (protocol IS NULL OR protocol = 'tcp' OR protocol = 'udp' OR protocol = 'sctp' OR protocol = 'ip'),
    port        INTEGER CHECK (port IS NULL OR port BETWEEN 0 AND 65535),
    type        TEXT NOT NULL CHECK (type = 'nse_vuln' OR type = 'rule'),
    source      TEXT NOT NULL,  -- script id (nse_vuln) or event kind (rule)
    key         TEXT,           -- e.g. the CVE of a vulners line
    title       TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity = 'info' OR severity = 'low' OR severity = 'medium' OR severity = 'high' OR severity = 'critical'),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status = 'open' OR status = 'pending_validation' OR status = 'confirmed' OR status = 'false_positive' OR status = 'manual_review' OR status = 'skipped' OR status = 'error' OR status = 'resolved'),
    fingerprint TEXT NOT NULL UNIQUE,
    first_seen  INTEGER NOT NULL CHECK (first_seen >= 0),
    last_seen   INTEGER NOT NULL CHECK (last_seen >= first_seen),
    state_at    INTEGER NOT NULL CHECK (state_at >= 0), -- scan time of the last scan-driven status decision
    details     TEXT,                                    -- JSON object
    CHECK ((protocol IS NULL) = (port IS NULL))
);
CREATE INDEX findings_host ON findings (host_id);
CREATE INDEX findings_status ON findings (status, severity);

-- The jobs that saw a finding (a set: replays add nothing twice).
CREATE TABLE finding_jobs (
    finding_id  INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    PRIMARY KEY (finding_id, job_id)
) WITHOUT ROWID;
CREATE INDEX finding_jobs_job ON finding_jobs (job_id);

-- Every status a finding went through: creation (old_status NULL), scans
-- that resolved or reopened it (job_id set), users (job_id NULL).
CREATE TABLE finding_status_changes (
    id          INTEGER PRIMARY KEY,
    finding_id  INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL CHECK (at >= 0),
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    old_status  TEXT CHECK (old_status IS NULL OR old_status = 'open' OR old_status = 'pending_validation' OR old_status = 'confirmed' OR old_status = 'false_positive' OR old_status = 'manual_review' OR old_status = 'skipped' OR old_status = 'error' OR old_status = 'resolved'),
    new_status  TEXT NOT NULL CHECK (new_status = 'open' OR new_status = 'pending_validation' OR new_status = 'confirmed' OR new_status = 'false_positive' OR new_status = 'manual_review' OR new_status = 'skipped' OR new_status = 'error' OR new_status = 'resolved'),
    note        TEXT
);
CREATE INDEX finding_status_changes_finding ON finding_status_changes (finding_id, id);
CREATE INDEX finding_status_changes_job ON finding_status_changes (job_id);
