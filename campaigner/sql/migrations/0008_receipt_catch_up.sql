-- Receipt catch-up: submitted jobs are found by campaign and age, to ask the provider where a
-- message is when its receipt never came (answered 503 in a database blip, sent while no daemon
-- was up, or never sent). The index holds only jobs waiting for a receipt.
CREATE INDEX jobs_submitted ON jobs (campaign_id, submitted_at) WHERE state = 'submitted';
