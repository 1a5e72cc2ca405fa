"""Status progression and signed webhooks: queued → sent → delivered (or failed), and inbound SMS.

`Progression` owns one background task and a heap of (due time, message id, next status). Each
accepted message is pushed once (O(log n)); when its time comes its status moves on, and if it has a
`status_callback_url` an `sms.status_updated` event is POSTed there, signed like Cliqtel signs it:
`X-Cliqtel-Signature` = hex HMAC-SHA256 of the raw body with the webhook secret. Callbacks run as
separate tasks (at most `MAX_IN_FLIGHT` at once) so a slow receiver never holds the progression up.
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

from campaigner.sandbox.common import dumps
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


# Clickatell's numeric message statuses (Clickatell's "SMS REST API V2.0", "Message status").
CLICKATELL_STATUS = {
    "queued": ("002", "Message queued"),
    "sent": ("003", "Delivered to gateway"),
    "delivered": ("004", "Received by recipient"),
    "failed": ("007", "Error delivering message"),
    "cancelled": ("006", "User cancelled message delivery"),
}


def clickatell_status_event(message: Message) -> dict[str, Any]:
    """A Clickatell message status callback for `message` (the sandbox signs it like Cliqtel's)."""
    code, description = CLICKATELL_STATUS.get(message.status, ("001", "Message unknown"))
    return {
        "data": {
            "apiMessageId": message.api_message_id,
            "clientMessageId": message.client_message_id or "",
            "to": message.to.lstrip("+"),
            "from": message.from_.lstrip("+"),
            "timestamp": int(message.updated_at),
            "charge": message.cost,
            "messageStatus": code,
            "statusDescription": description,
        }
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


def clickatell_inbound_event(message: Message) -> dict[str, Any]:
    """A Clickatell two-way (MO) callback for an inbound `message` (numbers without '+')."""
    return {
        "data": {
            "moMessageId": str(message.id),
            "from": message.from_.lstrip("+"),
            "to": message.to.lstrip("+"),
            "text": message.body,
            "timestamp": int(message.created_at),
        }
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
        base = time.time() if start_at is None else start_at
        # `sending` half way to `sent`, so their callbacks leave in order.
        heapq.heappush(self._heap, (base + self.state.settings.sent_delay / 2, message.id, "sending"))
        self._wake.set()

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
        if message is None or message.status in ("cancelled", "delivered", "failed"):
            return
        if status == "sending" and message.api != "clickatell":
            # The guide's lifecycle: queued → sending → sent → delivered / failed.
            message.status = "sending"
            heapq.heappush(self._heap, (now + state.settings.sent_delay / 2, message_id, "sent"))
        elif status in ("sent", "sending"):
            message.status = "sent"
            heapq.heappush(self._heap, (now + state.settings.delivered_delay, message_id, "final"))
        else:
            if message.to in state.settings.unreachable:
                message.status = "failed"
                message.error = "Unreachable destination"
            else:
                message.status = "delivered"
        message.updated_at = now
        drop = state.settings.receipt_drop_rate
        if message.status_callback_url and not (drop > 0 and state.rng.random() < drop):
            if message.api == "clickatell":
                body = dumps(clickatell_status_event(message)).encode()
            else:
                body = dumps(status_event(message, state.settings.currency)).encode()
            self._spawn(message.status_callback_url, body, inbound=False)

    def _spawn(self, url: str, body: bytes, *, inbound: bool) -> None:
        task = asyncio.create_task(self._post_counted(url, body, inbound))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _post_counted(self, url: str, body: bytes, inbound: bool) -> None:
        async with self._limit:
            status = await self.post(url, body)
        stats = self.state.stats
        if status is not None and 200 <= status < 300:
            if inbound:
                stats.inbound_sent += 1
            else:
                stats.callbacks_sent += 1
        else:
            stats.callbacks_failed += 1

    async def post(self, url: str, body: bytes) -> int | None:
        """POST a signed JSON `body` to `url`; the HTTP status, or None when it could not be delivered."""
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.state.settings.webhook_secret, body),
            "User-Agent": "Cliqtel-Webhooks/1.0 (campaigner sandbox)",
        }
        timeout = aiohttp.ClientTimeout(total=self.state.settings.callback_timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("callback to %s failed: %s", url, exc)
            return None

    async def deliver_inbound(self, message: Message, url: str, api: str = "cliqtel") -> int | None:
        """POST `message` to `url` now, as `api` (cliqtel: `sms.received`; clickatell: its MO
        callback); its HTTP status (None: failed)."""
        event = clickatell_inbound_event(message) if api == "clickatell" else inbound_event(message)
        body = dumps(event).encode()
        status = await self.post(url, body)
        if status is not None and 200 <= status < 300:
            self.state.stats.inbound_sent += 1
        else:
            self.state.stats.callbacks_failed += 1
        return status


PROGRESSION: web.AppKey[Progression] = web.AppKey("sandbox_progression", Progression)
