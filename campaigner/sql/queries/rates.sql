-- name: ensure-schedules
-- Shared throttle: create the schedules in $1 that do not exist yet (free from now on).
INSERT INTO rate_schedule (key, tat) SELECT unnest($1::text[]), clock_timestamp() ON CONFLICT (key) DO NOTHING;

-- name: reserve-start
-- Shared throttle: one start time that every schedule in $1 allows (the latest of their tats, or
-- $3 seconds after the current time once the rows are locked: an idle schedule's first start,
-- delayed by a random part of a slot so that accounts started together do not send in step), each
-- schedule then moved on by its cost $2[i] seconds. Rows are locked in key order, so two daemons
-- reserving on the same account never deadlock. Returns that start as a Unix time (the callers
-- share the machine's or NTP's clock, which is closer than a round-trip estimate), and how many
-- schedules it found (fewer: create them first).
WITH locked AS (
    SELECT key, tat FROM rate_schedule WHERE key = ANY ($1::text[]) ORDER BY key FOR UPDATE
), start AS (
    SELECT greatest(max(tat), clock_timestamp() + make_interval(secs => $3)) AS at, count(*) AS found
    FROM locked
), moved AS (
    UPDATE rate_schedule s
    SET tat = start.at + make_interval(secs => r.cost)
    FROM unnest($1::text[], $2::double precision[]) AS r (key, cost), start
    WHERE s.key = r.key
    RETURNING s.key
)
SELECT extract(epoch FROM start.at)::double precision AS at, start.found,
       (SELECT count(*) FROM moved) AS moved
FROM start;

-- name: reserve-starts
-- Shared throttle, several accounts at once (the daemon's ScheduleBatcher): reserve-start for each
-- group $3[i] of keys $1[i] with costs $2[i], independently, in one round trip; group g's idle delay
-- is $4[g + 1]. A key is in one group at most (an UPDATE moves a row once). Per group: its start as
-- a Unix time, how many of its schedules were found and how many moved (see reserve-start).
WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::double precision[], $3::int[]) AS w (key, cost, grp)
), locked AS (
    SELECT key, tat FROM rate_schedule WHERE key = ANY ($1::text[]) ORDER BY key FOR UPDATE
), start AS (
    SELECT w.grp,
           greatest(max(l.tat), clock_timestamp() + make_interval(secs => ($4::double precision[])[w.grp + 1]))
               AS at,
           count(l.key) AS found
    FROM wanted w LEFT JOIN locked l ON l.key = w.key
    GROUP BY w.grp
), moved AS (
    UPDATE rate_schedule s
    SET tat = start.at + make_interval(secs => w.cost)
    FROM wanted w JOIN start ON start.grp = w.grp
    WHERE s.key = w.key
    RETURNING w.grp
)
SELECT start.grp, extract(epoch FROM start.at)::double precision AS at, start.found,
       (SELECT count(*) FROM moved WHERE moved.grp = start.grp) AS moved
FROM start ORDER BY start.grp;

-- name: push-schedule
-- Shared throttle: the provider said 429; nobody on this account starts before $2 seconds from now.
INSERT INTO rate_schedule AS s (key, tat) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE SET tat = greatest(s.tat, excluded.tat);
