-- campaigner schema, version 1: campaigns, jobs (the checkpoint), per-state counters, suppressions,
-- workers. Every hot query is scoped to one campaign id so the schema can shard by campaign_id.

-- Campaign states (ARCHITECTURE.md):
--   draft      loaded, waiting for `resume`/`send`          -> scheduled, running, cancelled
--   scheduled  waits for send_at                              -> running, paused, cancelled, draft
--   running    dispatchers claim its jobs                     -> paused, completed, cancelled, failed
--   paused     nothing is claimed; `resume` continues         -> running, cancelled, failed
--   completed  no job pending or sending                      -> running (only `retry`)
--   failed     stopped for good by an error                   -> running (only `retry`)
--   cancelled  every not-yet-sent job cancelled               (final)
CREATE TABLE campaigns (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    message text NOT NULL,
    provider_account text NOT NULL DEFAULT 'default',
    sender text NOT NULL DEFAULT '',
    region text NOT NULL DEFAULT '',
    smart_encoding boolean NOT NULL DEFAULT false,
    state text NOT NULL DEFAULT 'draft' CHECK (
        state IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed')
    ),
    send_at timestamptz,
    -- Recipients' local time window in which jobs may be sent; both NULL = any time.
    quiet_start time,
    quiet_end time,
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    total_jobs bigint NOT NULL DEFAULT 0,
    estimated_cost numeric(14, 6) NOT NULL DEFAULT 0,
    currency text NOT NULL DEFAULT 'EUR',
    -- The preview as the planner reported it (counts by reason, encodings, countries, ...).
    preview jsonb NOT NULL DEFAULT '{}',
    -- Why the campaign is paused or failed (NULL otherwise).
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Serves running-campaign-ids and due-scheduled-campaigns (the daemon's poll).
CREATE INDEX campaigns_active ON campaigns (state) WHERE state IN ('running', 'scheduled');

CREATE FUNCTION campaigner_campaign_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (OLD.state || '>' || NEW.state) = ANY (ARRAY[
        'draft>scheduled', 'draft>running', 'draft>cancelled',
        'scheduled>running', 'scheduled>paused', 'scheduled>cancelled', 'scheduled>draft',
        'running>paused', 'running>completed', 'running>cancelled', 'running>failed',
        'paused>running', 'paused>cancelled', 'paused>failed',
        'completed>running', 'failed>running'
    ]) THEN
        RAISE EXCEPTION 'illegal campaign transition % -> % (campaign %)', OLD.state, NEW.state, OLD.id
            USING ERRCODE = 'CG002';
    END IF;
    NEW.updated_at := now();
    IF NEW.state = 'running' AND NEW.started_at IS NULL THEN
        NEW.started_at := now();
    END IF;
    IF NEW.state IN ('completed', 'cancelled', 'failed') THEN
        NEW.finished_at := now();
    ELSIF NEW.state = 'running' THEN
        NEW.finished_at := NULL;
    END IF;
    IF NEW.state NOT IN ('paused', 'failed') THEN
        NEW.reason := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER campaigns_transition BEFORE UPDATE OF state ON campaigns
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION campaigner_campaign_transition();

-- A running dispatcher LISTENs on campaigner_campaigns and hears pause/cancel at commit.
CREATE FUNCTION campaigner_campaign_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('campaigner_campaigns', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER campaigns_notify_update AFTER UPDATE OF state ON campaigns
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION campaigner_campaign_notify();
CREATE TRIGGER campaigns_notify_insert AFTER INSERT ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigner_campaign_notify();

-- One row per recipient of a campaign; its state is the only truth about that message.
-- fillfactor 85: every job is updated two or three times (claim, result, receipt); free space on
-- the page keeps the new versions next to the old ones, and page pruning reclaims them.
-- Autovacuum runs at 5 % dead rows instead of 20 %: a drained queue leaves dead tuples behind every
-- claim. (At 1 % with no cost delay it vacuumed without pause and halved the claim rate; the claim
-- index stays fast between vacuums because btree marks entries of dead rows as it passes them.)
CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: its per-row check halves the speed of COPY, and jobs are only ever inserted
    -- by create-campaign in the transaction that inserts their campaign. (Sharding by campaign_id
    -- on Citus also prefers it this way.)
    campaign_id bigint NOT NULL,
    line integer NOT NULL,
    e164 text NOT NULL,
    country text,
    body text NOT NULL,
    segments smallint NOT NULL,
    encoding text NOT NULL,
    cost numeric(12, 6) NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'pending' CHECK (
        state IN ('pending', 'sending', 'submitted', 'delivered', 'undelivered', 'rejected', 'skipped',
                  'cancelled')
    ),
    attempts smallint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    worker_id text,
    lease_expires_at timestamptz,
    provider_id text,
    error_code text,
    -- Taxonomy class of the last error (transient, recipient, opt_out, account, funds): `retry` puts
    -- back only the fixable ones, never an opt-out.
    error_class text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sending_at timestamptz,
    submitted_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (
    fillfactor = 85,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

-- Serves claim-jobs (ORDER BY next_attempt_at, id within one campaign), cancel-campaign-jobs and the
-- "anything left?" test of complete-campaign-if-done. Only pending rows are in it, so a claim never
-- walks past the jobs already done.
CREATE INDEX jobs_claimable ON jobs (campaign_id, next_attempt_at, id) WHERE state = 'pending';
-- Serves stale-sending-jobs (leases that expired) and complete-campaign-if-done.
CREATE INDEX jobs_sending ON jobs (campaign_id, lease_expires_at) WHERE state = 'sending';
-- Serves mark-delivery: a receipt names only the provider's message id.
CREATE INDEX jobs_provider_id ON jobs (provider_id) WHERE provider_id IS NOT NULL;
-- Serves skip-suppressed-jobs: an opt-out skips that number's pending jobs in every campaign.
CREATE INDEX jobs_pending_e164 ON jobs (e164) WHERE state = 'pending';
-- Serves last-errors and retry-rejected: failed jobs of one campaign.
CREATE INDEX jobs_failed ON jobs (campaign_id, error_class) WHERE state IN ('rejected', 'undelivered');

-- Number and cost of a campaign's jobs in each state, kept by statement-level triggers so that
-- `status` and progress bars never count a 10-million-row campaign. One row per (campaign, state):
-- each claim or result statement adds its net change once, not once per job.
CREATE TABLE job_counts (
    campaign_id bigint NOT NULL,
    state text NOT NULL,
    jobs bigint NOT NULL DEFAULT 0,
    cost numeric(16, 6) NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, state)
) WITH (fillfactor = 50);

CREATE FUNCTION campaigner_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (campaign_id, state, jobs, cost)
    SELECT campaign_id, state, count(*), sum(cost) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, state) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;

-- Every UPDATE of jobs, once per statement: refuse any job state change outside ARCHITECTURE.md's state
-- machine (so a bug cannot move a submitted job back to pending), then add the statement's net
-- change to the counters. Set-based over the transition tables: a per-row trigger cost more than the
-- claim itself (about 12 us a row here).
--   pending   -> sending | skipped | cancelled
--   sending   -> submitted | pending | rejected
--   submitted -> delivered | undelivered
--   rejected  -> pending (campaigner retry)
CREATE FUNCTION campaigner_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change record;
    campaign_ids bigint[] := '{}';
    states text[] := '{}';
    deltas bigint[] := '{}';
    costs numeric[] := '{}';
BEGIN
    -- One join of the statement's old and new rows, grouped by transition (usually one or two
    -- groups). Only state changes move counters: no statement changes a job's cost.
    FOR change IN
        SELECT o.campaign_id, o.state AS old_state, n.state AS new_state,
               count(*) AS jobs, sum(o.cost) AS cost, min(o.id) AS example
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.state <> n.state
        GROUP BY 1, 2, 3
    LOOP
        IF (change.old_state || '>' || change.new_state) <> ALL ('{pending>sending,pending>skipped,
                pending>cancelled,sending>submitted,sending>pending,sending>rejected,submitted>delivered,
                submitted>undelivered,rejected>pending}'::text[]) THEN
            RAISE EXCEPTION 'illegal job transition % -> % (job %)',
                change.old_state, change.new_state, change.example USING ERRCODE = 'CG001';
        END IF;
        campaign_ids := campaign_ids || change.campaign_id || change.campaign_id;
        states := states || change.old_state || change.new_state;
        deltas := deltas || -change.jobs || change.jobs;
        costs := costs || -change.cost || change.cost;
    END LOOP;
    IF cardinality(states) = 0 THEN
        RETURN NULL;
    END IF;
    -- Rows are locked in (campaign, state) order so that two concurrent statements cannot deadlock.
    INSERT INTO job_counts AS c (campaign_id, state, jobs, cost)
    SELECT d.campaign_id, d.state, sum(d.jobs), sum(d.cost)
    FROM unnest(campaign_ids, states, deltas, costs) AS d (campaign_id, state, jobs, cost)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, state) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;

CREATE FUNCTION campaigner_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_counts AS c SET jobs = c.jobs - d.n, cost = c.cost - d.amount
    FROM (SELECT campaign_id, state, count(*) AS n, sum(cost) AS amount FROM old_rows GROUP BY 1, 2) AS d
    WHERE c.campaign_id = d.campaign_id AND c.state = d.state;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_count_inserted();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_jobs_updated();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigner_count_deleted();

-- Numbers never to be sent to: opt-outs (inbound STOP, provider opt-out errors) and manual entries.
CREATE TABLE suppressions (
    e164 text PRIMARY KEY,
    reason text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT 'manual',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Dispatchers alive now; a worker whose heartbeat is older than worker_timeout is dead and its
-- sending jobs are reconciled.
CREATE TABLE workers (
    id text PRIMARY KEY,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
