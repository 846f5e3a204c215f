-- 0012_hosts_gone: a host that stopped answering (docs/HISTORY.md, "Gone").
--
-- job_targets: the address ranges a job was told to scan (its targets, read
-- from nmap's command line: addresses, CIDRs, octet ranges), as addr_key
-- ranges (core/addr.h: 16 bytes, IPv4 v4-mapped, sorting numerically).  A
-- job covers a host when the host's address is in one of them, or when the
-- job listed it.  Jobs stored before this migration have none: they cover
-- only the hosts they listed.
--
-- host_state.misses: the covering scans in a row, up to the latest, that
-- saw the host down or did not list it; miss_job_id / miss_at the latest
-- of those that did not list it (its order key, scan time then job id:
-- a scan older than it is a late one).  miss_job_id is no foreign key: it
-- is an order key only, kept when prune removes that job (prune keeps the
-- jobs the current state names, and this is not one of them).
--
-- hosts.status may be 'gone' and host_events.kind 'host_gone'.  SQLite
-- cannot change a CHECK in place.  A rebuild (new table, copy, DROP, rename)
-- is not possible here: migrations run in a transaction, where PRAGMA
-- foreign_keys cannot be turned off, and DROP TABLE hosts with foreign keys
-- on deletes every row of every table that references it (ON DELETE
-- CASCADE).  This is SQLite's documented procedure for a change that no
-- stored row can violate ("Making Other Kinds Of Table Schema Changes",
-- lang_altertable.html), as 0007 did: the CHECK's text is rewritten in
-- sqlite_schema (a value more is allowed: every row still passes), the
-- schema reloaded (RESET), and the ALTER TABLE below bumps the schema
-- cookie so that every other connection reloads it.  Indexes, foreign keys
-- and views stay as they are, untouched.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (status = ''unknown'' OR status = ''up'' OR status = ''down'' OR status = ''skipped'')',
       'CHECK (status = ''unknown'' OR status = ''up'' OR status = ''down'' OR status = ''skipped'' OR status = ''gone'')')
 WHERE type = 'table' AND name = 'hosts';
UPDATE sqlite_schema
   SET sql = replace(sql, 'OR kind = ''script_changed'')', 'OR kind = ''script_changed'' OR kind = ''host_gone'')')
 WHERE type = 'table' AND name = 'host_events';
PRAGMA writable_schema = RESET;

ALTER TABLE host_state ADD COLUMN misses INTEGER NOT NULL DEFAULT 0 CHECK (misses >= 0);
ALTER TABLE host_state ADD COLUMN miss_job_id INTEGER;
ALTER TABLE host_state ADD COLUMN miss_at INTEGER CHECK (miss_at IS NULL OR miss_at >= 0);

CREATE TABLE job_targets (
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    lo      BLOB NOT NULL CHECK (length(lo) = 16),
    hi      BLOB NOT NULL CHECK (length(hi) = 16 AND hi >= lo),
    PRIMARY KEY (job_id, lo, hi)
) WITHOUT ROWID;
