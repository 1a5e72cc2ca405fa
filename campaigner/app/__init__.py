"""The composition root: the one place that builds concrete objects and wires them together.

wiring (provider, worker, shared throttle and pre-flight checks for one run: `run`, `send` and the
daemon share it) · loading (plan a CSV and COPY it into a new campaign) · daemon (carries every
running campaign) · http (the daemon's routes: webhooks, health, readiness, metrics) ·
webhook_routes (HTTP in, `inbound/` handlers out) · logs · signals.

Nothing here prints: the command line (`cli/`) does.
"""
