"""The engine: claim → throttle → send → record → reconcile, for one campaign, exactly once.

runner (the per-campaign loop) · decide (a send result as a job transition: the error taxonomy) ·
recorder (results written back in batches) · reconcile (settle unsure jobs by asking the provider) ·
worker (this process's identity and heartbeat) · quiet_hours (recipients' local sending window) ·
throttle / shared_throttle (the provider's limits over every rolling window, in one process or
shared through the database) · request_sizing (how jobs become requests; the preview's ETA uses it
too) · ports (the Protocols the engine needs of the store and the provider).

Nothing here imports the store, the planner, a provider client or the app: they meet in `app/`.
"""
