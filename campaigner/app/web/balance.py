"""The account's balance for the accounts page: asked of the provider at most every few minutes.

A page view must not cost a provider request each (the account's rate limit is for messages), so
the answer is kept for KEEP_SECONDS, concurrent views share one question, and a question that fails
or takes too long shows as "not known" rather than an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from campaigner.model.provider import Balance

log = logging.getLogger(__name__)

KEEP_SECONDS = 300.0
ASK_TIMEOUT = 10.0

Ask = Callable[[], Awaitable[Balance | None]]


class BalanceCache:
    """`await cache.get()`: the balance (None when the provider does not say or cannot be asked)."""

    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self._lock = asyncio.Lock()
        self._answer: tuple[float, Balance | None] | None = None
        self.asked = 0  # questions put to the provider (tests read it)

    async def get(self) -> Balance | None:
        async with self._lock:
            if self._answer is not None and time.monotonic() - self._answer[0] < KEEP_SECONDS:
                return self._answer[1]
            self.asked += 1
            try:
                balance = await asyncio.wait_for(self._ask(), ASK_TIMEOUT)
            except Exception as exc:  # the provider away or refusing: shown as not known
                log.warning("dashboard: the account's balance could not be read: %s", exc)
                balance = None
            self._answer = (time.monotonic(), balance)
            return balance
