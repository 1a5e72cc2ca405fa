-- Messages recipients sent us: kept once each, STOP and START applied in the order they were sent
-- (campaigner/inbound/replies.py). The three statements of one webhook request run in one
-- transaction: record-inbound, lock-reply-numbers, apply-opt-replies.

-- name: record-inbound
-- Keep one request's messages of account $1 (arrays $2..$10, one entry a message, ids distinct);
-- a provider id the account already sent us is skipped. Returns the rows kept now.
INSERT INTO inbound_messages (provider_account, provider_id, from_number, e164, to_number, reply,
                              sent_at, problem, body)
SELECT $1, m.provider_id, m.from_number, m.e164, m.to_number, m.reply, m.sent_at, m.problem, m.body
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::text[]) WITH ORDINALITY
     AS m (provider_id, from_number, e164, to_number, reply, sent_at, problem, body, n)
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
-- suppression a STOP reply made. One row a reply: applied (false: a newer one decides), changed.
WITH mine AS (
    SELECT m.id, m.e164, m.reply, m.sent_at FROM inbound_messages m WHERE m.id = ANY ($1::bigint[])
), live AS (
    SELECT mine.* FROM mine
    WHERE NOT EXISTS (
        SELECT 1 FROM inbound_messages n
        WHERE n.e164 = mine.e164 AND n.reply IN ('opt_out', 'opt_in') AND n.problem IS NULL
          AND (n.sent_at, n.id) > (mine.sent_at, mine.id)
    )
), added AS (
    INSERT INTO suppressions (e164, reason, source)
    SELECT e164, 'stop_reply', 'inbound' FROM live WHERE reply = 'opt_out'
    ON CONFLICT (e164) DO NOTHING
    RETURNING e164
), lifted AS (
    DELETE FROM suppressions s USING live
    WHERE live.reply = 'opt_in' AND s.e164 = live.e164 AND s.reason = 'stop_reply'
    RETURNING s.e164
)
SELECT mine.id, live.id IS NOT NULL AS applied,
       mine.e164 IN (SELECT e164 FROM added UNION ALL SELECT e164 FROM lifted) AS changed
FROM mine LEFT JOIN live ON live.id = mine.id
ORDER BY mine.id;

-- name: inbound-problems
-- Tests and operators: the replies kept because they could not be applied, newest first.
SELECT id, provider_account, provider_id, from_number, to_number, reply, sent_at, received_at, problem,
       body
FROM inbound_messages WHERE problem IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT $1;
