-- Delivery receipts that arrived before their job's `submitted` result was written (results are
-- flushed in batches, and a lost reply is settled only by a later lookup). They wait here until
-- apply-pending-receipts finds the job submitted, and are dropped after a day.
CREATE TABLE pending_receipts (
    provider_id text PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('delivered', 'undelivered')),
    error text,
    occurred_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Serves the expiry in apply-pending-receipts.
CREATE INDEX pending_receipts_received_at ON pending_receipts (received_at);

-- Serves skip-recent-opt-outs: numbers that replied STOP in the last minutes.
CREATE INDEX suppressions_created_at ON suppressions (created_at);
