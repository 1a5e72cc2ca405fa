"""The job table is the checkpoint: PostgreSQL access, migrations, and the store's named queries.

database (pool, named queries from `campaigner/sql/queries/`, driver errors as ours) → migrations
(`campaigner/sql/migrations/`, each applied once under a lock) → store (one method per query,
returning `campaigner.model` types; `jobs.py` holds the hot job-table half) → rows (records to
model types). `embedded/` runs a private PostgreSQL when no database URL is configured.
"""
