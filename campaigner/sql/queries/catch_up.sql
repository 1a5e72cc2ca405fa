-- Receipt catch-up: asking the provider about messages whose receipt never came.

-- name: awaiting-receipt-jobs
-- Submitted jobs of campaign $1 waiting at least $2 seconds for a receipt, oldest first, up to $3.
SELECT provider_id FROM jobs
WHERE campaign_id = $1 AND state = 'submitted' AND provider_id IS NOT NULL
  AND submitted_at < now() - make_interval(secs => $2)
ORDER BY submitted_at, id
LIMIT $3;

-- name: campaigns-awaiting-receipts
-- The daemon's catch-up: campaigns of account $1 that count submitted jobs (from the counters).
SELECT c.id FROM campaigns c
WHERE c.provider_account = $1
  AND (SELECT coalesce(sum(jc.jobs), 0) FROM job_counts jc
       WHERE jc.campaign_id = c.id AND jc.state = 'submitted') > 0
ORDER BY c.id;
