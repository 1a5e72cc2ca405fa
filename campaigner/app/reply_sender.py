"""The daemon's reply sender: confirmation replies from the outbox, each sent at most once.

The outbox (`reply_outbox`, 0013_consent.sql) gets its rows in the transaction that keeps the
inbound message (`Store.record_replies`), one per inbound message, so a replayed inbound owes no
second reply. This loop works through them like a dispatcher works through jobs:

* a reply is claimed with a lease (`claim-replies`, FOR UPDATE SKIP LOCKED: several daemons of one
  account share the outbox), and in that statement a HELP or opt-in reply to a number that is
  opted out is skipped instead: only the opt-out confirmation is ever sent to a listed number;
* it waits for the account's **shared** throttle (`RunWiring.throttle`, the same database schedule
  the campaigns of the account use), so replies and campaigns together keep the provider's limits;
* its outcome is written only while this worker still holds it: accepted -> sent (with the
  provider's id); a recipient, account or funds error -> failed; throttled -> pending (not an
  attempt); transient -> pending after a backoff, failed after `compliance.reply_max_attempts`;
  ambiguous (a timeout, a reply lost after the request was written) -> unknown, never resent;
* it is sent only while its lease outlasts the call; one whose turn at the schedule came too late
  goes back to pending unsent;
* a reply left in `sending` past its lease (a daemon killed mid-send) becomes unknown, never
  resent (`abandon-reply-leases`): a confirmation missed is better than one sent twice.

A reply's `ref` at the provider is minus its outbox id, so that no status callback that echoes it
(Clickatell's clientMessageId) can be taken for a campaign job's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from campaigner import metrics
from campaigner.config import Config
from campaigner.dispatch.decide import RetryPolicy
from campaigner.dispatch.throttle import Throttle
from campaigner.inbound.replies import masked
from campaigner.model.inbound import ClaimedReply
from campaigner.model.provider import OutboundMessage, Outcome, SendResult
from campaigner.providers.base import Provider
from campaigner.store.store import Store

log = logging.getLogger(__name__)


class ReplySender:
    """Sends one account's confirmation replies through its provider and shared throttle."""

    def __init__(
        self, store: Store, provider: Provider, throttle: Throttle, config: Config, worker_id: str
    ) -> None:
        self._store = store
        self._provider = provider
        self._throttle = throttle
        self._config = config
        self._worker_id = worker_id
        self.account = config.provider.account
        # Transient errors back off as a campaign's jobs do ([dispatcher] backoff_base, backoff_max).
        dispatcher = config.dispatcher
        self._backoff = RetryPolicy(config.compliance.reply_max_attempts, dispatcher.backoff_base,
                                    dispatcher.backoff_max)  # fmt: skip

    async def run(self) -> None:
        """Forever: abandon stale leases, claim due replies, send them; every reply_poll_interval."""
        await send_replies_forever(self._store, [self], self._config.compliance.reply_poll_interval)

    async def send_due(self) -> int:
        """One round; returns how many replies were sent."""
        settings = self._config.compliance
        for kind in await self._store.abandon_reply_leases(self.account):
            log.warning("a %s confirmation reply was left mid-send: unknown, not sent again", kind)
            metrics.confirmation_reply(self.account, kind, "unknown")
        lease = self._config.provider.request_bound() * 2 + self._config.dispatcher.lease_seconds
        claimed_at = time.monotonic()
        claimed, skipped = await self._store.claim_replies(
            self.account, self._worker_id, settings.reply_batch_size, lease
        )
        # A reply is sent only while its lease outlasts the call (as a job is: the runner's
        # _lease_allows); one whose turn at the shared schedule came too late goes back unsent.
        deadline = claimed_at + lease - self._config.provider.request_bound()
        for kind in skipped:
            log.info("a %s reply not sent: the number is opted out", kind)
            metrics.confirmation_reply(self.account, kind, "skipped")
        sent = 0
        # Replies from `first_unsent` on were never handed to the provider: if this round ends
        # early (a stop, a database error), they go back to pending, not to unknown.
        first_unsent = 0
        try:
            for reply in claimed:
                units = reply.segments if self._config.provider.rate_counts_segments else 1
                await self._throttle.acquire(units)
                if time.monotonic() >= deadline:
                    break  # its turn came too late for its lease: it and the rest go back
                first_unsent += 1
                if await self._send(reply):
                    sent += 1
        finally:
            if first_unsent < len(claimed):
                await asyncio.shield(self._release(claimed[first_unsent:]))
        return sent

    async def _release(self, replies: list[ClaimedReply]) -> None:
        for reply in replies:
            await self._store.record_reply_result(
                reply.id, self._worker_id, "pending", not_an_attempt=True, error_code="released"
            )

    async def _send(self, reply: ClaimedReply) -> bool:
        """Send one reply (its turn at the schedule taken) and write its outcome. A stop from here
        on leaves it to its lease: unknown, never resent."""
        message = OutboundMessage(ref=-reply.id, to=reply.e164, body=reply.body, segments=reply.segments)
        try:
            results = await self._provider.send([message])
            result = results[0]
        except Exception as exc:  # a client bug or a refused request: the outcome is not known
            result = SendResult(-reply.id, Outcome.AMBIGUOUS, code="error", message=str(exc))
        return await self._settle(reply, result)

    async def _settle(self, reply: ClaimedReply, result: SendResult) -> bool:
        store, worker = self._store, self._worker_id
        detail = {"code": result.code, "message": result.message}
        outcome = result.outcome
        if outcome is Outcome.ACCEPTED:
            await store.record_reply_result(reply.id, worker, "sent", provider_id=result.provider_id)
            metrics.confirmation_reply(self.account, reply.kind, "sent", reply.segments)
            log.info("%s confirmation sent to %s", reply.kind, masked(reply.e164))
            return True
        if outcome is Outcome.THROTTLED:
            self._throttle.on_throttled(result.retry_after)
            wait = result.retry_after if result.retry_after is not None else 1.0
            await store.record_reply_result(
                reply.id, worker, "pending", retry_in=wait, not_an_attempt=True,
                error_code=result.code, error_message=result.message,
            )  # fmt: skip
            metrics.confirmation_reply(self.account, reply.kind, "retried")
            return False
        if outcome is Outcome.TRANSIENT and reply.attempts < self._backoff.max_attempts:
            wait = self._backoff.delay(reply.attempts)
            await store.record_reply_result(
                reply.id, worker, "pending", retry_in=wait, error_code=result.code,
                error_message=result.message,
            )  # fmt: skip
            metrics.confirmation_reply(self.account, reply.kind, "retried")
            return False
        if outcome is Outcome.AMBIGUOUS:
            # The provider may have it: asking is for campaign jobs; a reply is never resent.
            await store.record_reply_result(
                reply.id, worker, "unknown", error_code=result.code or "ambiguous",
                error_message=result.message,
            )  # fmt: skip
            metrics.confirmation_reply(self.account, reply.kind, "unknown")
            log.warning("%s confirmation to %s: outcome unknown, not resent (%s)", reply.kind,
                        masked(reply.e164), detail)  # fmt: skip
            return False
        await store.record_reply_result(
            reply.id, worker, "failed", error_code=result.code or str(outcome),
            error_message=result.message,
        )  # fmt: skip
        metrics.confirmation_reply(self.account, reply.kind, "failed")
        log.warning("%s confirmation to %s failed (%s: %s)", reply.kind, masked(reply.e164), outcome, detail)
        return False


async def send_replies_forever(store: Store, senders: Sequence[ReplySender], interval: float) -> None:
    """Every `interval` seconds, one round of each account's sender that has work: one statement
    asks which have (a daemon of a hundred accounts does not ask two per account each poll)."""
    by_account = {sender.account: sender for sender in senders}

    async def one_round(sender: ReplySender) -> None:
        try:
            await sender.send_due()
        except Exception as exc:  # the database or the provider may be away a moment
            log.warning("sending confirmation replies of %r failed: %s", sender.account, exc)

    while True:
        try:
            due = await store.accounts_with_replies_due(list(by_account))
        except Exception as exc:  # the database may be away a moment
            log.warning("looking for confirmation replies to send failed: %s", exc)
        else:
            await asyncio.gather(*(one_round(by_account[account]) for account in sorted(due)))
        await asyncio.sleep(interval)
