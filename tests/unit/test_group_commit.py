"""GroupCommit: concurrent calls share a batch, each hears its own answer, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from campaigner.group_commit import GroupCommit


async def until(condition: Callable[[], bool], steps: int = 100) -> None:
    """Let the event loop run until `condition` holds (a few steps: no time passes here)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Recorder:
    """A `run` whose batches the test releases one at a time."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.fail_next = False

    async def run(self, asks: list[int]) -> list[int]:
        self.batches.append(list(asks))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database went away")
        return [ask * 10 for ask in asks]


async def test_a_quiet_call_runs_at_once_and_calls_during_it_share_the_next_batch() -> None:
    recorder = Recorder()
    commit: GroupCommit[int, int] = GroupCommit(recorder.run)
    first = asyncio.create_task(commit(1))
    await until(lambda: recorder.batches == [[1]])  # it goes alone: nothing waits for company
    others = [asyncio.create_task(commit(n)) for n in (2, 3, 4)]
    await until(lambda: len(commit._waiting) == 3)
    recorder.gate.set()
    assert await first == 10
    assert [await task for task in others] == [20, 30, 40]
    assert recorder.batches == [[1], [2, 3, 4]]
    assert (commit.batches, commit.asks) == (2, 4)


async def test_an_ask_that_does_not_fit_waits_for_the_next_round_in_order() -> None:
    recorder = Recorder()
    recorder.gate.set()
    commit: GroupCommit[int, int] = GroupCommit(
        recorder.run, fits=lambda batch, ask: ask not in batch, limit=3
    )
    blocker = asyncio.Event()

    async def slow_first(asks: list[int]) -> list[int]:
        await blocker.wait()
        return await recorder.run(asks)

    commit._run = slow_first  # the first batch holds until every ask is queued
    tasks = [asyncio.create_task(commit(n)) for n in (7, 7, 8, 9, 5, 7)]
    await asyncio.sleep(0)
    blocker.set()
    assert [await t for t in tasks] == [70, 70, 80, 90, 50, 70]
    # At most three a batch, never the same ask twice in one.
    assert all(len(b) <= 3 and len(set(b)) == len(b) for b in recorder.batches)
    assert sorted(n for b in recorder.batches for n in b) == [5, 7, 7, 7, 8, 9]


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    recorder = Recorder()
    commit: GroupCommit[int, int] = GroupCommit(recorder.run)
    recorder.fail_next = True
    first = asyncio.create_task(commit(1))
    await until(lambda: recorder.batches == [[1]])
    second = asyncio.create_task(commit(2))
    await until(lambda: len(commit._waiting) == 1)
    recorder.gate.set()
    with pytest.raises(RuntimeError, match="went away"):
        await first
    assert await second == 20


async def test_a_caller_that_gives_up_does_not_stop_the_others() -> None:
    recorder = Recorder()
    commit: GroupCommit[int, int] = GroupCommit(recorder.run)
    first = asyncio.create_task(commit(1))
    await until(lambda: recorder.batches == [[1]])
    impatient = asyncio.create_task(commit(2))
    patient = asyncio.create_task(commit(3))
    await until(lambda: len(commit._waiting) == 2)
    impatient.cancel()
    recorder.gate.set()
    assert await first == 10 and await patient == 30
    assert impatient.cancelled()
