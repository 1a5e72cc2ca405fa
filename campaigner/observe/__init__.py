"""What is happening with a campaign: the facts every view shows, and the charts drawn from them.

`facts` (counts, progress, cost, the recent rate and ETA, who carries it, why it waits, the
timeline, per country, errors, latency), `wait` (the wait reason), `latency` (percentiles from the
histogram), `charts` (server-drawn SVG). The dashboard and HTTP API (`app/api`, `app/dashboard`),
`status` and `report` all read them from here, so every view says the same thing.
"""
