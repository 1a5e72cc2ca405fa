"""Group commit: calls that arrive while a statement is in flight go together in the next one.

A daemon carrying a hundred campaigns at a few messages a second each would otherwise write each
campaign's few results, reserve each account's next start time and apply each receipt callback in
statements of their own: hundreds of small transactions a second. A `GroupCommit` runs the first
call at once (no latency added when the process is quiet); calls made while it runs wait, then go
as one batch, so the number of statements follows the database's speed, not the number of
campaigns. Each caller gets
its own answer, or the batch's exception, exactly as if it had run alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")


@dataclass
class _Waiting(Generic[Ask, Answer]):
    ask: Ask
    answer: asyncio.Future[Answer] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit(Generic[Ask, Answer]):
    """Runs `run(asks) -> answers` (one answer per ask, in order) for batches of concurrent asks.

    `fits(batch, ask)` says whether `ask` may join `batch` (e.g. no schedule row twice in one
    statement); one that does not waits for the next round. At most `limit` asks a batch.
    """

    def __init__(
        self,
        run: Callable[[list[Ask]], Awaitable[Sequence[Answer]]],
        fits: Callable[[list[Ask], Ask], bool] = lambda _batch, _ask: True,
        limit: int = 256,
    ) -> None:
        self._run = run
        self._fits = fits
        self._limit = limit
        self._waiting: list[_Waiting[Ask, Answer]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # statements run, for benchmarks and tests
        self.asks = 0

    async def __call__(self, ask: Ask) -> Answer:
        waiting: _Waiting[Ask, Answer] = _Waiting(ask)
        self._waiting.append(waiting)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        return await waiting.answer  # a caller that gives up cancels its answer; the batch goes on

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._next_batch()
            try:
                answers = await self._run([w.ask for w in batch])
            except Exception as exc:
                for w in batch:
                    if not w.answer.done():
                        w.answer.set_exception(exc)
                continue
            self.batches += 1
            self.asks += len(batch)
            for w, answer in zip(batch, answers, strict=True):
                if not w.answer.done():
                    w.answer.set_result(answer)

    def _next_batch(self) -> list[_Waiting[Ask, Answer]]:
        taken: list[_Waiting[Ask, Answer]] = []
        later: list[_Waiting[Ask, Answer]] = []
        asks: list[Ask] = []
        for w in self._waiting:
            if len(taken) < self._limit and self._fits(asks, w.ask):
                taken.append(w)
                asks.append(w.ask)
            else:
                later.append(w)
        self._waiting = later
        return taken
