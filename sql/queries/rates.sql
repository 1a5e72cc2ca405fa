-- name: take-tokens
-- Shared throttle: reserve $2 tokens from account $1's bucket (refilled at $3 per second, holding at
-- most $4). The bucket may go into debt; the caller waits `wait` seconds before using its tokens, so
-- every daemon is paced by one clock and no retry loop is needed.
INSERT INTO rate_buckets AS b (account, tokens, updated_at)
VALUES ($1, $4::double precision - $2::double precision, clock_timestamp())
ON CONFLICT (account) DO UPDATE
SET tokens = least($4::double precision,
                   b.tokens + $3::double precision * extract(epoch FROM clock_timestamp() - b.updated_at)::double precision)
             - $2::double precision,
    updated_at = clock_timestamp()
RETURNING greatest(0, -tokens / $3::double precision) AS wait;
