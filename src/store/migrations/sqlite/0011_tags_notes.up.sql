-- 0011_tags_notes: what people say about hosts.  A tag is a label on a
-- host (`scandb tag`, the `tag:` search term); a note is a dated remark
-- with its author (`scandb note`), shown by `scandb host`.  Both belong to
-- the host and go with it.
CREATE TABLE host_tags (
    host_id     INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    tag         TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
    created_at  INTEGER NOT NULL CHECK (created_at >= 0),
    author      TEXT,
    PRIMARY KEY (host_id, tag)
) WITHOUT ROWID;
-- The hosts with a tag (the `tag:` term); a host's tags are the key.
CREATE INDEX host_tags_tag ON host_tags(tag, host_id);

CREATE TABLE host_notes (
    id          INTEGER PRIMARY KEY,
    host_id     INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL CHECK (at >= 0),
    author      TEXT,
    text        TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 65536)
);
CREATE INDEX host_notes_host ON host_notes(host_id, at);
