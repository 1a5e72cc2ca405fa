-- name: ensure-schedules
-- Shared throttle: create the schedules in $1 that do not exist yet (free from now on).
INSERT INTO rate_schedule (key, tat) SELECT unnest($1::text[]), now() ON CONFLICT (key) DO NOTHING;

-- name: reserve-slots
-- Shared throttle: reserve one start time on each schedule in $1, costing $2[i] seconds of it.
-- Returns, per key, the seconds from now until the reserved start (0 when it may start at once).
UPDATE rate_schedule s
SET tat = greatest(s.tat, now()) + make_interval(secs => r.cost)
FROM unnest($1::text[], $2::double precision[]) AS r (key, cost)
WHERE s.key = r.key
RETURNING s.key, greatest(0, extract(epoch FROM s.tat - now())::double precision - r.cost) AS wait;

-- name: push-schedule
-- Shared throttle: the provider said 429; nobody on this account starts before $2 seconds from now.
INSERT INTO rate_schedule AS s (key, tat) VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE SET tat = greatest(s.tat, excluded.tat);
