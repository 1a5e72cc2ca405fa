-- What the provider says a message cost, beside our estimate: Cliqtel's 201 reply carries the
-- segments it counted and their cost. NULL where the provider does not say.
ALTER TABLE jobs ADD COLUMN reported_segments integer, ADD COLUMN reported_cost numeric(12, 6);
