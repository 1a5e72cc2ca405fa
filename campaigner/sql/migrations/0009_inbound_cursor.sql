-- Replies read by polling the provider's inbound list: where each account's reading stopped, so a
-- restarted daemon neither misses a reply nor reads one twice.
CREATE TABLE inbound_cursors (
    account text PRIMARY KEY,
    last_id bigint NOT NULL,
    last_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
