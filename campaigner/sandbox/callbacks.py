"""Status progression and webhooks: queued → sent → delivered (or failed), and inbound SMS.

`Progression` owns one background task and a heap of (due time, message id, next event). Each
accepted message is pushed once (O(log n)); when its time comes its status moves on, and its
callback is sent. Cliqtel's: an `sms.status_updated` event POSTed to the message's
`status_callback_url`, signed like Cliqtel signs it (`X-Cliqtel-Signature` = hex HMAC-SHA256 of the
raw body with the webhook secret). Clickatell's: scheduled (011) → queued (002) → delivered to
gateway (003) → received (004) or error (007), or expired (010) when still queued at the end of its
validity, or stopped (006); each sent only when the message's `callback` bitmask asks for it, in the
shape clickatell_callbacks.py describes. Callbacks run as separate tasks (at most `MAX_IN_FLIGHT`
at once) so a slow receiver never holds the progression up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from campaigner.sandbox.clickatell_callbacks import mo_callback, status_callback, status_code, wanted
from campaigner.sandbox.common import Outgoing, dumps
from campaigner.sandbox.state import Message, SandboxState, iso

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
SIGNATURE_HEADER = "X-Cliqtel-Signature"


def sign(secret: str, body: bytes) -> str:
    """The X-Cliqtel-Signature of `body`: hex HMAC-SHA256 keyed with `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def status_event(message: Message, currency: str) -> dict[str, Any]:
    """The `sms.status_updated` payload of `message`, as Cliqtel's "SMS API Reference" shows it."""
    return {
        "event": "sms.status_updated",
        "data": {
            "id": message.id,
            "from": message.from_,
            "to": message.to,
            "direction": message.direction,
            "status": message.status,
            "segments": message.segments,
            "cost": message.cost,
            "currency": currency,
            "created_at": iso(message.created_at),
            "updated_at": iso(message.updated_at),
        },
        "timestamp": iso(message.updated_at),
    }


def inbound_event(message: Message) -> dict[str, Any]:
    """The `sms.received` payload of an inbound `message`, as Cliqtel's guide "How to Send & Receive
    SMS with Cliqtel" shows it."""
    return {
        "event": "sms.received",
        "data": {
            "id": message.id,
            "from": message.from_,
            "to": message.to,
            "body": message.body,
            "segments": message.segments,
            "received_at": iso(message.created_at, micro=True),
        },
    }


class Progression:
    """Moves messages through their statuses on time and sends their callbacks."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._heap: list[tuple[float, int, str]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def start(self) -> None:
        """Start the background task and the HTTP session callbacks are sent with."""
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="sandbox-progression")

    async def stop(self) -> None:
        """Stop the task, wait briefly for callbacks in flight, close the session."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=2.0)
            for task in self._in_flight:
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def clear(self) -> None:
        """Forget every pending transition (after a reset)."""
        self._heap.clear()

    def schedule(self, message: Message, start_at: float | None = None) -> None:
        """Plan `message`'s move to `sent` after `sent_delay` from `start_at` (Unix time, default now)."""
        if message.api == "clickatell":
            self._schedule_clickatell(message)
            return
        base = time.time() if start_at is None else start_at
        # `sending` half way to `sent`, so their callbacks leave in order.
        self._push(base + self.state.settings.sent_delay / 2, message.id, "sending")

    def cancel(self, message: Message) -> None:
        """Stop `message` now (Clickatell's stop): "cancelled", with its callback; what was planned
        for it no longer applies."""
        message.status = "cancelled"
        message.updated_at = time.time()
        self._clickatell_callback(message)

    def _push(self, when: float, message_id: int, event: str) -> None:
        heapq.heappush(self._heap, (when, message_id, event))
        self._wake.set()

    def _schedule_clickatell(self, message: Message) -> None:
        # The send reply reports the acceptance itself; a scheduled message also gets its 011.
        if message.status == "scheduled" and message.scheduled_at is not None:
            self._push(message.scheduled_at, message.id, "release")
            self._clickatell_callback(message)
        else:
            self._queue_clickatell(message, time.time())

    def _queue_clickatell(self, message: Message, now: float) -> None:
        # Validity counts from when the message joins the queue, for a scheduled one its time (the
        # document: "relative to the time at which the SMS was received by our gateway"; it says
        # nothing of schedules).
        if message.validity_seconds is not None:
            message.expires_at = now + message.validity_seconds
        self._push_or_expire(message, now + self.state.settings.sent_delay / 2, "sent")

    def _push_or_expire(self, message: Message, when: float, event: str) -> None:
        # Not delivered when its validity ends: it expires instead. The document speaks of a message
        # "still queued on our gateway"; one sent on but not yet received expires too, as the
        # carrier is commonly given the same validity.
        if message.expires_at is not None and message.expires_at < when:
            self._push(message.expires_at, message.id, "expire")
        else:
            self._push(when, message.id, event)

    async def _run(self) -> None:
        heap = self._heap
        while True:
            if not heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = heap[0][0] - time.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            now = time.time()
            while heap and heap[0][0] <= now:
                _, message_id, status = heapq.heappop(heap)
                self._advance(message_id, status, now)

    def _advance(self, message_id: int, status: str, now: float) -> None:
        state = self.state
        message = state.store.get(message_id)
        if message is not None and message.api == "clickatell":
            self._advance_clickatell(message, status, now)
            return
        if message is None or message.status in ("cancelled", "delivered", "failed"):
            return
        if status == "sending":
            # The guide's lifecycle: queued → sending → sent → delivered / failed.
            message.status = "sending"
            heapq.heappush(self._heap, (now + state.settings.sent_delay / 2, message_id, "sent"))
        elif status == "sent":
            message.status = "sent"
            heapq.heappush(self._heap, (now + state.settings.delivered_delay, message_id, "final"))
        else:
            self._settle(message)
        message.updated_at = now
        drop = state.settings.receipt_drop_rate
        if message.status_callback_url and not (drop > 0 and state.rng.random() < drop):
            body = dumps(status_event(message, state.settings.currency)).encode()
            self._spawn(self._cliqtel(message.status_callback_url, body), inbound=False)

    def _settle(self, message: Message) -> None:
        if message.to in self.state.settings.unreachable:
            message.status = "failed"
            message.error = "Unreachable destination"
        else:
            message.status = "delivered"

    def _advance_clickatell(self, message: Message, event: str, now: float) -> None:
        # Each event applies only to the state it was planned from: a stopped, expired or settled
        # message ignores what was planned for it before.
        current = message.status
        if event == "release" and current == "scheduled":
            message.status = "queued"
            self._queue_clickatell(message, now)
        elif event == "expire" and current in ("queued", "sent"):
            message.status = "expired"
        elif event == "sent" and current == "queued":
            message.status = "sent"
            self._push_or_expire(message, now + self.state.settings.delivered_delay, "final")
        elif event == "final" and current == "sent":
            self._settle(message)
        else:
            return
        message.updated_at = now
        self._clickatell_callback(message)

    def _clickatell_callback(self, message: Message) -> None:
        """Send `message`'s status callback if its `callback` bitmask asks for this status."""
        s = self.state.settings
        url = message.status_callback_url
        if not url or not wanted(message.callback, status_code(message)[0]):
            return
        if s.receipt_drop_rate > 0 and self.state.rng.random() < s.receipt_drop_rate:
            return
        self._spawn(self._signed(status_callback(s, message, url)), inbound=False)

    def _signed(self, out: Outgoing) -> Outgoing:
        # Sandbox extension (off by default): Clickatell's document describes no callback signature.
        if not self.state.settings.clickatell_callback_signed:
            return out
        signature = sign(self.state.settings.webhook_secret, out.body)
        return Outgoing(out.method, out.url, out.body, {**out.headers, SIGNATURE_HEADER: signature})

    def _cliqtel(self, url: str, body: bytes) -> Outgoing:
        """A Cliqtel webhook: JSON, signed with the webhook secret."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.state.settings.webhook_secret, body),
            "User-Agent": "Cliqtel-Webhooks/1.0 (campaigner sandbox)",
        }
        return Outgoing("POST", url, body, headers)

    def _spawn(self, out: Outgoing, *, inbound: bool) -> None:
        task = asyncio.create_task(self._post_counted(out, inbound))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _post_counted(self, out: Outgoing, inbound: bool) -> None:
        async with self._limit:
            status = await self.deliver(out)
        self._count(status, inbound)

    def _count(self, status: int | None, inbound: bool) -> None:
        stats = self.state.stats
        if status is not None and 200 <= status < 300:
            if inbound:
                stats.inbound_sent += 1
            else:
                stats.callbacks_sent += 1
        else:
            stats.callbacks_failed += 1

    async def deliver(self, out: Outgoing) -> int | None:
        """Make the request `out`; its HTTP status, or None when it could not be delivered. A
        user:password in the URL is sent as HTTP Basic auth (and left out of the URL)."""
        assert self._session is not None
        url = URL(out.url)
        headers = out.headers
        if url.user is not None:
            basic = aiohttp.encode_basic_auth(url.user, url.password or "")
            headers = {**headers, "Authorization": basic}
            url = url.with_user(None)
        timeout = aiohttp.ClientTimeout(total=self.state.settings.callback_timeout)
        try:
            async with self._session.request(
                out.method, url, data=out.body or None, headers=headers, timeout=timeout
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.debug("callback to %s failed: %s", url.with_query(None), exc)
            return None

    async def deliver_inbound(self, message: Message, url: str, api: str = "cliqtel") -> int | None:
        """Send inbound `message` to `url` now, as `api` (cliqtel: a signed `sms.received`;
        clickatell: its MO callback in the callback shape); its HTTP status (None: failed)."""
        if api == "clickatell":
            out = self._signed(mo_callback(self.state.settings, message, url))
        else:
            out = self._cliqtel(url, dumps(inbound_event(message)).encode())
        status = await self.deliver(out)
        self._count(status, inbound=True)
        return status


PROGRESSION: web.AppKey[Progression] = web.AppKey("sandbox_progression", Progression)
