-- Delivery receipts that arrive early, and inbound opt-outs (campaigner/inbound/receipts.py, replies.py).

-- name: park-receipt
-- A final receipt that moved no submitted job: kept for later unless a job with that provider id is
-- already final (then it is a duplicate). final_state: the job's state if final; parked: kept now.
WITH final AS (
    SELECT state FROM jobs
    WHERE provider_id = $1 AND state IN ('delivered', 'undelivered')
    LIMIT 1
), parked AS (
    INSERT INTO pending_receipts (provider_id, status, error, occurred_at)
    SELECT $1, $2, $3, $4
    WHERE NOT EXISTS (SELECT 1 FROM final)
    ON CONFLICT (provider_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT state FROM final) AS final_state, EXISTS (SELECT 1 FROM parked) AS parked;

-- name: apply-pending-receipts
-- The daemon, every second: submitted jobs with a parked receipt -> delivered | undelivered; the
-- receipts applied, those whose job is already final, and those older than $1 seconds are deleted.
WITH moved AS (
    UPDATE jobs j
    SET state = p.status,
        error_code = CASE WHEN p.status = 'undelivered' THEN coalesce(j.error_code, 'undelivered')
                          ELSE j.error_code END,
        error_message = coalesce(p.error, j.error_message),
        finished_at = coalesce(p.occurred_at, now()),
        updated_at = now()
    FROM pending_receipts p
    WHERE j.provider_id = p.provider_id AND j.state = 'submitted'
    RETURNING p.provider_id
), gone AS (
    DELETE FROM pending_receipts p
    WHERE p.provider_id IN (SELECT provider_id FROM moved)
       OR p.received_at < now() - make_interval(secs => $1)
       OR EXISTS (SELECT 1 FROM jobs j
                  WHERE j.provider_id = p.provider_id AND j.state IN ('delivered', 'undelivered'))
    RETURNING p.provider_id IN (SELECT provider_id FROM moved) AS applied,
              p.received_at < now() - make_interval(secs => $1) AS expired
)
SELECT (SELECT count(*) FROM moved) AS applied,
       count(*) FILTER (WHERE expired AND NOT applied) AS expired
FROM gone;

-- name: count-pending-receipts
-- Tests and status: receipts waiting for their job.
SELECT count(*) FROM pending_receipts;

-- name: remove-stop-reply-suppression
-- An inbound START/UNSTOP: lift the number's suppression only if a STOP reply put it there (a manual
-- or provider suppression is never lifted by a text). Its skipped jobs stay skipped.
DELETE FROM suppressions WHERE e164 = $1 AND reason = 'stop_reply';
