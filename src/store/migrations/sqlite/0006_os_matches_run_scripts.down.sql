DROP TABLE run_scripts;
ALTER TABLE host_scans DROP COLUMN os_matches;
