-- 0015_api_tokens: the API tokens of `scandb serve` (`scandb token`).
--
-- A token's secret is "sdb_<id>_<64 hex random>" and is shown once, when
-- it is created; only a salted SHA-256 of its random part is kept (salt and
-- hash as hex), looked up by the id the secret carries and compared in
-- constant time (src/app/tokens.c).  A revoked token keeps its row (who
-- had access, until when); its name stays taken.  last_used_at is written
-- at most once a minute per token.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    salt          TEXT NOT NULL CHECK (length(salt) = 32),
    hash          TEXT NOT NULL CHECK (length(hash) = 64),
    created_at    INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at    INTEGER CHECK (expires_at IS NULL OR expires_at > created_at),
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
-- `token create` refuses a name in use and `token revoke NAME` finds it.
CREATE UNIQUE INDEX api_tokens_name ON api_tokens(name);
