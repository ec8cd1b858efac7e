-- The shared token cache: one encrypted row per partition, with its version
-- (compare-and-set writes) and time limit; and short per-partition locks so
-- one instance at a time renews a user's tokens.
CREATE TABLE token_cache (
    name       text        PRIMARY KEY,
    etag       bigint      NOT NULL,
    payload    bytea       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX token_cache_expires_at ON token_cache (expires_at);

CREATE TABLE token_cache_locks (
    name       text        PRIMARY KEY,
    owner      text        NOT NULL,
    expires_at timestamptz NOT NULL
);
