"""CampaignWatch: every carried campaign's state and the new opt-outs in two queries a poll."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from campaigner.dispatch.campaign_watch import CampaignWatch
from campaigner.dispatch.runner import CampaignRunner
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.dispatch.worker import Worker
from campaigner.model.campaigns import CampaignWatchState
from campaigner.model.states import CampaignState
from tests.builders import numbers
from tests.unit.memory_ports import MemoryProvider, MemoryStore
from tests.unit.test_runner import fast_config


class Campaigns:
    """Many campaigns' rows and the suppression list, counting the statements asked of it."""

    def __init__(self, count: int) -> None:
        self.rows = {
            i: CampaignWatchState(i, CampaignState.RUNNING, None, 10, "+3197010203040" if i % 2 else "")
            for i in range(1, count + 1)
        }
        self.suppressions: list[tuple[str, str, datetime]] = []
        self.statements = 0
        self.fail = False

    async def watch_campaigns(self, campaign_ids: Sequence[int]) -> list[CampaignWatchState]:
        self.statements += 1
        if self.fail:
            raise ConnectionError("database went away")
        return [self.rows[i] for i in campaign_ids if i in self.rows]

    async def suppressed_since_any(
        self, since: datetime, senders: Sequence[str]
    ) -> list[tuple[str, str, datetime]]:
        self.statements += 1
        return [s for s in self.suppressions if s[2] > since]


class View:
    def __init__(self) -> None:
        self.states: list[CampaignWatchState] = []
        self.stopped: list[str] = []
        self.errors: list[BaseException] = []


def watch_all(watch: CampaignWatch, count: int, store: Campaigns) -> dict[int, View]:
    views = {}
    for i in range(1, count + 1):
        view = views[i] = View()
        watch.watch(i, store.rows[i].sender, view.states.append, view.stopped.extend, view.errors.append)
    return views


async def test_fifty_campaigns_are_watched_in_two_statements_a_poll() -> None:
    store = Campaigns(50)
    watch = CampaignWatch(store, interval=3600)
    views = watch_all(watch, 50, store)
    store.rows[7] = replace(store.rows[7], state=CampaignState.PAUSED)
    await watch.poll()
    await watch.close()
    assert store.statements == 2
    assert all(len(view.states) == 1 for view in views.values())
    assert views[7].states[0].state == CampaignState.PAUSED
    assert {views[i].states[0].state for i in views if i != 7} == {CampaignState.RUNNING}


async def test_an_opt_out_reaches_the_campaigns_of_its_scope_only() -> None:
    store = Campaigns(4)  # 1 and 3 send from +3197010203040, 2 and 4 from the account's default
    watch = CampaignWatch(store, interval=3600)
    views = watch_all(watch, 4, store)
    now = datetime.now(UTC)
    store.suppressions = [("+31600000001", "", now), ("+31600000002", "3197010203040", now)]
    await watch.poll()
    await watch.poll()  # the cursor moved on: nothing is handed out twice
    await watch.close()
    assert views[1].stopped == views[3].stopped == ["+31600000001", "+31600000002"]
    assert views[2].stopped == views[4].stopped == ["+31600000001"]


async def test_a_runner_that_joins_hears_the_last_minutes_opt_outs() -> None:
    store = Campaigns(2)
    watch = CampaignWatch(store, interval=3600)
    first = View()
    watch.watch(2, "", first.states.append, first.stopped.extend, first.errors.append)
    store.suppressions = [("+31600000001", "", datetime.now(UTC) - timedelta(seconds=5))]
    await watch.poll()
    late = View()
    watch.watch(1, "", late.states.append, late.stopped.extend, late.errors.append)
    await watch.close()
    assert late.stopped == ["+31600000001"]


async def test_a_failed_poll_reaches_every_runner_and_the_watcher_polls_on() -> None:
    store = Campaigns(3)
    watch = CampaignWatch(store, interval=0.01)
    views = watch_all(watch, 3, store)
    store.fail = True
    async with asyncio.timeout(5):
        while not all(view.errors for view in views.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    store.fail = False
    async with asyncio.timeout(5):
        while not all(view.states for view in views.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await watch.close()


async def test_the_polling_ends_with_the_last_runner() -> None:
    store = Campaigns(2)
    watch = CampaignWatch(store, interval=0.01)
    a, b = View(), View()
    one = watch.watch(1, "", a.states.append, a.stopped.extend, a.errors.append)
    two = watch.watch(2, "", b.states.append, b.stopped.extend, b.errors.append)
    task = watch._task
    one.close()
    assert watch._task is task and task is not None and not task.done()
    two.close()
    await asyncio.gather(task, return_exceptions=True)
    assert watch._task is None and task.cancelled()


async def test_runners_sharing_a_watcher_stop_on_a_pause_from_elsewhere() -> None:
    store = MemoryStore(numbers(200))
    config = fast_config(concurrency=1, batch_size=1)
    throttle = Throttle(Limits(6_000, 20))  # 10 s of sending: the pause comes first
    watch = CampaignWatch(store, interval=0.05)
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    try:
        runner = CampaignRunner(store, MemoryProvider(), throttle, config, 1, worker, watch=watch)
        task = asyncio.create_task(runner.run())
        async with asyncio.timeout(5):
            while store.states().get("submitted", 0) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await store.pause_campaign(1, "by hand")
        report = await asyncio.wait_for(task, 5)
    finally:
        await worker.stop()
        await watch.close()
    assert report.state == CampaignState.PAUSED
    assert store.watch_queries > 0
