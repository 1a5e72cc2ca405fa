-- Watching a campaign (issue 15): what the dashboard, the HTTP API, `status` and `report` show,
-- kept so that none of them counts a million-row campaign's jobs. Also the HTTP API's idempotency
-- keys.

-- Jobs that arrived in each state, per minute (the timeline, and the recent rate: jobs submitted in
-- the last minute or two, not the average since the start). Sharded per backend like job_counts
-- (0005), so two dispatchers' statements do not queue on one row; readers sum the shards.
CREATE TABLE job_minutes (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    state text NOT NULL,
    shard smallint NOT NULL,
    jobs bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, minute, state, shard)
) WITH (fillfactor = 50);

-- Jobs and their estimated cost per country and state, for the states past the queue (submitted,
-- delivered, undelivered, rejected, skipped, cancelled): net changes, like job_counts. Pending and
-- sending are left out, so a claim writes nothing here (jobs are loaded pending, by COPY, with no
-- trigger: every row of these states got here through an UPDATE this trigger saw).
CREATE TABLE job_countries (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    country text NOT NULL, -- '' when unknown
    state text NOT NULL,
    shard smallint NOT NULL,
    jobs bigint NOT NULL DEFAULT 0,
    cost numeric(16, 6) NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, country, state, shard)
) WITH (fillfactor = 50);

-- Delivery latency (receipt time - submitted_at) of delivered jobs as a histogram: bucket i holds
-- latencies in [LATENCY_BOUNDS[i-1], LATENCY_BOUNDS[i]) seconds (bucket 0: below 0, a provider
-- clock behind ours). The bounds are campaigner.store.observe.LATENCY_BOUNDS; a test checks they
-- agree. p50/p95/p99 are read from it (within one bucket's width) instead of sorting every job.
CREATE TABLE job_latency (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    bucket smallint NOT NULL,
    shard smallint NOT NULL,
    jobs bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, bucket, shard)
) WITH (fillfactor = 50);

-- The histogram's bucket of a latency in seconds.
CREATE FUNCTION campaigner_latency_bucket(seconds double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT width_bucket(seconds, '{0,1,2,3,5,7,10,15,20,30,45,60,90,120,180,300,600,900,1800,3600,7200,14400,43200,86400}'::double precision[])
$$;

-- One statement-level trigger beside 0005's counters, over the same transition tables (PostgreSQL
-- builds them once per statement for both). Rows are upserted in key order: no deadlocks.
CREATE FUNCTION campaigner_observe_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS MATERIALIZED (
        SELECT n.campaign_id, coalesce(n.country, '') AS country, o.state AS old_state,
               n.state AS new_state, o.cost,
               CASE WHEN n.state = 'delivered' AND n.submitted_at IS NOT NULL
                    THEN extract(epoch FROM n.finished_at - n.submitted_at) END AS latency
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.state <> n.state
    ), minutes AS (
        INSERT INTO job_minutes AS m (campaign_id, minute, state, shard, jobs)
        SELECT campaign_id, date_trunc('minute', now()), new_state, pg_backend_pid() % 8, count(*)
        FROM changed GROUP BY 1, 3 ORDER BY 1, 3
        ON CONFLICT (campaign_id, minute, state, shard) DO UPDATE SET jobs = m.jobs + excluded.jobs
    ), countries AS (
        INSERT INTO job_countries AS k (campaign_id, country, state, shard, jobs, cost)
        SELECT c.campaign_id, c.country, d.state, pg_backend_pid() % 8, sum(d.jobs), sum(d.cost)
        FROM changed c
        CROSS JOIN LATERAL (VALUES (c.old_state, -1, -c.cost), (c.new_state, 1, c.cost)) AS d (state, jobs, cost)
        WHERE d.state NOT IN ('pending', 'sending')
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (campaign_id, country, state, shard) DO UPDATE
            SET jobs = k.jobs + excluded.jobs, cost = k.cost + excluded.cost
    )
    INSERT INTO job_latency AS l (campaign_id, bucket, shard, jobs)
    SELECT campaign_id, campaigner_latency_bucket(latency), pg_backend_pid() % 8, count(*)
    FROM changed WHERE latency IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, bucket, shard) DO UPDATE SET jobs = l.jobs + excluded.jobs;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_observe_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_observe_jobs();

-- Campaigns that already have jobs past the queue: their figures so far, from the jobs themselves
-- (once, here). Arrivals before this migration are dated by submitted_at and finished_at.
INSERT INTO job_countries (campaign_id, country, state, shard, jobs, cost)
SELECT campaign_id, coalesce(country, ''), state, 0, count(*), sum(cost) FROM jobs
WHERE state NOT IN ('pending', 'sending') AND campaign_id IN (SELECT id FROM campaigns)
GROUP BY 1, 2, 3;
INSERT INTO job_latency (campaign_id, bucket, shard, jobs)
SELECT campaign_id, campaigner_latency_bucket(extract(epoch FROM finished_at - submitted_at)), 0, count(*)
FROM jobs
WHERE state = 'delivered' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL
  AND campaign_id IN (SELECT id FROM campaigns)
GROUP BY 1, 2;
INSERT INTO job_minutes (campaign_id, minute, state, shard, jobs)
SELECT campaign_id, minute, state, 0, count(*) FROM (
    SELECT campaign_id, date_trunc('minute', submitted_at) AS minute, 'submitted' AS state FROM jobs
    WHERE submitted_at IS NOT NULL
    UNION ALL
    SELECT campaign_id, date_trunc('minute', finished_at), state FROM jobs
    WHERE finished_at IS NOT NULL AND state NOT IN ('pending', 'sending', 'submitted')
) AS arrivals
WHERE campaign_id IN (SELECT id FROM campaigns)
GROUP BY 1, 2, 3;

-- The pages of GET /api/campaigns/{id}/jobs and a campaign's sample message read one campaign's
-- jobs; a BRIN index finds its block ranges (jobs are appended campaign by campaign, by COPY) at a
-- tiny fraction of a btree's size and of its cost to COPY and to every update.
CREATE INDEX jobs_campaign_brin ON jobs USING brin (campaign_id) WITH (pages_per_range = 32);

-- The HTTP API's Idempotency-Key: a POST that creates or changes something is done once per key;
-- the same key again gets the first answer back (a second request with other content is a 422).
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash text NOT NULL,
    status integer, -- NULL while the first request is still being handled
    response jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
