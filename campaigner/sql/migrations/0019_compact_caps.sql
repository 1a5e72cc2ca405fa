-- The frequency cap's rows, half as wide (issue 16: the cap may cost at most 20 % of the claim's
-- throughput). 0014 kept every slot in two arrays, about 60 of a row's ~110 bytes; at 1M numbers
-- the table (159 MB + 39 MB of index) outgrew shared_buffers and the claims with the cap on read
-- it back from the OS (benchmarks/claim_profile.py, README "Speed"). Now the newest slot is two
-- plain columns and only the older ones (a cap of N > 1) stay in the arrays, NULL when there are
-- none: with the usual 1/24h a row is key + 16 bytes. The meaning is 0014's: the slots of a row,
-- oldest first, are job_ids || last_job_id (claimed_at || last_claimed_at); no slot at all is
-- last_job_id NULL. The campaigner_cap_* functions take those whole lists, as before.
ALTER TABLE recipient_caps ADD COLUMN last_job_id bigint, ADD COLUMN last_claimed_at timestamptz,
    ALTER COLUMN job_ids DROP NOT NULL, ALTER COLUMN claimed_at DROP NOT NULL;

UPDATE recipient_caps
SET last_job_id = job_ids[cardinality(job_ids)], last_claimed_at = claimed_at[cardinality(claimed_at)],
    job_ids = nullif(job_ids[:cardinality(job_ids) - 1], '{}'),
    claimed_at = nullif(claimed_at[:cardinality(claimed_at) - 1], '{}');

-- The whole list of slots of a row (single expressions: inlined).
CREATE FUNCTION campaigner_cap_slots(older bigint[], last bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN last IS NULL THEN coalesce(older, '{}') ELSE coalesce(older, '{}') || last END
$$;

CREATE FUNCTION campaigner_cap_slots(older timestamptz[], last timestamptz) RETURNS timestamptz[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN last IS NULL THEN coalesce(older, '{}') ELSE coalesce(older, '{}') || last END
$$;

-- All but the newest of a list of slots, NULL for none (what the arrays store).
CREATE FUNCTION campaigner_cap_older(slots anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(slots) > 1 THEN slots[:cardinality(slots) - 1] END
$$;

-- 0014's trigger, on the new columns: a job released unsent gives its slot back.
CREATE OR REPLACE FUNCTION campaigner_free_cap_slots() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ), kept AS MATERIALIZED (
        SELECT l.account, l.e164,
               coalesce(array_agg(e.j ORDER BY e.t) FILTER (WHERE e.j IS NOT NULL), '{}') AS ids,
               coalesce(array_agg(e.t ORDER BY e.t) FILTER (WHERE e.j IS NOT NULL), '{}') AS times
        FROM locked l JOIN recipient_caps r ON r.account = l.account AND r.e164 = l.e164
        LEFT JOIN LATERAL unnest(campaigner_cap_slots(r.job_ids, r.last_job_id),
                                 campaigner_cap_slots(r.claimed_at, r.last_claimed_at)) AS e (j, t)
            ON e.j NOT IN (SELECT f.job_id FROM freed f WHERE f.account = r.account AND f.e164 = r.e164)
        GROUP BY l.account, l.e164
    )
    UPDATE recipient_caps r
    SET job_ids = campaigner_cap_older(k.ids), claimed_at = campaigner_cap_older(k.times),
        last_job_id = k.ids[cardinality(k.ids)], last_claimed_at = k.times[cardinality(k.times)]
    FROM kept k
    WHERE r.account = k.account AND r.e164 = k.e164;
    RETURN NULL;
END $$;

-- Rows written from now on are narrow; a table carried over from 0014 shrinks at its next
-- VACUUM FULL (not run here: it would lock the table for the time it takes).
