-- Jobs nobody can settle by asking (issue 13). Clickatell's REST API v2.0 offers no lookup of a
-- message by our id: a job whose send was ambiguous (a lost reply) waits in `sending` for its status
-- callback, which echoes our clientMessageId. One that no callback settles within
-- provider.unsettled_after seconds becomes `unknown`: reported, never resent silently, and the
-- campaign can complete. A callback that comes later still settles it (unknown -> submitted); an
-- operator may choose to send it again (`campaigner retry --unknown`: unknown -> pending).
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (
    state IN ('pending', 'sending', 'submitted', 'delivered', 'undelivered', 'rejected', 'skipped',
              'cancelled', 'unknown')
);

-- The job state machine (ARCHITECTURE.md, model/states.py), replacing 0005's:
--   pending   -> sending | skipped | cancelled
--   sending   -> submitted | pending | rejected | unknown
--   submitted -> delivered | undelivered
--   rejected  -> pending (campaigner retry)
--   unknown   -> submitted (a late callback) | pending (campaigner retry --unknown)
CREATE OR REPLACE FUNCTION campaigner_check_job_transition(old_state text, new_state text, example bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (old_state || '>' || new_state) = ANY ('{pending>sending,pending>skipped,pending>cancelled,
            sending>submitted,sending>pending,sending>rejected,sending>unknown,submitted>delivered,
            submitted>undelivered,rejected>pending,unknown>submitted,unknown>pending}'::text[]) THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'illegal job transition % -> % (job %)', old_state, new_state, example
        USING ERRCODE = 'CG001';
END $$;

-- A late callback finds an unknown job by its campaign and number (a batch's clientMessageId names
-- the request, not the recipient). Few rows: only unknown jobs are in it.
CREATE INDEX jobs_unknown ON jobs (campaign_id, e164) WHERE state = 'unknown';
