"""Idempotency keys: a POST that creates or changes something is done once per key.

The client sends `Idempotency-Key: <key>` (any string of 1 to 200 printable characters, a UUID is
usual). The first request with a key takes it in the database (so two daemons, or a retry that
arrives while the first is still running, agree) and its answer is kept; the same key again gets
that answer back with `Idempotent-Replayed: true`, and nothing is done twice. A key sent with a
different request (another route or other content) is a 422; one whose first request is still
being handled is a 409. A request that failed (any error answer) gives its key back: the client
may fix the request and send it again with the same key. Keys are kept for KEEP_SECONDS (a day).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from campaigner.errors import UserError
from campaigner.store.store import Store

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEEP_SECONDS = 86_400.0
FORGET_EVERY = 3600.0
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 200


class KeyProblem(UserError):
    """The key is missing, malformed, reused for another request, or still in use."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_key(key: str | None) -> str:
    """The key as sent, or a KeyProblem (400) saying what is wrong with it."""
    if key is None or not key.strip():
        raise KeyProblem(f"the {HEADER} header is required on this request (e.g. a fresh UUID)", 400)
    if len(key) > MAX_KEY or not key.isprintable():
        raise KeyProblem(f"the {HEADER} header must be 1 to {MAX_KEY} printable characters", 400)
    return key


def fingerprint(*parts: bytes | str) -> str:
    """A hash of what identifies a request (route, fields, file contents)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


Answer = tuple[int, Any]


async def once(
    store: Store, key: str, request_hash: str, action: Callable[[], Awaitable[Answer]]
) -> tuple[Answer, bool]:
    """The answer of `action`, run only if `key` is new; (answer, replayed)."""
    if await store.claim_idempotency_key(key, request_hash):
        try:
            status, body = await action()
        except BaseException:
            await store.release_idempotency_key(key)
            raise
        if status >= 400:
            await store.release_idempotency_key(key)
        else:
            await store.finish_idempotency_key(key, status, body)
        return (status, body), False
    found = await store.idempotent_answer(key)
    if found is None:  # given back by a failed first request a moment ago: take it now
        return await once(store, key, request_hash, action)
    kept_hash, kept_status, kept_body = found
    if kept_hash != request_hash:
        raise KeyProblem(f"{HEADER} {key!r} was already used for a different request", 422)
    if kept_status is None:
        raise KeyProblem(f"the request with {HEADER} {key!r} is still being handled; retry later", 409)
    return (kept_status, kept_body), True


async def forgetting(store: Store) -> AsyncIterator[None]:
    """While the app runs (an aiohttp cleanup context): forget old keys every FORGET_EVERY seconds."""

    async def loop() -> None:
        while True:
            try:
                await store.forget_idempotency_keys(KEEP_SECONDS)
            except Exception as exc:  # the database may be away for a moment; next round
                log.warning("forgetting old idempotency keys failed: %s", exc)
            await asyncio.sleep(FORGET_EVERY)

    task = asyncio.create_task(loop(), name="idempotency keys")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
