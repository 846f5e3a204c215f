-- 0003_findings (PostgreSQL): things to act on (history/findings.c), their
-- lifecycle and the jobs that saw them.  Enumerations mirror enum
-- findings_severity and enum findings_status (history/findings.h).

CREATE TABLE findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id     bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    protocol    text CHECK (protocol IS NULL OR protocol IN ('tcp', 'udp', 'sctp', 'ip')),
    port        integer CHECK (port IS NULL OR port BETWEEN 0 AND 65535),
    type        text NOT NULL CHECK (type IN ('nse_vuln', 'rule')),
    source      text NOT NULL,  -- script id (nse_vuln) or event kind (rule)
    key         text,           -- e.g. the CVE of a vulners line
    title       text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending_validation', 'confirmed', 'false_positive', 'manual_review', 'skipped', 'error', 'resolved')),
    fingerprint text NOT NULL UNIQUE,
    first_seen  timestamptz NOT NULL CHECK (first_seen >= 'epoch'),
    last_seen   timestamptz NOT NULL CHECK (last_seen >= first_seen),
    state_at    timestamptz NOT NULL CHECK (state_at >= 'epoch'), -- scan time of the last scan-driven status decision
    details     jsonb,                                            -- JSON object
    CHECK ((protocol IS NULL) = (port IS NULL))
);
CREATE INDEX findings_host ON findings (host_id);
CREATE INDEX findings_status ON findings (status, severity);

-- The jobs that saw a finding (a set: replays add nothing twice).
CREATE TABLE finding_jobs (
    finding_id  bigint NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    PRIMARY KEY (finding_id, job_id)
);
CREATE INDEX finding_jobs_job ON finding_jobs (job_id);

-- Every status a finding went through: creation (old_status NULL), scans
-- that resolved or reopened it (job_id set), users (job_id NULL).
CREATE TABLE finding_status_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id  bigint NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL CHECK (at >= 'epoch'),
    job_id      bigint REFERENCES jobs(id) ON DELETE SET NULL,
    old_status  text CHECK (old_status IS NULL OR old_status IN ('open', 'pending_validation', 'confirmed', 'false_positive', 'manual_review', 'skipped', 'error', 'resolved')),
    new_status  text NOT NULL CHECK (new_status IN ('open', 'pending_validation', 'confirmed', 'false_positive', 'manual_review', 'skipped', 'error', 'resolved')),
    note        text
);
CREATE INDEX finding_status_changes_finding ON finding_status_changes (finding_id, id);
CREATE INDEX finding_status_changes_job ON finding_status_changes (job_id);
