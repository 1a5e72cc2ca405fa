-- The suppression list is the current state of the consent ledger (0013_consent.sql): every
-- statement here that changes it writes the ledger rows of the change in the same statement.

-- name: add-suppressions
-- suppress add/import, provider blocks: numbers $1 never to be sent to (sender scope $7: '' for
-- the whole account). An existing entry keeps its reason. Each number given is a ledger row
-- (action $4, its source from $3, campaign $5, account $6), listed now or already. Returns the
-- number of new entries.
WITH given AS (
    SELECT DISTINCT ON (g.e164) g.e164, g.origin
    FROM unnest($1::text[], $3::text[]) WITH ORDINALITY AS g (e164, origin, n)
    ORDER BY g.e164, g.n
), added AS (
    INSERT INTO suppressions (e164, sender, reason, source)
    SELECT e164, $7::text, $2::text, $8::text FROM given ORDER BY e164
    ON CONFLICT (e164, sender) DO NOTHING
    RETURNING e164
), ledger AS (
    INSERT INTO consent_ledger (e164, action, source, sender, campaign_id, provider_account, detail)
    SELECT g.e164, $4::text, g.origin, $7::text, $5::bigint, $6::text,
           $2::text || CASE WHEN g.e164 IN (SELECT e164 FROM added) THEN '' ELSE ' (already listed)' END
    FROM given g ORDER BY g.e164
)
SELECT count(*) FROM added;

-- name: remove-suppressions
-- suppress remove: numbers $1 off the list (every scope), each entry removed one ledger row
-- (manual_remove, source $2). Returns how many entries went.
WITH removed AS (
    DELETE FROM suppressions WHERE e164 = ANY ($1::text[]) RETURNING e164, sender, reason
), ledger AS (
    INSERT INTO consent_ledger (e164, action, source, sender, detail)
    SELECT e164, 'manual_remove', $2::text, sender, 'was: ' || reason FROM removed ORDER BY e164, sender
)
SELECT count(*) FROM removed;

-- name: list-suppressions
-- suppress list, and the set handed to the planner by create.
SELECT e164, sender, reason, source, created_at FROM suppressions ORDER BY e164, sender;

-- name: suppressions-since-any
-- The dispatcher's shared watcher (dispatch/campaign_watch.py): numbers suppressed after $1 under any
-- of the scopes $2 ('' account-wide, and the carried campaigns' senders), once a poll for them all.
SELECT e164, sender, created_at FROM suppressions
WHERE created_at > $1 AND sender = ANY($2::text[]) ORDER BY created_at;
