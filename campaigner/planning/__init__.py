"""Planning a campaign: a recipients CSV and a template become personalised, priced messages.

recipients (read and admit rows) → phones (E.164, type, country) → chunks (render, count segments,
in worker processes for big files) → planner (merge in file order, dedupe, suppress) → pricing
(cost by country, time to send). The preview is what the planner has seen once every row is through.
"""
