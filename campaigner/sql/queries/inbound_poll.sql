-- Replies read by polling the provider's inbound list (campaigner/inbound/poller.py).

-- name: inbound-cursor
-- The poller: the newest inbound message id of account $1 already applied, and its time.
SELECT last_id, last_at FROM inbound_cursors WHERE account = $1;

-- name: save-inbound-cursor
-- The poller: inbound message $2 (received at $3) of account $1 is applied; never moves back.
INSERT INTO inbound_cursors AS c (account, last_id, last_at) VALUES ($1, $2, $3)
ON CONFLICT (account) DO UPDATE SET last_id = excluded.last_id, last_at = excluded.last_at, updated_at = now()
WHERE excluded.last_id > c.last_id;
