-- name: purgeable-campaigns
-- campaigner purge: campaigns that ended (completed, cancelled, failed) before $1 and still have
-- their jobs, oldest first.
SELECT c.id, c.name, c.state, c.finished_at,
       coalesce((SELECT sum(n.jobs) FROM job_counts n WHERE n.campaign_id = c.id), 0)::bigint AS jobs
FROM campaigns c
WHERE c.state IN ('completed', 'cancelled', 'failed') AND c.purged_at IS NULL AND c.finished_at < $1
ORDER BY c.finished_at, c.id;

-- name: mark-campaign-purged
-- campaigner purge: mark campaign $1 before its jobs go, only while it is still ended (a retry may
-- have restarted it since it was listed). No row: not purged.
UPDATE campaigns SET purged_at = now()
WHERE id = $1 AND state IN ('completed', 'cancelled', 'failed') AND purged_at IS NULL
RETURNING id;

-- name: purge-campaign-jobs
-- campaigner purge: delete up to $2 jobs of purged campaign $1 (one short transaction a batch, so
-- no lock or transition table grows with the campaign); returns how many went.
WITH doomed AS (
    SELECT id FROM jobs WHERE campaign_id = $1 LIMIT $2
), gone AS (
    DELETE FROM jobs j USING doomed
    WHERE j.campaign_id = $1 AND j.id = doomed.id
      AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.purged_at IS NOT NULL)
    RETURNING 1
)
SELECT count(*) AS jobs FROM gone;

-- name: unfinished-purges
-- campaigner purge: campaigns marked purged whose jobs may not all be gone (an interrupted purge
-- finishes them first).
SELECT id, name, state, finished_at, 0::bigint AS jobs FROM campaigns
WHERE purged_at IS NOT NULL AND purge_finished_at IS NULL
ORDER BY id;

-- name: finish-purge
-- campaigner purge: every job of campaign $1 is gone.
UPDATE campaigns SET purge_finished_at = now() WHERE id = $1 AND purged_at IS NOT NULL;
