-- name: register-worker
-- A dispatcher starting: announce itself (the same id again refreshes it).
INSERT INTO workers (id, hostname, pid) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET hostname = $2, pid = $3, started_at = now(), heartbeat_at = now();

-- name: heartbeat
-- A dispatcher alive; no row means it was declared dead and removed.
UPDATE workers SET heartbeat_at = now() WHERE id = $1 RETURNING id;

-- name: unregister-worker
-- A dispatcher stopping cleanly.
DELETE FROM workers WHERE id = $1;

-- name: dead-workers
-- Workers silent for longer than $1 seconds.
SELECT id, hostname, pid, started_at, heartbeat_at FROM workers
WHERE heartbeat_at < now() - make_interval(secs => $1) ORDER BY id;

-- name: list-workers
-- db status: the workers seen.
SELECT id, hostname, pid, started_at, heartbeat_at FROM workers ORDER BY id;
