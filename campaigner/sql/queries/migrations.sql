-- name: migrations-lock
-- Serialises migration runs from several processes until the transaction ends.
SELECT pg_advisory_xact_lock(7261504173);

-- name: migrations-table
-- The record of applied migrations (created under the lock, so two processes never race on it).
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: migrations-table-exists
-- Whether any migration ever ran here (db status, and the lock-free "nothing to do" fast path).
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: applied-migrations
-- Versions already applied, to skip them.
SELECT version, name, applied_at FROM schema_migrations ORDER BY version;

-- name: record-migration
-- Marks one migration applied, in the same transaction as its statements.
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);

-- name: server-version
-- For db status.
SELECT current_setting('server_version') AS version, current_database() AS database;
