"""Helpers for the store tests."""

from __future__ import annotations

import asyncpg

from campaigner.store.store import Store


async def jobs_of(store: Store, campaign_id: int) -> list[asyncpg.Record]:
    """Every job of a campaign in id order (the export's columns: id, e164, state, error_code, ...)."""
    return [row async for row in store.export_jobs(campaign_id)]
