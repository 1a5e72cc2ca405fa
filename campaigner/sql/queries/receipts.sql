-- Delivery receipts, scoped to the provider account whose webhook received them
-- (campaigner/inbound/receipts.py). A provider id names a message within one account only.

-- name: apply-receipts
-- The final receipts of one or more webhook requests, of one or more accounts, in one statement:
-- one array entry a receipt: $1 the account whose webhook received it, $2..$6 provider id,
-- delivered|undelivered, error code, error text, when; $7 and $8 its account's parking room in
-- this statement (the same for every receipt of an account); $9, $10 the segments and cost the
-- provider reports, or NULL. (account, provider id) pairs are distinct.
-- A submitted job of the receipt's account with that id -> delivered | undelivered (once, never
-- backwards); an id whose job is already final, or already parked, is a duplicate; any other is
-- parked for apply-pending-receipts, in request order, at most $7 of an account and only while
-- that account has fewer than $8 parked (two statements at once may each fill the room that was
-- left). One row a receipt, in order: verdict accepted | duplicate | parked | park_refused, and
-- the job moved if any.
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::bigint[], $8::bigint[], $9::integer[], $10::numeric[])
        WITH ORDINALITY AS r (account, provider_id, status, error_code, error, occurred_at,
                              park_limit, park_max, reported_segments, reported_cost, n)
), moved AS (
    UPDATE jobs j
    SET state = r.status, error_code = coalesce(r.error_code, j.error_code),
        error_message = coalesce(r.error, j.error_message),
        reported_segments = coalesce(r.reported_segments, j.reported_segments),
        reported_cost = coalesce(r.reported_cost, j.reported_cost),
        finished_at = coalesce(r.occurred_at, now()), updated_at = now()
    FROM r, campaigns c
    WHERE j.provider_id = r.provider_id AND j.state = 'submitted'
      AND c.id = j.campaign_id AND c.provider_account = r.account
    RETURNING r.n, j.id AS job_id, j.campaign_id
), known AS (
    -- Seen before: its job already final (this statement's snapshot: before `moved`), or parked.
    SELECT r.n FROM r
    WHERE EXISTS (SELECT 1 FROM jobs j JOIN campaigns c ON c.id = j.campaign_id
                  WHERE j.provider_id = r.provider_id AND j.state IN ('delivered', 'undelivered')
                    AND c.provider_account = r.account)
       OR EXISTS (SELECT 1 FROM pending_receipts p
                  WHERE p.provider_account = r.account AND p.provider_id = r.provider_id)
), waiting AS (
    SELECT p.provider_account AS account, count(*) AS parked FROM pending_receipts p
    WHERE p.provider_account IN (SELECT DISTINCT account FROM r)
    GROUP BY p.provider_account
), candidates AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.account ORDER BY r.n) AS k FROM r
    WHERE r.n NOT IN (SELECT n FROM moved) AND r.n NOT IN (SELECT n FROM known)
), parkable AS (
    SELECT c.* FROM candidates c LEFT JOIN waiting w ON w.account = c.account
    WHERE c.k <= greatest(0, least(c.park_limit, c.park_max - coalesce(w.parked, 0)))
), parked AS (
    INSERT INTO pending_receipts (provider_account, provider_id, status, error, occurred_at)
    SELECT account, provider_id, status, error, occurred_at FROM parkable
    ON CONFLICT (provider_account, provider_id) DO NOTHING
    RETURNING provider_account, provider_id
)
SELECT r.provider_id,
       CASE WHEN m.n IS NOT NULL THEN 'accepted'
            WHEN EXISTS (SELECT 1 FROM parked p
                         WHERE p.provider_account = r.account AND p.provider_id = r.provider_id)
              THEN 'parked'
            WHEN r.n IN (SELECT n FROM known) OR r.n IN (SELECT n FROM parkable) THEN 'duplicate'
            ELSE 'park_refused' END AS verdict,
       m.job_id, m.campaign_id
FROM r LEFT JOIN moved m ON m.n = r.n
ORDER BY r.n;

-- name: apply-pending-receipts
-- The daemon, every second, for its account $2: its submitted jobs with a parked receipt ->
-- delivered | undelivered; the receipts applied and those whose job is already final are deleted,
-- and so is every parked receipt older than $1 seconds, whichever account it waited for.
WITH moved AS (
    UPDATE jobs j
    SET state = p.status,
        error_code = CASE WHEN p.status = 'undelivered' THEN coalesce(j.error_code, 'undelivered')
                          ELSE j.error_code END,
        error_message = coalesce(p.error, j.error_message),
        finished_at = coalesce(p.occurred_at, now()),
        updated_at = now()
    FROM pending_receipts p, campaigns c
    WHERE p.provider_account = $2 AND j.provider_id = p.provider_id AND j.state = 'submitted'
      AND c.id = j.campaign_id AND c.provider_account = $2
    RETURNING p.provider_id
), gone AS (
    DELETE FROM pending_receipts p
    WHERE (p.provider_account = $2 AND p.provider_id IN (SELECT provider_id FROM moved))
       OR p.received_at < now() - make_interval(secs => $1)
       OR (p.provider_account = $2
           AND EXISTS (SELECT 1 FROM jobs j JOIN campaigns c ON c.id = j.campaign_id
                       WHERE j.provider_id = p.provider_id AND j.state IN ('delivered', 'undelivered')
                         AND c.provider_account = $2))
    RETURNING p.provider_account = $2 AND p.provider_id IN (SELECT provider_id FROM moved) AS applied,
              p.received_at < now() - make_interval(secs => $1) AS expired
)
SELECT (SELECT count(*) FROM moved) AS applied,
       count(*) FILTER (WHERE expired AND NOT applied) AS expired
FROM gone;

-- name: accounts-with-parked-receipts
-- The daemon's housekeeping: which of its accounts $1 have receipts waiting at all (one cheap
-- statement a second, rather than apply-pending-receipts once per account).
SELECT DISTINCT provider_account FROM pending_receipts WHERE provider_account = ANY($1::text[]);

-- name: count-pending-receipts
-- Tests and status: receipts waiting for their job, of account $1 (NULL: of every account).
SELECT count(*) FROM pending_receipts WHERE $1::text IS NULL OR provider_account = $1;

-- name: settle-by-callback
-- A status callback that echoes our clientMessageId settles a job whose send was ambiguous (a lost
-- reply; a provider that cannot be asked): `sending` or `unknown` -> submitted with the provider's
-- id, so the callback's status (this or a later one) applies to it. $1 the account; one array entry
-- a callback: $2 the job id the clientMessageId names, $3 the recipient (E.164) when the id names
-- a batch request (the request's first job; the number picks the job within its campaign), NULL
-- when it names the job itself, $4 the provider's id. Jobs of other accounts are never touched.
WITH e AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[]) AS e (ref, e164, provider_id)
), named AS (
    SELECT k.campaign_id, e.ref, e.e164, e.provider_id
    FROM e JOIN jobs k ON k.id = e.ref
    JOIN campaigns c ON c.id = k.campaign_id AND c.provider_account = $1
), target AS (
    SELECT DISTINCT ON (j.id) j.id, j.campaign_id, n.provider_id
    FROM named n JOIN jobs j
      ON j.campaign_id = n.campaign_id AND j.state IN ('sending', 'unknown')
     AND (CASE WHEN n.e164 IS NULL THEN j.id = n.ref ELSE j.e164 = n.e164 END)
    ORDER BY j.id
)
UPDATE jobs j
SET state = 'submitted', provider_id = t.provider_id, submitted_at = now(), worker_id = NULL,
    lease_expires_at = NULL, error_code = NULL, error_class = NULL, error_message = NULL,
    updated_at = now()
FROM target t
WHERE j.campaign_id = t.campaign_id AND j.id = t.id AND j.state IN ('sending', 'unknown')
RETURNING j.id, j.campaign_id;
