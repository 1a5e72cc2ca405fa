-- Store speed (issue 4, "Speed"; figures in the README): cheaper job triggers and counter rows
-- sharded per connection, so that claims and write-backs of several dispatchers on one campaign no
-- longer queue on the same (campaign, state) counter rows.

-- Counters: one row per (campaign, state, shard). A statement adds its net change to the shard of
-- its backend (pg_backend_pid() % 8): two dispatchers' connections usually hold different rows, and
-- one connection keeps updating the same rows (HOT, fillfactor 50). Readers sum the shards (at most
-- 8 x 8 rows per campaign), so a campaign's counts stay exact and cheap to read.
ALTER TABLE job_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE job_counts DROP CONSTRAINT job_counts_pkey;
ALTER TABLE job_counts ADD PRIMARY KEY (campaign_id, state, shard);

-- The job state machine (ARCHITECTURE.md), as the trigger below checks it for every group of changed rows:
--   pending   -> sending | skipped | cancelled
--   sending   -> submitted | pending | rejected
--   submitted -> delivered | undelivered
--   rejected  -> pending (campaigner retry)
-- Returns true for a legal transition, raises CG001 otherwise (`example` names one job).
CREATE FUNCTION campaigner_check_job_transition(old_state text, new_state text, example bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (old_state || '>' || new_state) = ANY ('{pending>sending,pending>skipped,pending>cancelled,
            sending>submitted,sending>pending,sending>rejected,submitted>delivered,submitted>undelivered,
            rejected>pending}'::text[]) THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'illegal job transition % -> % (job %)', old_state, new_state, example
        USING ERRCODE = 'CG001';
END $$;

-- Every UPDATE of jobs, once per statement: the same check and counters as 0001's version, in one
-- SQL statement instead of a loop, arrays and a second statement (the trigger was 40 % of a claim).
-- The check sits in the WHERE of the groups, so an illegal transition raises before any counter
-- moves. Rows are locked in (campaign, state, shard) order: two statements cannot deadlock.
CREATE OR REPLACE FUNCTION campaigner_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (campaign_id, state, shard, jobs, cost)
    SELECT t.campaign_id, d.state, pg_backend_pid() % 8, sum(d.jobs), sum(d.cost)
    FROM (
        SELECT o.campaign_id, o.state AS old_state, n.state AS new_state,
               count(*) AS jobs, sum(o.cost) AS cost, min(o.id) AS example
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.state <> n.state
        GROUP BY 1, 2, 3
    ) AS t
    CROSS JOIN LATERAL (VALUES (t.old_state, -t.jobs, -t.cost), (t.new_state, t.jobs, t.cost))
        AS d (state, jobs, cost)
    WHERE campaigner_check_job_transition(t.old_state, t.new_state, t.example)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, state, shard) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION campaigner_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (campaign_id, state, shard, jobs, cost)
    SELECT campaign_id, state, pg_backend_pid() % 8, count(*), sum(cost)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, state, shard) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;

-- An upsert, not an UPDATE: the shard of this backend may have no row for that state yet.
CREATE OR REPLACE FUNCTION campaigner_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (campaign_id, state, shard, jobs, cost)
    SELECT campaign_id, state, pg_backend_pid() % 8, -count(*), -sum(cost)
    FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, state, shard) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;
