-- Receipts and replies belong to one provider account (issue 14: hardening).

-- 1. A parked receipt is kept for the account whose webhook received it, and only that account's
--    jobs can take it: provider ids are unique within an account, not across accounts (Cliqtel's
--    are small integers). Receipts parked before this migration carry no account: they go to the
--    database's one account when it has exactly one, else to none ('': they match nothing and
--    expire within the day).
ALTER TABLE pending_receipts ADD COLUMN provider_account text;
UPDATE pending_receipts
SET provider_account = coalesce(
    (SELECT min(provider_account) FROM campaigns HAVING count(DISTINCT provider_account) = 1), ''
);
ALTER TABLE pending_receipts ALTER COLUMN provider_account SET NOT NULL;
ALTER TABLE pending_receipts DROP CONSTRAINT pending_receipts_pkey;
ALTER TABLE pending_receipts ADD PRIMARY KEY (provider_account, provider_id);

-- (A receipt's job is still found by its provider id through jobs_provider_id; its campaign's
-- account is then one primary-key lookup.)

-- 2. Every message a recipient sent us, once (UNIQUE on the account and the provider's id: a
--    provider retrying a callback, or a replayed one, is a duplicate). STOP and START replies are
--    applied in the order they were sent (sent_at), and a reply that cannot be applied (its number
--    does not parse, its date is far outside the window) is kept with the reason instead of lost.
CREATE TABLE inbound_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_account text NOT NULL,
    provider_id text NOT NULL,
    -- The number as the provider wrote it, and as E.164 (NULL: it did not parse).
    from_number text NOT NULL,
    e164 text,
    to_number text NOT NULL DEFAULT '',
    -- What the text asks for (campaigner/inbound/stopwords.py).
    reply text NOT NULL CHECK (reply IN ('opt_out', 'opt_in', 'other')),
    -- When the person sent it (the provider's time, else when we received it).
    sent_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- Why it was not applied (bad_number, stale, future_dated); NULL when it was.
    problem text,
    -- The text is kept only for a message that was not applied, for a person to act on.
    body text,
    UNIQUE (provider_account, provider_id)
);

-- Serves apply-opt-replies: the newest STOP/START a number sent.
CREATE INDEX inbound_messages_opt_order ON inbound_messages (e164, sent_at, id)
    WHERE reply IN ('opt_out', 'opt_in') AND problem IS NULL;
-- Serves inbound-problems: the replies kept for a person to look at.
CREATE INDEX inbound_messages_problems ON inbound_messages (received_at) WHERE problem IS NOT NULL;
