"""Start-time reservations of many accounts' throttles in one round trip (a GroupCommit).

Each account's SharedThrottle has at most one reservation outstanding (it shares a slice among its
own waiting senders), so a batch holds one reservation per account; a key is never twice in one
statement all the same (an UPDATE moves a row once): a second ask for a schedule waits a round.
Each group is reserved on its own rows, as `reserve_start` alone would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from campaigner.group_commit import GroupCommit

Group = tuple[Sequence[str], Sequence[float], float]  # keys, costs, idle delay


class BatchScheduleStore(Protocol):
    """The store's side: one round trip for several independent reservations."""

    async def reserve_starts(self, groups: Sequence[Group]) -> list[float]: ...
    async def push_schedule(self, key: str, seconds: float) -> None: ...


def _apart(batch: list[Group], group: Group) -> bool:
    return all(set(keys).isdisjoint(group[0]) for keys, _costs, _delay in batch)


class ScheduleBatcher:
    """A ScheduleStore (for SharedThrottle) whose concurrent reservations share a statement."""

    def __init__(self, store: BatchScheduleStore) -> None:
        self._store = store
        self.commits: GroupCommit[Group, float] = GroupCommit(store.reserve_starts, _apart)

    async def reserve_start(
        self, keys: Sequence[str], costs: Sequence[float], idle_delay: float = 0.0
    ) -> float:
        return await self.commits((keys, costs, idle_delay))

    async def push_schedule(self, key: str, seconds: float) -> None:
        await self._store.push_schedule(key, seconds)
