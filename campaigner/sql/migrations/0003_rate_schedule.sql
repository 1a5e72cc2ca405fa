-- Shared rate limits (ARCHITECTURE.md, "Throttling"): several daemons on one provider account hold its
-- limits together. Each limit of each account is one row holding its theoretical arrival time (GCRA
-- with no burst): a request may start at greatest(tat, now()), and moves tat on by its cost in
-- seconds. Every daemon takes its start times from here, so together they are paced by one clock.
CREATE TABLE rate_schedule (
    -- "<account>:requests" or "<account>:messages"
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
) WITH (fillfactor = 50);

-- The token buckets of 0002 were never used by a release: the schedule above replaces them.
DROP TABLE IF EXISTS rate_buckets;
