-- 0002_history down.
ALTER TABLE host_events DROP COLUMN detail;
DROP TABLE port_state;
