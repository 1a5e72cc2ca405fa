-- name: observe-campaigns
-- Dashboard, API, status: the live facts of campaign $1 (NULL: of every campaign, oldest first), in
-- one statement, so a page that polls them costs the database one query a time. Everything is read
-- from the counters (job_counts, job_minutes, 0012), the claim index (the next pending job due) and
-- the sending index (which workers hold its jobs): nothing here walks a campaign's jobs.
-- $2: seconds a worker may be silent and still count as alive (dispatcher.worker_timeout);
-- $3: minutes of timeline to include (0: none).
SELECT c.id, c.name, c.message, c.provider_account, c.sender, c.region, c.state, c.reason, c.send_at,
       c.quiet_start, c.quiet_end, c.total_jobs, c.estimated_cost, c.currency, c.preview, c.created_at,
       c.started_at, c.finished_at, c.updated_at, c.valid_until, c.priority, now() AS now,
       coalesce((SELECT jsonb_object_agg(k.state, jsonb_build_array(k.jobs, k.cost))
                 FROM (SELECT state, sum(jobs)::bigint AS jobs, sum(cost) AS cost FROM job_counts
                       WHERE campaign_id = c.id GROUP BY state HAVING sum(jobs) <> 0) AS k),
                '{}') AS totals,
       -- Jobs that left the queue (sent, refused or skipped) since the start of the previous minute.
       (SELECT coalesce(sum(m.jobs), 0)::bigint FROM job_minutes m
        WHERE m.campaign_id = c.id AND m.minute >= date_trunc('minute', now()) - interval '1 minute'
          AND m.state IN ('submitted', 'rejected', 'skipped')) AS recent_jobs,
       greatest(date_trunc('minute', now()) - interval '1 minute', c.started_at) AS recent_since,
       CASE WHEN c.state = 'running' THEN
           (SELECT min(j.next_attempt_at) FROM jobs j WHERE j.campaign_id = c.id AND j.state = 'pending')
       END AS next_due,
       (SELECT coalesce(array_agg(DISTINCT j.worker_id), '{}') FROM jobs j
        WHERE j.campaign_id = c.id AND j.state = 'sending' AND j.worker_id IS NOT NULL) AS holding,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'hostname', w.hostname, 'pid', w.pid,
                                                     'started_at', w.started_at,
                                                     'heartbeat_at', w.heartbeat_at) ORDER BY w.id), '[]')
        FROM workers w WHERE w.heartbeat_at > now() - make_interval(secs => $2)) AS live_workers,
       (SELECT max(s.tat) FROM rate_schedule s
        WHERE s.key IN (c.provider_account || ':messages', c.provider_account || ':requests')) AS booked_until,
       CASE WHEN $3 > 0 THEN
           (SELECT coalesce(jsonb_agg(jsonb_build_array(t.minute, t.state, t.jobs) ORDER BY t.minute, t.state), '[]')
            FROM (SELECT minute, state, sum(jobs)::bigint AS jobs FROM job_minutes
                  WHERE campaign_id = c.id AND minute > now() - make_interval(mins => $3)
                  GROUP BY minute, state HAVING sum(jobs) <> 0) AS t)
       END AS timeline
FROM campaigns c
WHERE $1::bigint IS NULL OR c.id = $1
ORDER BY c.id;

-- name: campaign-timeline
-- Dashboard, API, report: jobs that arrived in each state, per minute, over campaign $1's life.
SELECT minute, state, sum(jobs)::bigint AS jobs FROM job_minutes WHERE campaign_id = $1
GROUP BY minute, state HAVING sum(jobs) <> 0 ORDER BY minute, state;

-- name: campaign-countries
-- Dashboard, API, report: campaign $1's jobs past the queue and their estimated cost, per country
-- and state (from the counters of 0012).
SELECT country, state, sum(jobs)::bigint AS jobs, sum(cost) AS cost FROM job_countries
WHERE campaign_id = $1 GROUP BY country, state HAVING sum(jobs) <> 0 ORDER BY country, state;

-- name: campaign-latency
-- Dashboard, API, report: campaign $1's delivered jobs per latency bucket (0012's histogram).
SELECT bucket, sum(jobs)::bigint AS jobs FROM job_latency WHERE campaign_id = $1
GROUP BY bucket HAVING sum(jobs) <> 0 ORDER BY bucket;

-- name: campaign-sample
-- Dashboard, API: one rendered message of campaign $1 (any; its block ranges through the BRIN index).
SELECT line, e164, body, segments, encoding FROM jobs WHERE campaign_id = $1 LIMIT 1;

-- name: campaign-jobs-page
-- GET /api/campaigns/{id}/jobs: up to $4 jobs of campaign $1 after job id $3, in state $2 (NULL: any).
SELECT id, line, e164, country, state, attempts, segments, cost, provider_id, error_code, error_class,
       error_message, submitted_at, finished_at
FROM jobs
WHERE campaign_id = $1 AND ($2::text IS NULL OR state = $2) AND id > $3
ORDER BY id LIMIT $4;

-- name: account-schedules
-- Dashboard accounts page: the shared rate schedules of account $1 and how far ahead each is booked.
SELECT key, tat, greatest(extract(epoch FROM tat - clock_timestamp()), 0)::double precision AS ahead_seconds
FROM rate_schedule WHERE key IN ($1 || ':messages', $1 || ':requests') ORDER BY key;

-- name: account-names
-- Dashboard accounts page: every provider account some campaign belongs to.
SELECT DISTINCT provider_account FROM campaigns ORDER BY provider_account;

-- name: find-suppressions
-- Dashboard suppressions page: up to $2 entries from number $1 on, by number (the primary key's
-- order: the caller keeps those that start with what was searched for).
SELECT e164, reason, source, created_at FROM suppressions WHERE e164 >= $1 ORDER BY e164 LIMIT $2;

-- name: count-suppressions
-- Dashboard suppressions page: how many numbers the list holds.
SELECT count(*) FROM suppressions;

-- name: claim-idempotency-key
-- HTTP API: take key $1 for a request with hash $2; no row means the key was taken before.
INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key;

-- name: get-idempotency-key
-- HTTP API: what a key was first used for and answered (status NULL: still being handled).
SELECT key, request_hash, status, response FROM idempotency_keys WHERE key = $1;

-- name: finish-idempotency-key
-- HTTP API: the answer to keep for key $1.
UPDATE idempotency_keys SET status = $2, response = $3 WHERE key = $1;

-- name: release-idempotency-key
-- HTTP API: the request with key $1 failed before changing anything: the key may be used again.
DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL;

-- name: forget-idempotency-keys
-- HTTP API, every hour: keys older than $1 seconds are forgotten (a retry comes within minutes).
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1);
