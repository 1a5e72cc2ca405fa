-- COPY speed (issue 4: at least 250,000 rows/s into the real schema). Two costs of every loaded row
-- go away; measured on 1M rows here, the load went from about 230k to about 350k rows/s.

-- 1. The index on the e164 of pending jobs: a random-order btree insert per row, a quarter of the
--    COPY. It served only the eager skips (suppress add/import, an inbound STOP, the daemon's sweep
--    of recent opt-outs). A suppression is now enforced where a job is sent from: claim-jobs skips
--    every claimed job whose number is on the list, in the statement that claims it, and a job that
--    was already claimed when the number was suppressed is held back by its dispatcher, which sees
--    new suppressions through suppressions_created_at (suppressions-since). So a job of a
--    suppressed number is `skipped` when a dispatcher reaches it, not when the number is listed.
DROP INDEX jobs_pending_e164;
-- (suppressions_created_at, made by 0004 for the sweep, now serves suppressions-since only.)

-- 2. The statement-level INSERT trigger that counted new jobs: its transition table kept a copy of
--    every loaded row. Jobs are inserted by one statement only, the COPY of create-campaign, which
--    now adds its own rows to job_counts (add-loaded-jobs) in the same transaction, from the rows it
--    sent. UPDATE and DELETE keep their triggers: those change few rows a statement.
DROP TRIGGER jobs_count_insert ON jobs;
DROP FUNCTION campaigner_count_inserted();
