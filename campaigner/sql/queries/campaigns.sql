-- name: insert-campaign
-- campaigner create: the campaign row, in the same transaction as the COPY of its jobs.
INSERT INTO campaigns (name, message, provider_account, sender, region, smart_encoding, state, send_at,
                       quiet_start, quiet_end, currency, valid_for, valid_until, priority)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id;

-- name: set-campaign-totals
-- campaigner create: the preview totals once every job is loaded.
UPDATE campaigns SET total_jobs = $2, estimated_cost = $3, preview = $4, updated_at = now() WHERE id = $1;

-- name: get-campaign
-- One campaign by id (status, the dispatcher's per-campaign loop).
SELECT * FROM campaigns WHERE id = $1;

-- name: watch-campaigns
-- The dispatcher's shared watcher (dispatch/campaign_watch.py): state, validity and priority of every
-- campaign this process carries, in one statement per poll instead of one per campaign.
SELECT id, state, valid_until, priority, sender FROM campaigns WHERE id = ANY($1::bigint[]);

-- name: list-campaigns
-- campaigner campaigns: every campaign with its counters (job_counts is tiny: at most 8 shards of
-- one row per state).
SELECT c.*,
       coalesce((SELECT jsonb_object_agg(k.state, k.jobs)
                 FROM (SELECT state, sum(jobs)::bigint AS jobs FROM job_counts
                       WHERE campaign_id = c.id GROUP BY state HAVING sum(jobs) <> 0) AS k),
                '{}') AS counts,
       coalesce((SELECT sum(k.cost) FROM job_counts k
                 WHERE k.campaign_id = c.id AND k.state IN ('submitted', 'delivered', 'undelivered')),
                0) AS cost_so_far
FROM campaigns c ORDER BY c.id;

-- name: running-campaign-ids
-- The daemon: campaigns whose jobs may be claimed.
SELECT id FROM campaigns WHERE state = 'running' ORDER BY id;

-- name: due-scheduled-campaigns
-- The daemon: scheduled campaigns whose send_at has come.
SELECT id FROM campaigns WHERE state = 'scheduled' AND send_at <= now() ORDER BY send_at, id;

-- name: set-campaign-state
-- Every campaign state change: guarded by the states it may come from ($3); no row = not allowed.
UPDATE campaigns SET state = $2, reason = $4 WHERE id = $1 AND state = ANY ($3::text[]) RETURNING *;

-- name: complete-campaign-if-done
-- The dispatcher: running -> completed once no job is pending or sending.
UPDATE campaigns SET state = 'completed'
WHERE id = $1 AND state = 'running'
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE campaign_id = $1 AND state = 'pending')
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE campaign_id = $1 AND state = 'sending')
RETURNING id;

-- name: job-counts
-- status, progress bars: jobs and cost per state, from the counters (never a count of jobs): the
-- sum of the state's shards (sql/migrations/0005_store_speed.sql).
SELECT state, sum(jobs)::bigint AS jobs, sum(cost) AS cost FROM job_counts WHERE campaign_id = $1
GROUP BY state;

-- name: job-counts-many
-- The daemon's gauges and progress lines: job-counts for every carried campaign in one statement.
SELECT campaign_id, state, sum(jobs)::bigint AS jobs, sum(cost) AS cost FROM job_counts
WHERE campaign_id = ANY($1::bigint[])
GROUP BY campaign_id, state;

-- name: last-errors
-- status: the most frequent errors of a campaign's failed jobs.
SELECT state, error_class, error_code, max(error_message) AS error_message, count(*) AS jobs
FROM jobs WHERE campaign_id = $1 AND state IN ('rejected', 'undelivered')
GROUP BY state, error_class, error_code ORDER BY count(*) DESC LIMIT $2;

-- name: export-jobs
-- campaigner export: every job of a campaign with its final state (streamed with a cursor), and
-- its short links' codes and the clicks people made on them (links_campaign index, 0015).
SELECT j.id, j.line, j.e164, j.country, j.state, j.attempts, j.segments, j.encoding, j.cost, j.provider_id,
       j.error_code, j.error_class, j.error_message, j.submitted_at, j.finished_at, j.reported_segments,
       j.reported_cost, l.codes AS link_codes, coalesce(l.clicks, 0) AS link_clicks,
       l.first_click_at AS link_first_click_at
FROM jobs j
LEFT JOIN LATERAL (
    SELECT string_agg(k.code, ' ' ORDER BY k.name) AS codes, sum(k.clicks)::bigint AS clicks,
           min(k.first_click_at) AS first_click_at
    FROM links k WHERE k.campaign_id = j.campaign_id AND k.line = j.line
) AS l ON true
WHERE j.campaign_id = $1 ORDER BY j.id;

-- name: reported-costs
-- campaigner status: what the provider reported for campaign $1's messages, beside our estimate.
SELECT count(reported_cost) AS messages, coalesce(sum(reported_cost), 0) AS reported,
       coalesce(sum(cost) FILTER (WHERE reported_cost IS NOT NULL), 0) AS estimated,
       count(*) FILTER (WHERE reported_segments > segments) AS more_segments
FROM jobs WHERE campaign_id = $1 AND reported_cost IS NOT NULL;

-- name: campaign-send-at-due
-- resume of a paused campaign that has a send_at: running if due, back to scheduled otherwise.
SELECT send_at <= now() FROM campaigns WHERE id = $1;

-- name: unsettled-campaign-ids
-- The daemon's sweep: campaigns of its accounts $1 that are not running but still count jobs in
-- sending (a cancel or pause during a send, a runner that died): their jobs must be settled all the
-- same. One statement for every account; from the counters, so no query walks jobs across campaigns.
SELECT c.id, c.provider_account FROM campaigns c
WHERE c.provider_account = ANY($1::text[]) AND c.state <> 'running'
  AND (SELECT coalesce(sum(jc.jobs), 0) FROM job_counts jc
       WHERE jc.campaign_id = c.id AND jc.state = 'sending') > 0
ORDER BY c.id;

-- name: pending-segments-by-country
-- The balance check of an account charged in credits: segments still to send, per country.
SELECT country, sum(segments)::bigint AS segments FROM jobs
WHERE campaign_id = $1 AND state = 'pending' GROUP BY country;

-- name: delete-campaign
-- campaigner delete: campaign $1 and every job of it, in one statement, only while it is in one of
-- the states $2 (a draft, or ended) and no job of it is being sent (a `sending` job is settled
-- first, by asking the provider). No row: another state, jobs being sent, or no such campaign.
WITH gone AS (
    DELETE FROM campaigns c
    WHERE c.id = $1 AND c.state = ANY ($2::text[])
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.campaign_id = $1 AND j.state = 'sending')
    RETURNING c.id
), jobs_gone AS (
    DELETE FROM jobs WHERE campaign_id = $1 AND EXISTS (SELECT 1 FROM gone) RETURNING 1
)
SELECT (SELECT count(*) FROM jobs_gone) AS jobs FROM gone;

-- name: delete-campaign-counters
-- campaigner delete, after delete-campaign in the same transaction: the per-state counters of
-- campaign $1 (the jobs' delete trigger brought them to zero at the end of that statement).
DELETE FROM job_counts WHERE campaign_id = $1;
