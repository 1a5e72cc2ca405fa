-- Retention (`campaigner purge --finished-before DATE`): the jobs of long-ended campaigns go, the
-- campaigns stay with their totals. A purged campaign is marked first; from then on deleting its
-- jobs leaves job_counts as they were (so status, report and the dashboard still show what the
-- campaign did), and it can never run again (a retry would find no jobs to send).

-- purged_at: marked, its jobs going; purge_finished_at: all of them gone.
ALTER TABLE campaigns ADD COLUMN purged_at timestamptz, ADD COLUMN purge_finished_at timestamptz;

-- Serves purgeable-campaigns: ended campaigns by when they ended.
CREATE INDEX campaigns_ended ON campaigns (finished_at)
    WHERE state IN ('completed', 'cancelled', 'failed') AND purged_at IS NULL;

CREATE OR REPLACE FUNCTION campaigner_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (campaign_id, state, shard, jobs, cost)
    SELECT o.campaign_id, o.state, pg_backend_pid() % 8, -count(*), -sum(o.cost)
    FROM old_rows o
    WHERE NOT EXISTS (SELECT 1 FROM campaigns p WHERE p.id = o.campaign_id AND p.purged_at IS NOT NULL)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, state, shard) DO UPDATE
        SET jobs = c.jobs + excluded.jobs, cost = c.cost + excluded.cost;
    RETURN NULL;
END $$;

CREATE FUNCTION campaigner_campaign_purged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.purged_at IS NOT NULL AND NEW.state IS DISTINCT FROM OLD.state THEN
        RAISE EXCEPTION 'campaign % was purged on %: its jobs are gone', OLD.id, OLD.purged_at
            USING ERRCODE = 'CG002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER campaigns_purged_stay BEFORE UPDATE OF state ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigner_campaign_purged();
