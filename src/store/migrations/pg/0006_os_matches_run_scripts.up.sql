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
ALTER TABLE host_scans ADD COLUMN os_matches jsonb
    CHECK (os_matches IS NULL OR jsonb_typeof(os_matches) = 'array');

CREATE TABLE run_scripts (
    job_id     bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    phase      text NOT NULL CHECK (phase IN ('pre', 'post')),
    seq        integer NOT NULL CHECK (seq >= 0),
    script_id  text NOT NULL,
    output     text NOT NULL,
    PRIMARY KEY (job_id, phase, seq)
);
