-- 0012_hosts_gone down: no 'gone' status, no host_gone event, no ranges.
-- A gone host becomes 'down' (the last scans saw it down or did not list
-- it); its host_gone events are deleted.  The CHECKs are tightened as 0012
-- loosened them, once no row holds the values they refuse.
UPDATE hosts SET status = 'down' WHERE status = 'gone';
DELETE FROM host_events WHERE kind = 'host_gone';
DROP TABLE job_targets;
ALTER TABLE host_state DROP COLUMN miss_at;
ALTER TABLE host_state DROP COLUMN miss_job_id;
ALTER TABLE host_state DROP COLUMN misses;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (status = ''unknown'' OR status = ''up'' OR status = ''down'' OR status = ''skipped'' OR status = ''gone'')',
       'CHECK (status = ''unknown'' OR status = ''up'' OR status = ''down'' OR status = ''skipped'')')
 WHERE type = 'table' AND name = 'hosts';
UPDATE sqlite_schema
   SET sql = replace(sql, 'OR kind = ''script_changed'' OR kind = ''host_gone'')', 'OR kind = ''script_changed'')')
 WHERE type = 'table' AND name = 'host_events';
PRAGMA writable_schema = RESET;
-- (bumps the schema cookie: every connection reloads the tightened CHECKs)
CREATE TABLE gone_0012_cookie (x INTEGER);
DROP TABLE gone_0012_cookie;
