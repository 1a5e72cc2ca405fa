-- A campaign's priority (issue 18): its share of the account's rate, in proportion to the others'
-- running campaigns, under [dispatcher] fairness = "priority" (dispatch/fair_share.py). 1 to 100;
-- 10 by default, so that a campaign can be made ten times less urgent as well as ten times more.
ALTER TABLE campaigns ADD COLUMN priority integer NOT NULL DEFAULT 10
    CONSTRAINT campaigns_priority_range CHECK (priority BETWEEN 1 AND 100);
