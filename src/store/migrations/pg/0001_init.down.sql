-- 0001_init down: drop everything 0001 created, children first.
DROP TABLE host_events;
DROP TABLE scripts;
DROP TABLE extraports;
DROP TABLE ports;
DROP TABLE host_scans;
DROP TABLE hosts;
DROP TABLE jobs;
DROP TABLE targets;
