-- Consent (0013_consent.sql): the ledger read for an auditor, recorded opt-ins, and the outbox of
-- confirmation replies the daemon's reply sender works through (campaigner/app/reply_sender.py).

-- name: consent-history
-- suppress history, the dashboard: number $1's ledger rows, oldest first.
SELECT id, e164, action, source, sender, occurred_at, recorded_at, campaign_id, provider_account, detail
FROM consent_ledger WHERE e164 = $1 ORDER BY id;

-- name: consent-replies-of
-- suppress history, the dashboard: the confirmation replies sent (or owed) to number $1.
SELECT id, provider_account, inbound_provider_id, kind, language, body, segments, cost, state,
       attempts, provider_id, error_code, created_at, sent_at
FROM reply_outbox WHERE e164 = $1 ORDER BY id;

-- name: consent-export
-- suppress export: ledger rows recorded at or after $1, in order (an auditor's extract).
SELECT id, e164, action, source, sender, occurred_at, recorded_at, campaign_id, provider_account, detail
FROM consent_ledger WHERE recorded_at >= $1 ORDER BY recorded_at, id;

-- name: import-consents
-- suppress import-consent: recorded opt-ins (numbers $1, times $2, sources $3; one entry a number,
-- numbers distinct) and their ledger rows (imported), in one statement. A newer opt-in already
-- recorded keeps its time. Returns how many numbers were new to the opt-in list.
WITH given AS (
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS g (e164, opted_in_at, source)
), stored AS (
    INSERT INTO consents (e164, sender, opted_in_at, source)
    SELECT e164, '', opted_in_at, source FROM given ORDER BY e164
    ON CONFLICT (e164, sender) DO UPDATE
        SET opted_in_at = greatest(consents.opted_in_at, excluded.opted_in_at),
            source = CASE WHEN excluded.opted_in_at > consents.opted_in_at THEN excluded.source
                          ELSE consents.source END,
            recorded_at = now()
    RETURNING e164, xmax = 0 AS inserted
), ledger AS (
    INSERT INTO consent_ledger (e164, action, source, occurred_at, provider_account, detail)
    SELECT e164, 'imported', source, opted_in_at, $4::text, 'opt-in imported' FROM given ORDER BY e164
)
SELECT count(*) FILTER (WHERE inserted) FROM stored;

-- name: consented-numbers
-- The planner under consent.require_opt_in: numbers with a recorded opt-in (account-wide or for
-- sender $1).
SELECT DISTINCT e164 FROM consents WHERE sender IN ('', $1::text);

-- name: set-campaign-consent
-- campaigner create, in the load's transaction: the campaign sends only to numbers with a
-- recorded opt-in (consent.require_opt_in when it was created).
UPDATE campaigns SET require_opt_in = $2 WHERE id = $1;

-- name: claim-replies
-- The reply sender of account $1: take up to $3 due pending replies (oldest first), worker $2,
-- lease $4 s. A HELP or opt-in reply to a number that is opted out (account-wide or for the
-- number it texted) is skipped instead, in the same statement: only the opt-out confirmation is
-- ever sent to a listed number. Rows: claimed true (send it), false (skipped).
WITH due AS MATERIALIZED (
    SELECT id, kind, e164, sender FROM reply_outbox
    WHERE provider_account = $1 AND state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), listed AS MATERIALIZED (
    SELECT due.id FROM due
    WHERE due.kind <> 'opt_out' AND EXISTS (
        SELECT 1 FROM suppressions s
        WHERE s.e164 = due.e164
          AND s.sender IN ('', regexp_replace(due.sender, '[^0-9A-Za-z]', '', 'g'))
    )
), skipped AS (
    UPDATE reply_outbox r
    SET state = 'skipped', error_code = 'suppressed', updated_at = now()
    FROM listed WHERE r.id = listed.id
    RETURNING r.id, r.kind
), claimed AS (
    UPDATE reply_outbox r
    SET state = 'sending', attempts = r.attempts + 1, worker_id = $2,
        lease_expires_at = now() + make_interval(secs => $4), updated_at = now()
    FROM due
    WHERE r.id = due.id AND due.id NOT IN (SELECT id FROM listed)
    RETURNING r.id, r.kind, r.e164, r.body, r.segments, r.attempts
)
SELECT true AS claimed, id, kind, e164, body, segments, attempts FROM claimed
UNION ALL
SELECT false, id, kind, NULL, NULL, NULL, NULL FROM skipped;

-- name: record-reply-result
-- The reply sender: one send's outcome, only while worker $2 still holds reply $1 in sending.
-- $3 the new state (sent, failed, pending, unknown), $4 the provider's id, $5 error code,
-- $6 error message, $7 seconds until a pending reply is due again, $8 true: not an attempt
-- (a throttle, an account problem).
UPDATE reply_outbox
SET state = $3::text, provider_id = coalesce($4, provider_id), error_code = $5, error_message = $6,
    next_attempt_at = CASE WHEN $3::text = 'pending' THEN now() + make_interval(secs => $7)
                           ELSE next_attempt_at END,
    attempts = CASE WHEN $8::boolean THEN greatest(attempts - 1, 0) ELSE attempts END,
    sent_at = CASE WHEN $3::text = 'sent' THEN now() ELSE sent_at END,
    worker_id = NULL, lease_expires_at = NULL, updated_at = now()
WHERE id = $1 AND state = 'sending' AND worker_id = $2
RETURNING id;

-- name: accounts-with-replies-due
-- The daemon's reply senders: which of its accounts $1 have a reply due or a lease run out (one
-- cheap statement each poll, on the two partial indexes, rather than two per account).
SELECT provider_account FROM reply_outbox
WHERE provider_account = ANY ($1::text[]) AND state = 'pending' AND next_attempt_at <= now()
UNION
SELECT provider_account FROM reply_outbox
WHERE provider_account = ANY ($1::text[]) AND state = 'sending' AND lease_expires_at < now();

-- name: abandon-reply-leases
-- The reply sender: replies left in sending whose lease ran out (a sender that crashed mid-send)
-- become unknown: the provider may have sent them, so they are reported, never sent again.
UPDATE reply_outbox
SET state = 'unknown', error_code = 'lease_expired',
    error_message = 'the sender stopped during the send: the provider may or may not have it',
    worker_id = NULL, lease_expires_at = NULL, updated_at = now()
WHERE provider_account = $1 AND state = 'sending' AND lease_expires_at < now()
RETURNING id, kind;

-- name: reply-outbox-totals
-- The dashboard and metrics: replies of account $1 by kind and state, with their cost.
SELECT kind, state, count(*) AS replies, coalesce(sum(segments), 0) AS segments,
       coalesce(sum(cost), 0) AS cost
FROM reply_outbox WHERE provider_account = $1 GROUP BY kind, state ORDER BY kind, state;
