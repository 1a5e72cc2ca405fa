-- Shared rate limits: one token bucket per provider account, so that several daemons sending on
-- the same account together stay under its limits (ARCHITECTURE.md, "Throttling").
CREATE TABLE rate_buckets (
    account text PRIMARY KEY,
    -- May go negative: a caller reserves tokens ahead and waits until its share is due.
    tokens double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (fillfactor = 50);
