-- Back to 0008: late scans rebuild a host's state from all its earlier scans.
ALTER TABLE host_scans DROP COLUMN state;
