-- Consent (issue 16, the consent half): a ledger of every change to a number's consent, the
-- scope of an opt-out (the whole account or one sender number), recorded opt-ins, HELP replies,
-- and the outbox of confirmation replies (each sent once per inbound message).

-- 1. The ledger: one row per consent event, never changed or removed (an auditor's record). The
--    suppression list and the opt-in list below are the current state it leads to; every
--    statement that writes either also writes its ledger rows (sql/queries/consent.sql,
--    suppressions.sql, inbound.sql), in the same statement or transaction. No foreign keys: a
--    deleted campaign must not take its consent history with it.
CREATE TABLE consent_ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    e164 text NOT NULL,
    -- opt_out, opt_in (a reply); imported (a consent list); manual_add, manual_remove (the CLI);
    -- provider_block (the provider refused the number: Clickatell 121/122/128/250).
    action text NOT NULL CHECK (action IN ('opt_out', 'opt_in', 'imported', 'manual_add',
                                           'manual_remove', 'provider_block')),
    -- Who or what says so: inbound:<provider message id>, cli:<user>@<host>, import:<file>:<line>,
    -- api:<token id>, provider:<error code>.
    source text NOT NULL,
    -- '' for the whole account; else the sender number the opt-out or opt-in is about.
    sender text NOT NULL DEFAULT '',
    -- When the person did it (a reply's date, an import's opt-in time), and when we learned it.
    occurred_at timestamptz NOT NULL DEFAULT now(),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    campaign_id bigint,
    provider_account text NOT NULL DEFAULT '',
    -- A free note: the suppression reason, "fuzzy" for an opt-out found inside a sentence.
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX consent_ledger_number ON consent_ledger (e164, id);
CREATE INDEX consent_ledger_recorded ON consent_ledger (recorded_at, id);

CREATE FUNCTION campaigner_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_ledger is append-only: % refused', TG_OP USING ERRCODE = 'CG003';
END $$;
CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE OR DELETE ON consent_ledger
    FOR EACH ROW EXECUTE FUNCTION campaigner_ledger_append_only();
CREATE TRIGGER consent_ledger_no_truncate BEFORE TRUNCATE ON consent_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_ledger_append_only();

-- 2. An opt-out is account-wide (sender '') or, with compliance.opt_out_scope = "sender", about
--    one sender number (its letters and digits only, so "+31 970…" and "31970…" are one). The
--    claim skips a job whose number is listed account-wide or for its campaign's sender.
ALTER TABLE suppressions ADD COLUMN sender text NOT NULL DEFAULT '';
ALTER TABLE suppressions DROP CONSTRAINT suppressions_pkey;
ALTER TABLE suppressions ADD PRIMARY KEY (e164, sender);

-- The entries made before the ledger existed get one row each, so that the history of every
-- listed number starts somewhere.
INSERT INTO consent_ledger (e164, action, source, occurred_at, recorded_at, detail)
SELECT e164,
       CASE WHEN reason = 'stop_reply' THEN 'opt_out'
            WHEN source LIKE 'provider%' THEN 'provider_block'
            ELSE 'manual_add' END,
       source, created_at, created_at, 'before migration 0013: ' || reason
FROM suppressions ORDER BY created_at, e164;

-- 3. Recorded opt-ins: with consent.require_opt_in, a campaign sends only to these numbers (an
--    opt-out still wins: the suppression list is checked first). Written with their ledger rows.
CREATE TABLE consents (
    e164 text NOT NULL,
    sender text NOT NULL DEFAULT '',
    opted_in_at timestamptz NOT NULL,
    source text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (e164, sender)
);

-- Fixed when the campaign is created (from consent.require_opt_in), enforced by claim-jobs.
ALTER TABLE campaigns ADD COLUMN require_opt_in boolean NOT NULL DEFAULT false;

-- 4. Inbound messages: HELP is a class of its own; an opt-out found inside a sentence (fuzzy
--    mode) is marked; the keyword's language picks the confirmation's language.
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_reply_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_reply_check
    CHECK (reply IN ('opt_out', 'opt_in', 'help', 'other'));
ALTER TABLE inbound_messages ADD COLUMN fuzzy boolean NOT NULL DEFAULT false;
ALTER TABLE inbound_messages ADD COLUMN language text NOT NULL DEFAULT '';

-- 5. Confirmation replies, one per inbound message at most (UNIQUE on the inbound message's
--    account and provider id: a replayed inbound cannot add a second). Written in the transaction
--    that keeps the inbound message; sent by the daemon's reply sender through the account's
--    shared throttle. States: pending -> sending -> sent | failed | skipped | unknown, and
--    sending -> pending (a transient error, a throttle). `unknown`: a send whose outcome is not
--    known (a timeout, a crash mid-send): never sent again.
CREATE TABLE reply_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_account text NOT NULL,
    inbound_provider_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('opt_out', 'opt_in', 'help')),
    e164 text NOT NULL,
    -- The number the person texted (the reply's scope when opt-outs are per sender).
    sender text NOT NULL DEFAULT '',
    language text NOT NULL DEFAULT '',
    body text NOT NULL,
    segments integer NOT NULL,
    country text,
    cost numeric(12, 6) NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown')),
    attempts integer NOT NULL DEFAULT 0,
    worker_id text,
    lease_expires_at timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    provider_id text,
    error_code text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_account, inbound_provider_id)
);
-- Serves claim-replies: the due replies of an account.
CREATE INDEX reply_outbox_due ON reply_outbox (provider_account, next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX reply_outbox_number ON reply_outbox (e164, id);
