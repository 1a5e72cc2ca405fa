-- Messages recipients sent us: kept once each, STOP and START applied in the order they were sent
-- (campaigner/inbound/replies.py). The three statements of one webhook request run in one
-- transaction: record-inbound, lock-reply-numbers, apply-opt-replies.

-- name: record-inbound
-- Keep one request's messages of account $1 (arrays $2..$11, one entry a message, ids distinct);
-- a provider id the account already sent us is skipped. Returns the rows kept now.
INSERT INTO inbound_messages (provider_account, provider_id, from_number, e164, to_number, reply,
                              sent_at, problem, body, fuzzy, language)
SELECT $1, m.provider_id, m.from_number, m.e164, m.to_number, m.reply, m.sent_at, m.problem, m.body,
       m.fuzzy, m.language
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::text[], $10::boolean[], $11::text[]) WITH ORDINALITY
     AS m (provider_id, from_number, e164, to_number, reply, sent_at, problem, body, fuzzy, language, n)
ORDER BY m.n
ON CONFLICT (provider_account, provider_id) DO NOTHING
RETURNING id, provider_id;

-- name: lock-reply-numbers
-- Until the end of the transaction, one STOP/START at a time per number (numbers $1, taken in
-- order so that two requests cannot deadlock). apply-opt-replies must see every reply committed
-- before it decides: without the lock, a STOP and a newer START decided at once could each miss
-- the other, and the older would win.
SELECT count(pg_advisory_xact_lock(hashtextextended('campaigner.reply:' || e164, 0)))
FROM (SELECT DISTINCT e164 FROM unnest($1::text[]) AS e164 ORDER BY 1) AS numbers;

-- name: apply-opt-replies
-- The STOP/START replies just recorded (inbound_messages ids $1): each is applied only if its
-- number sent no newer STOP/START (by sent_at, then by id), whichever arrived first, so a START
-- older than the latest STOP does nothing and a late STOP does not undo a newer START. A STOP adds
-- the number to the suppression list (an existing entry keeps its reason); a START lifts only a
-- suppression a STOP reply made, and records an opt-in (consents). $2 is compliance.opt_out_scope:
-- 'account' (every entry is account-wide: sender '') or 'sender' (an entry for the number the
-- person texted, its letters and digits; the order of STOPs and STARTs is then per sender too).
-- Every applied reply is one consent_ledger row, in this statement (data-modifying CTEs always run). One row a reply: applied
-- (false: a newer one decides), changed (the suppression list changed).
WITH mine AS (
    SELECT m.id, m.provider_account, m.provider_id, m.e164, m.reply, m.sent_at, m.fuzzy,
           CASE WHEN $2::text = 'sender' THEN regexp_replace(m.to_number, '[^0-9A-Za-z]', '', 'g')
                ELSE '' END AS scope
    FROM inbound_messages m WHERE m.id = ANY ($1::bigint[])
), live AS (
    SELECT mine.* FROM mine
    WHERE NOT EXISTS (
        SELECT 1 FROM inbound_messages n
        WHERE n.e164 = mine.e164 AND n.reply IN ('opt_out', 'opt_in') AND n.problem IS NULL
          AND (n.sent_at, n.id) > (mine.sent_at, mine.id)
          AND ($2::text = 'account' OR regexp_replace(n.to_number, '[^0-9A-Za-z]', '', 'g') = mine.scope)
    )
), added AS (
    INSERT INTO suppressions (e164, sender, reason, source)
    SELECT e164, scope, 'stop_reply', 'inbound' FROM live WHERE reply = 'opt_out'
    ON CONFLICT (e164, sender) DO NOTHING
    RETURNING e164
), lifted AS (
    DELETE FROM suppressions s USING live
    WHERE live.reply = 'opt_in' AND s.e164 = live.e164 AND s.sender = live.scope
      AND s.reason = 'stop_reply'
    RETURNING s.e164
), consented AS (
    INSERT INTO consents (e164, sender, opted_in_at, source)
    SELECT e164, scope, sent_at, 'inbound:' || provider_id FROM live WHERE reply = 'opt_in'
    ON CONFLICT (e164, sender) DO UPDATE
        SET opted_in_at = greatest(consents.opted_in_at, excluded.opted_in_at),
            source = excluded.source, recorded_at = now()
), ledger AS (
    INSERT INTO consent_ledger (e164, action, source, sender, occurred_at, provider_account, detail)
    SELECT e164, reply, 'inbound:' || provider_id, scope, sent_at, provider_account,
           CASE WHEN fuzzy THEN 'fuzzy: an opt-out word inside a sentence' ELSE '' END
    FROM live ORDER BY sent_at, id
)
SELECT mine.id, live.id IS NOT NULL AS applied,
       mine.e164 IN (SELECT e164 FROM added UNION ALL SELECT e164 FROM lifted) AS changed
FROM mine LEFT JOIN live ON live.id = mine.id
ORDER BY mine.id;

-- name: add-reply-outbox
-- Confirmation replies owed to inbound messages kept in this transaction (campaigner/inbound/
-- confirmations.py): one per inbound message (UNIQUE account + provider id), so a replayed
-- inbound never adds a second. Arrays $2..$10, one entry a reply.
INSERT INTO reply_outbox (provider_account, inbound_provider_id, kind, e164, sender, language, body,
                          segments, country, cost)
SELECT $1, r.inbound_provider_id, r.kind, r.e164, r.sender, r.language, r.body, r.segments, r.country,
       r.cost
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::integer[],
            $9::text[], $10::numeric[])
     AS r (inbound_provider_id, kind, e164, sender, language, body, segments, country, cost)
ON CONFLICT (provider_account, inbound_provider_id) DO NOTHING;

-- name: inbound-problems
-- Tests and operators: the replies kept because they could not be applied, newest first.
SELECT id, provider_account, provider_id, from_number, to_number, reply, sent_at, received_at, problem,
       body
FROM inbound_messages WHERE problem IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT $1;
