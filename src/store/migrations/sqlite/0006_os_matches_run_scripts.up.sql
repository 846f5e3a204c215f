-- 0006_os_matches_run_scripts: what `scandb diff` compares as ndiff does and
-- the scans kept only in part.
--
-- host_scans.os_matches: every <osmatch> name of the scan, in its order, as
-- a JSON array -- ndiff compares the whole list, scandb kept the best match
-- (os_name) only.  NULL when there is none, or when the only match is the
-- best one (os_name says it all; rows stored before 0006 read the same way).
--
-- run_scripts: the run's pre-scan (<prescript>) and post-scan
-- (<postscript>) script results, in the scan's order, written in the job's
-- transaction like everything else of it.
ALTER TABLE host_scans ADD COLUMN os_matches TEXT CHECK (os_matches IS NULL OR json_valid(os_matches));

CREATE TABLE run_scripts (
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    phase      TEXT NOT NULL CHECK (phase = 'pre' OR phase = 'post'),
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    script_id  TEXT NOT NULL,
    output     TEXT NOT NULL,
    PRIMARY KEY (job_id, phase, seq)
) WITHOUT ROWID;
