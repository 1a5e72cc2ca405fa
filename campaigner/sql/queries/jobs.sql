-- name: claim-jobs
-- The dispatcher: take up to $3 due pending jobs of a running campaign, oldest first; several
-- dispatchers on one campaign skip each other's rows instead of waiting. Only jobs after
-- ($5, $6) in (next_attempt_at, id) order: the scan of jobs_claimable starts there instead of
-- walking the entries of every job claimed since the last vacuum (NULLs = from the start;
-- JobStore.claim_jobs says when it passes a floor).
-- The suppression list is enforced here (sql/migrations/0006_claim_time_suppression.sql): a due
-- job whose number is listed (or has no opt-in where the campaign requires one) becomes
-- `skipped`, the others `sending`. Both updates see one snapshot,
-- so each job goes exactly one way. Rows: claimed = true for a job to send, false for a skipped
-- one (only its id and next_attempt_at, which the next floor needs).
-- Nothing is handed out once the campaign's valid_until has passed (expire-pending-jobs ends them).
-- The frequency cap (sql/migrations/0014_caps_and_expiry.sql), when $7 (N) is not NULL: each number
-- about to be handed out takes a slot in recipient_caps of the campaign's account, in e164 order,
-- only while fewer than $7 other jobs hold one within the last $8 seconds; the row lock makes a
-- concurrent claim of the same number (another campaign) wait and then see this slot. A job that
-- gets no slot is capped: $9 = 'skip' -> skipped (frequency_cap); 'wait' -> pending again, due
-- when the oldest slot in its window leaves it (as far as this statement's snapshot shows; else a
-- whole window from now). The slot arithmetic is in 0014's campaigner_cap_* functions.
WITH camp AS MATERIALIZED (
    SELECT provider_account AS account FROM campaigns
    WHERE id = $1 AND state = 'running' AND (valid_until IS NULL OR valid_until > now())
), due AS MATERIALIZED (
    SELECT id, e164, next_attempt_at FROM jobs
    WHERE campaign_id = $1 AND state = 'pending' AND next_attempt_at <= now()
      AND (next_attempt_at, id) > (coalesce($5::timestamptz, '-infinity'), coalesce($6::bigint, 0))
      AND EXISTS (SELECT 1 FROM camp)
    ORDER BY next_attempt_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), listed AS MATERIALIZED (
    -- Skipped: a number listed account-wide or for the campaign's sender (0013_consent.sql:
    -- suppressions.sender, letters and digits only) -> suppressed; else, in a campaign created
    -- under consent.require_opt_in, a number with no recorded opt-in -> no_consent.
    SELECT due.id, CASE WHEN sup.listed THEN 'suppressed' ELSE 'no_consent' END AS code
    FROM due
    CROSS JOIN (SELECT regexp_replace(sender, '[^0-9A-Za-z]', '', 'g') AS scope, require_opt_in
                FROM campaigns WHERE id = $1) c
    CROSS JOIN LATERAL (
        SELECT EXISTS (SELECT 1 FROM suppressions s
                       WHERE s.e164 = due.e164 AND s.sender IN ('', c.scope)) AS listed
    ) sup
    WHERE sup.listed
       OR (c.require_opt_in AND NOT EXISTS (SELECT 1 FROM consents k
                                            WHERE k.e164 = due.e164 AND k.sender IN ('', c.scope)))
), admitted AS MATERIALIZED (
    -- One job a number (DISTINCT ON: an upsert may change a row once a statement).
    INSERT INTO recipient_caps AS r (account, e164, job_ids, claimed_at)
    SELECT DISTINCT ON (d.e164 COLLATE "C") camp.account, d.e164, ARRAY[d.id], ARRAY[now()]
    FROM due d CROSS JOIN camp
    WHERE $7::integer IS NOT NULL AND d.id NOT IN (SELECT id FROM listed)
    ORDER BY d.e164 COLLATE "C", d.id
    ON CONFLICT (account, e164) DO UPDATE
    SET job_ids = campaigner_cap_ids(r.job_ids, excluded.job_ids[1], $7),
        claimed_at = campaigner_cap_times(r.job_ids, r.claimed_at, excluded.job_ids[1], now(), $7)
    WHERE campaigner_cap_admits(r.job_ids, r.claimed_at, now() - make_interval(secs => $8),
                                excluded.job_ids[1], $7)
    RETURNING r.e164, r.job_ids[cardinality(r.job_ids)] AS id
), capped AS MATERIALIZED (
    -- A second job of an admitted number (never from the planner, which dedupes) waits untouched.
    SELECT d.id, d.next_attempt_at,
           greatest(coalesce((SELECT campaigner_cap_frees_at(rc.claimed_at, $7, make_interval(secs => $8))
                              FROM recipient_caps rc WHERE rc.account = camp.account AND rc.e164 = d.e164 COLLATE "C"),
                             now() + make_interval(secs => $8)),
                    now() + interval '1 second') AS free_at
    FROM due d CROSS JOIN camp
    WHERE $7::integer IS NOT NULL AND d.id NOT IN (SELECT id FROM listed)
      AND d.e164 COLLATE "C" NOT IN (SELECT e164 FROM admitted)
), skipped AS (
    UPDATE jobs j
    SET state = 'skipped', error_code = listed.code, finished_at = now(), updated_at = now()
    FROM listed
    WHERE j.campaign_id = $1 AND j.id = listed.id
    RETURNING j.id, j.next_attempt_at
), held AS (
    UPDATE jobs j
    SET state = CASE WHEN $9::text = 'wait' THEN 'pending' ELSE 'skipped' END,
        error_code = 'frequency_cap',
        next_attempt_at = CASE WHEN $9::text = 'wait' THEN c.free_at ELSE j.next_attempt_at END,
        finished_at = CASE WHEN $9::text = 'wait' THEN NULL ELSE now() END,
        updated_at = now()
    FROM capped c
    WHERE j.campaign_id = $1 AND j.id = c.id
    RETURNING j.id, c.next_attempt_at
), claimed AS (
    UPDATE jobs j
    SET state = 'sending', attempts = j.attempts + 1, worker_id = $2,
        lease_expires_at = now() + make_interval(secs => $4), sending_at = now(), updated_at = now()
    FROM due
    WHERE j.campaign_id = $1 AND j.id = due.id AND due.id NOT IN (SELECT id FROM listed)
      AND ($7::integer IS NULL OR due.id IN (SELECT id FROM admitted))
    RETURNING j.id, j.e164, j.body, j.segments, j.attempts, j.country, j.sending_at, j.next_attempt_at
)
SELECT true AS claimed, * FROM claimed
UNION ALL
SELECT false, id, NULL, NULL, NULL, NULL, NULL, NULL, next_attempt_at FROM skipped
UNION ALL
SELECT false, id, NULL, NULL, NULL, NULL, NULL, NULL, next_attempt_at FROM held;

-- name: expire-pending-jobs
-- The dispatcher, once the campaign's valid_until has passed: every job still pending -> expired
-- (final, never sent). Jobs in sending are not touched: their runner releases them unsent (then
-- they are pending and expire here) or their send is settled by asking, as always.
UPDATE jobs SET state = 'expired', error_code = 'expired', finished_at = now(), updated_at = now()
WHERE campaign_id = $1 AND state = 'pending'
  AND EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND valid_until <= now());

-- name: capped-numbers
-- The preview: numbers of account $1 that hold $2 slots within the last $3 seconds now.
SELECT e164 FROM recipient_caps
WHERE account = $1 AND NOT campaigner_cap_admits(job_ids, claimed_at, now() - make_interval(secs => $3), 0, $2);

-- name: record-results
-- The dispatcher: write back a batch of send results (retry_in: seconds until a pending job is due);
-- only jobs this worker still holds in sending change.
UPDATE jobs j
SET state = r.state,
    provider_id = coalesce(r.provider_id, j.provider_id),
    error_code = r.error_code,
    error_class = r.error_class,
    error_message = r.error_message,
    next_attempt_at = CASE WHEN r.state = 'pending' THEN now() + make_interval(secs => r.retry_in)
                           ELSE j.next_attempt_at END,
    attempts = greatest(j.attempts + r.attempts_delta, 0),
    worker_id = NULL,
    lease_expires_at = NULL,
    submitted_at = CASE WHEN r.state = 'submitted' THEN now() ELSE j.submitted_at END,
    finished_at = CASE WHEN r.state = 'rejected' THEN now() ELSE j.finished_at END,
    reported_segments = coalesce(r.reported_segments, j.reported_segments),
    reported_cost = coalesce(r.reported_cost, j.reported_cost),
    updated_at = now()
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::double precision[], $9::integer[], $10::integer[], $11::numeric[])
    AS r (id, state, provider_id, error_code, error_class, error_message, retry_in, attempts_delta,
          reported_segments, reported_cost)
WHERE j.id = r.id AND j.state = 'sending' AND j.worker_id = $1;

-- name: release-jobs
-- The dispatcher on shutdown: jobs it claimed but never sent go back to pending, not an attempt.
UPDATE jobs
SET state = 'pending', attempts = greatest(attempts - 1, 0), worker_id = NULL, lease_expires_at = NULL,
    sending_at = NULL, updated_at = now()
WHERE id = ANY ($2::bigint[]) AND state = 'sending' AND worker_id = $1;

-- name: stale-sending-jobs
-- Reconciliation: sending jobs of a campaign whose lease expired or whose worker is silent or gone.
SELECT j.id, j.e164, j.body, j.segments, j.attempts, j.country, j.sending_at, j.worker_id
FROM jobs j LEFT JOIN workers w ON w.id = j.worker_id
WHERE j.campaign_id = $1 AND j.state = 'sending'
  AND (j.lease_expires_at < now() OR w.id IS NULL
       OR w.heartbeat_at < now() - make_interval(secs => $3))
ORDER BY j.id
LIMIT $2;

-- name: mark-unsettled
-- Reconciliation at a provider that cannot be asked: sending jobs of campaign $1 that no callback
-- settled within $2 seconds of their claim, and that nobody holds any more (lease expired, or the
-- worker silent for $3 s) -> $4: 'unknown' (the default policy: reported, never resent) or
-- 'pending' (provider.unsettled_policy = "resend": sent again, the attempt counted).
UPDATE jobs j
SET state = $4::text, worker_id = NULL, lease_expires_at = NULL, next_attempt_at = now(),
    error_code = 'unsettled', error_class = 'transient',
    error_message = 'no status callback settled this message: the provider may or may not have it',
    finished_at = CASE WHEN $4::text = 'unknown' THEN now() ELSE j.finished_at END, updated_at = now()
WHERE j.campaign_id = $1 AND j.state = 'sending' AND j.id IN (
    SELECT s.id FROM jobs s LEFT JOIN workers w ON w.id = s.worker_id
    WHERE s.campaign_id = $1 AND s.state = 'sending'
      AND s.sending_at < now() - make_interval(secs => $2)
      AND (s.lease_expires_at < now() OR w.id IS NULL
           OR w.heartbeat_at < now() - make_interval(secs => $3)))
RETURNING j.id;

-- name: expire-leases
-- A dispatcher with nothing queued, in flight or being looked up: jobs still in sending under its
-- worker are orphans (a write that failed, an earlier runner of the process) and due for
-- reconciliation now, not when their leases run out (the worker is alive: they do not look stale).
UPDATE jobs SET lease_expires_at = now(), updated_at = now()
WHERE campaign_id = $1 AND worker_id = $2 AND state = 'sending' AND lease_expires_at > now();

-- name: settle-reconciled
-- Reconciliation: found at the provider -> submitted; not found -> pending (the attempt stays
-- counted). Guarded by the attempts (and, when given, the sending_at) the reconciler saw, so two
-- reconcilers, or a reconciler and a later claim of the same job, never both win.
UPDATE jobs j
SET state = CASE WHEN r.found THEN 'submitted' ELSE 'pending' END,
    provider_id = CASE WHEN r.found THEN r.provider_id ELSE j.provider_id END,
    submitted_at = CASE WHEN r.found THEN now() ELSE j.submitted_at END,
    next_attempt_at = CASE WHEN r.found THEN j.next_attempt_at ELSE now() END,
    worker_id = NULL,
    lease_expires_at = NULL,
    updated_at = now()
FROM unnest($1::bigint[], $2::integer[], $3::boolean[], $4::text[], $5::timestamptz[])
    AS r (id, attempts, found, provider_id, sending_at)
WHERE j.id = r.id AND j.state = 'sending' AND j.attempts = r.attempts
  AND (r.sending_at IS NULL OR j.sending_at = r.sending_at);

-- name: cancel-campaign-jobs
-- campaigner cancel: every not-yet-sent job of the campaign -> cancelled (in flight and done untouched).
UPDATE jobs SET state = 'cancelled', finished_at = now(), updated_at = now()
WHERE campaign_id = $1 AND state = 'pending';

-- name: retry-rejected
-- campaigner retry: rejected jobs whose error class is one of $2 (transient, account, funds) ->
-- pending now with a fresh attempt count. Never an opt-out, never a job the provider accepted.
UPDATE jobs
SET state = 'pending', next_attempt_at = now(), attempts = 0, finished_at = NULL, updated_at = now()
WHERE campaign_id = $1 AND state = 'rejected' AND error_class = ANY ($2::text[])
  AND error_class NOT IN ('opt_out', 'recipient');

-- name: retry-unknown
-- campaigner retry --unknown: jobs no callback settled (the provider may have them) -> pending now,
-- with a fresh attempt count. The operator chose to risk a duplicate rather than a message lost.
UPDATE jobs
SET state = 'pending', next_attempt_at = now(), attempts = 0, finished_at = NULL, updated_at = now()
WHERE campaign_id = $1 AND state = 'unknown';

-- name: get-job
-- Tests and export tools: one job by id.
SELECT * FROM jobs WHERE id = $1;

-- name: set-job-state
-- Tests: force a state change (the transition trigger still applies).
UPDATE jobs SET state = $2, updated_at = now() WHERE id = $1;

-- name: add-loaded-jobs
-- campaigner create, after its COPY: count the $2 new pending jobs (total cost $3) of campaign $1
-- (jobs have no INSERT trigger since sql/migrations/0006_claim_time_suppression.sql).
INSERT INTO job_counts (campaign_id, state, shard, jobs, cost) VALUES ($1, 'pending', 0, $2, $3);
