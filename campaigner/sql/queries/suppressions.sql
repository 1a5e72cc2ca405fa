-- name: add-suppressions
-- suppress add/import, opt-outs: numbers never to be sent to; an existing entry keeps its reason.
INSERT INTO suppressions (e164, reason, source)
SELECT e, $2, $3 FROM unnest($1::text[]) AS e
ON CONFLICT (e164) DO NOTHING;

-- name: remove-suppressions
-- suppress remove.
DELETE FROM suppressions WHERE e164 = ANY ($1::text[]);

-- name: list-suppressions
-- suppress list, and the set handed to the planner by create.
SELECT e164, reason, source, created_at FROM suppressions ORDER BY e164;

-- name: suppressions-since
-- The dispatcher: numbers suppressed after $1 (a STOP reply may arrive while their jobs are claimed).
SELECT e164, created_at FROM suppressions WHERE created_at > $1 ORDER BY created_at;
