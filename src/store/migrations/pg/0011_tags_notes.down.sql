-- 0011_tags_notes down: no tags, no notes.
DROP TABLE host_notes;
DROP TABLE host_tags;
