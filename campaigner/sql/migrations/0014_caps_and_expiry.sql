-- Frequency caps and message expiry (issue 16).

-- 1. Message validity. A campaign may be given a deadline: `valid_until` (an absolute time) or
--    `valid_for` (a duration counted from its first start). A job still pending at the deadline
--    becomes `expired`: final, counted and reported, never sent. valid_for is turned into
--    valid_until once, when the campaign first runs (the trigger below), so every reader needs
--    only valid_until.
ALTER TABLE campaigns ADD COLUMN valid_for interval, ADD COLUMN valid_until timestamptz;

CREATE FUNCTION campaigner_campaign_validity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Runs after campaigns_transition (triggers fire in name order), which set started_at.
    IF NEW.state = 'running' AND NEW.valid_until IS NULL AND NEW.valid_for IS NOT NULL THEN
        NEW.valid_until := coalesce(NEW.started_at, now()) + NEW.valid_for;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER campaigns_validity BEFORE UPDATE OF state ON campaigns
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION campaigner_campaign_validity();

ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (
    state IN ('pending', 'sending', 'submitted', 'delivered', 'undelivered', 'rejected', 'skipped',
              'cancelled', 'unknown', 'expired')
);

-- The job state machine (ARCHITECTURE.md, model/states.py), replacing 0011's:
--   pending   -> sending | skipped | cancelled | expired
--   sending   -> submitted | pending | rejected | unknown
--   submitted -> delivered | undelivered
--   rejected  -> pending (campaigner retry)
--   unknown   -> submitted (a late callback) | pending (campaigner retry --unknown)
-- A claimed job whose deadline passes before it is sent goes back to pending first (released),
-- and is expired from there: `sending` stays the one unsure state, settled only by asking.
CREATE OR REPLACE FUNCTION campaigner_check_job_transition(old_state text, new_state text, example bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (old_state || '>' || new_state) = ANY ('{pending>sending,pending>skipped,pending>cancelled,
            pending>expired,sending>submitted,sending>pending,sending>rejected,sending>unknown,
            submitted>delivered,submitted>undelivered,rejected>pending,unknown>submitted,
            unknown>pending}'::text[]) THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'illegal job transition % -> % (job %)', old_state, new_state, example
        USING ERRCODE = 'CG001';
END $$;

-- 2. Frequency cap: at most N messages per recipient per rolling window, per provider account,
--    across all campaigns ([compliance] frequency_cap). One row per (account, number) holds the
--    claims that count: the job id and claim time of each, oldest first, at most N of them (the
--    newest; older ones cannot matter). claim-jobs upserts the rows of the numbers it is about to
--    hand out, in e164 order (no deadlocks), and only where the number has a free slot: the row
--    lock makes two campaigns' claims of one number take turns, and the second sees the first's
--    slot. A slot is a claim, not a plan: a job released unsent gives it back (below).
CREATE TABLE recipient_caps (
    -- Byte order ("C"): the cheapest comparison, and the order claims lock rows in.
    account text COLLATE "C" NOT NULL,
    e164 text COLLATE "C" NOT NULL,
    job_ids bigint[] NOT NULL,
    claimed_at timestamptz[] NOT NULL,
    PRIMARY KEY (account, e164)
) WITH (fillfactor = 70); -- room for HOT updates: no indexed column changes

-- The helpers below are single expressions, so PostgreSQL inlines them (no call per row).
-- Does job `job` get a slot of a row holding `job_ids`/`claimed_at` under a cap of `n` since
-- `since`? Yes when fewer than n slots are held, when the oldest of the newest n is out of the
-- window, or when the job holds one itself (a retried job takes its own slot again).
CREATE FUNCTION campaigner_cap_admits(job_ids bigint[], claimed_at timestamptz[], since timestamptz,
                                      job bigint, n integer)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cardinality(job_ids) < n OR claimed_at[cardinality(claimed_at) - n + 1] <= since
        OR job = ANY (job_ids)
$$;

-- The slots of a row once `job` took one at `at`: its own earlier slot dropped, the new one
-- appended (never before the newest: the arrays stay in time order), the newest n kept.
CREATE FUNCTION campaigner_cap_ids(job_ids bigint[], job bigint, n integer)
RETURNS bigint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN job = ANY (job_ids)
                 THEN job_ids[:array_position(job_ids, job) - 1] || job_ids[array_position(job_ids, job) + 1:]
                 ELSE job_ids END || job)[greatest(1, cardinality(job_ids) + 2 - n - (job = ANY (job_ids))::integer):]
$$;

CREATE FUNCTION campaigner_cap_times(job_ids bigint[], claimed_at timestamptz[], job bigint, at timestamptz,
                                     n integer)
RETURNS timestamptz[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN job = ANY (job_ids)
                 THEN claimed_at[:array_position(job_ids, job) - 1] || claimed_at[array_position(job_ids, job) + 1:]
                 ELSE claimed_at END
            || greatest(at, claimed_at[cardinality(claimed_at)]))[greatest(1, cardinality(job_ids) + 2 - n - (job = ANY (job_ids))::integer):]
$$;

-- When a number at its cap gets a free slot: the oldest of its newest n slots leaves the window.
CREATE FUNCTION campaigner_cap_frees_at(claimed_at timestamptz[], n integer, window_length interval)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT claimed_at[cardinality(claimed_at) - n + 1] + window_length
$$;

-- A job that leaves `sending` for `pending` (released unsent: throttled, paused, quiet hours, a
-- deadline, a lease too old; or a lookup that found it unsent) was not sent: its slot is freed, or
-- the cap would count a message nobody received. A claim that ended rejected, submitted or
-- unknown keeps its slot (the provider may have it; an over-count errs on the quiet side).
-- Rows are locked in (account, e164) order, as claim-jobs locks them: no deadlocks.
CREATE FUNCTION campaigner_free_cap_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows WHERE state = 'pending') THEN
        RETURN NULL;
    END IF;
    WITH freed AS MATERIALIZED (
        SELECT c.provider_account AS account, n.e164, n.id AS job_id
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN campaigns c ON c.id = n.campaign_id
        WHERE o.state = 'sending' AND n.state = 'pending'
    ), locked AS MATERIALIZED (
        SELECT r.account, r.e164 FROM recipient_caps r
        WHERE (r.account, r.e164) IN (SELECT account, e164 FROM freed)
        ORDER BY r.account, r.e164
        FOR UPDATE
    )
    UPDATE recipient_caps r
    SET (job_ids, claimed_at) = (
        SELECT coalesce(array_agg(e.j ORDER BY e.t), '{}'), coalesce(array_agg(e.t ORDER BY e.t), '{}')
        FROM unnest(r.job_ids, r.claimed_at) AS e (j, t)
        WHERE e.j NOT IN (SELECT f.job_id FROM freed f WHERE f.account = r.account AND f.e164 = r.e164))
    FROM locked l
    WHERE r.account = l.account AND r.e164 = l.e164;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_free_cap_slots AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_free_cap_slots();
