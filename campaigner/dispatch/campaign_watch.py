"""One watcher of every campaign a process carries: their state and the new opt-outs, in two queries.

A runner must see within a moment that its campaign was paused or cancelled elsewhere, that its
validity moved, and which numbers opted out since it claimed their jobs (`_hold_back_stopped`).
Asked by each runner every STATE_POLL_SECONDS, that is two queries per campaign per poll: with 100
campaigns, 400 a second. `CampaignWatch` asks once per poll for all of them: the state, validity,
priority and sender of every campaign watched (`watch-campaigns`), and the suppressions added since
the last poll under any of their scopes (`suppressions-since-any`), and hands each runner its part.

The daemon's runners share one (RunWiring builds it); a runner given none (`campaigner run` in a
test, a tool) makes its own. The polling task runs while anyone watches: started by the first
`watch`, ended when the last closes. A poll that fails is handed to every runner watching, which
stops as it did when its own poll failed (the daemon restarts it); the watcher polls on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from campaigner.dispatch.ports import WatchStore
from campaigner.model.campaigns import CampaignWatchState
from campaigner.model.jobs import sender_scope

log = logging.getLogger(__name__)

# How often the campaigns' state is read, so pause and cancel from elsewhere apply within a second.
STATE_POLL_SECONDS = 0.5
# Opt-outs this recent are handed to a runner that starts watching: a STOP is stamped when its
# transaction began, so one committed just after a poll may carry a time before that poll's newest.
LOOK_BACK = timedelta(minutes=1)


class Watched:
    """One runner's view: `on_state` hears each poll's row, `on_stopped` the numbers opted out,
    `on_error` a poll that failed. Callbacks run in the watcher's task and must not block."""

    def __init__(
        self,
        watch: CampaignWatch,
        campaign_id: int,
        sender: str,
        on_state: Callable[[CampaignWatchState], None],
        on_stopped: Callable[[Sequence[str]], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._watch = watch
        self.campaign_id = campaign_id
        self.scope = sender_scope(sender)
        self.on_state = on_state
        self.on_stopped = on_stopped
        self.on_error = on_error

    def concerns(self, scope: str) -> bool:
        """An entry of `scope` holds this campaign's jobs: account-wide, or for its sender."""
        return scope in ("", self.scope)

    def close(self) -> None:
        """Stop watching (the runner ended)."""
        self._watch.unwatch(self)


class CampaignWatch:
    """Polls the state of every watched campaign and the new suppressions, once per interval."""

    def __init__(self, store: WatchStore, interval: float = STATE_POLL_SECONDS) -> None:
        self._store = store
        self._interval = interval
        self._watched: dict[int, list[Watched]] = {}
        self._task: asyncio.Task[None] | None = None
        self._since = datetime.now(UTC) - LOOK_BACK
        # Suppressions seen in the last LOOK_BACK: (number, scope, when), for runners that join.
        self._recent: deque[tuple[str, str, datetime]] = deque()
        self.polls = 0

    def watch(
        self,
        campaign_id: int,
        sender: str,
        on_state: Callable[[CampaignWatchState], None],
        on_stopped: Callable[[Sequence[str]], None],
        on_error: Callable[[BaseException], None],
    ) -> Watched:
        """Start watching `campaign_id` (whose sender is `sender`); polling starts if it had not."""
        watched = Watched(self, campaign_id, sender, on_state, on_stopped, on_error)
        self._watched.setdefault(campaign_id, []).append(watched)
        recent = [e164 for e164, scope, _at in self._recent if watched.concerns(scope)]
        if recent:
            on_stopped(recent)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="campaign watcher")
        return watched

    def unwatch(self, watched: Watched) -> None:
        """Forget one view; the polling ends with the last."""
        views = self._watched.get(watched.campaign_id, [])
        if watched in views:
            views.remove(watched)
        if not views:
            self._watched.pop(watched.campaign_id, None)
        if not self._watched and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """End the polling (whoever still watches hears nothing more)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while self._watched:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception as exc:  # the database went away: every runner hears it, as before
                for views in list(self._watched.values()):
                    for watched in list(views):
                        watched.on_error(exc)

    async def poll(self) -> None:
        """Read every watched campaign and the suppressions since the last poll; tell the runners."""
        self.polls += 1
        ids = sorted(self._watched)
        if not ids:
            return
        rows = await self._store.watch_campaigns(ids)
        senders = sorted({row.sender for row in rows})
        stopped = await self._store.suppressed_since_any(self._since, senders)
        for e164_scope_at in stopped:
            self._recent.append(e164_scope_at)
            self._since = max(self._since, e164_scope_at[2])
        while self._recent and self._recent[0][2] < self._since - LOOK_BACK:
            self._recent.popleft()
        for row in rows:
            for watched in list(self._watched.get(row.id, ())):
                watched.on_state(row)
                numbers = [e164 for e164, scope, _at in stopped if watched.concerns(scope)]
                if numbers:
                    watched.on_stopped(numbers)
