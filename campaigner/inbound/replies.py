"""Replies from recipients: where a STOP stops the sending.

An opt-out reply (`campaigner.inbound.stopwords`) adds the sender to the suppression list (reason
`stop_reply`, source `inbound`). From then on, no claim hands out a job of that number (the claim
marks it `skipped`, `campaigner/sql/queries/jobs.sql` claim-jobs), and a dispatcher that already
holds some of its jobs puts them back unsent (`CampaignRunner._hold_back_stopped`, which watches
`suppressed_since_any`). START/UNSTOP lifts a suppression that a STOP reply made.

What this module promises:

* The sender is read as the loader reads a recipient (`campaigner.inbound.numbers`), so a STOP
  suppresses the very number its jobs carry, however the provider wrote it.
* Every reply is kept once in `inbound_messages` (by the account and the provider's message id):
  a retried or replayed callback is a duplicate and changes nothing.
* STOPs and STARTs of a number are applied in the order the person sent them (the provider's
  date), not the order they arrive: a START older than the latest STOP does nothing, and so does
  a STOP older than the latest START.
* A reply that cannot be applied is kept with its text and reported (a WARNING and its verdict),
  never dropped: a number that does not parse (bad_number), a date older than
  `daemon.event_max_age` (stale) or more than `daemon.event_max_skew` ahead (future_dated).

Keywords and confirmations come from the account's config (`InboundPolicy.confirmations`:
`compliance.*` keyword sets, fuzzy mode, reply texts); a confirmation owed joins the reply outbox
in the transaction that keeps the inbound message (`Store.record_replies`), so a replayed inbound
is a duplicate and owes nothing, and the daemon's reply sender (`app/reply_sender.py`) sends it.

Verdicts (campaigner_webhook_events_total{type="inbound"}): opt_out, opt_out_fuzzy (found only by
fuzzy mode), opt_in, help, other, superseded (a newer STOP/START of the number decides),
duplicate, bad_number, stale, future_dated.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.stopwords import Reply as ReplyKind
from campaigner.model.inbound import Reply, ReplyDraft, ReplyOutcome
from campaigner.model.provider import InboundEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

_KEYWORD = {
    ReplyKind.OPT_OUT: "STOP",
    ReplyKind.OPT_IN: "START",
    ReplyKind.HELP: "HELP",
    ReplyKind.OTHER: "message",
}


def masked(e164: str) -> str:
    """A phone number for log lines: country prefix and last two digits only."""
    return e164[:4] + "*" * max(0, len(e164) - 6) + e164[-2:] if len(e164) > 6 else "***"


def _masked_raw(number: str) -> str:
    """A number that did not parse, for log lines: its length and last two characters only."""
    text = number.strip()
    return f"{len(text)} characters ending {text[-2:]!r}" if len(text) > 4 else "(short)"


async def handle_inbound(store: Store, events: Sequence[InboundEvent], policy: InboundPolicy) -> Counter[str]:
    """Keep one request's inbound messages and act on their STOPs and STARTs; returns how many got
    each verdict."""
    verdicts: Counter[str] = Counter()
    now = datetime.now(UTC)
    replies: list[Reply] = []
    problems: list[str | None] = []
    seen: set[str] = set()
    drafts: dict[str, ReplyDraft] = {}
    confirmations = policy.confirmations
    for event in events:
        if event.provider_id in seen:
            verdicts["duplicate"] += 1
            continue
        seen.add(event.provider_id)
        match = confirmations.keywords.match(event.body)
        kind = match.kind
        sender = policy.numbers.sender(event.from_number, event.to_number)
        problem: str | None = None
        detail = ""
        if sender.e164 is None:
            problem, detail = "bad_number", sender.problem
        else:
            problem = policy.window_problem(event.received_at, now)
            if problem is not None and event.received_at is not None:
                detail = f"dated {event.received_at.isoformat()}"
        replies.append(
            Reply(
                provider_id=event.provider_id,
                from_number=event.from_number,
                e164=sender.e164,
                to_number=event.to_number,
                reply=str(kind),
                sent_at=event.received_at or now,
                problem=f"{problem}: {detail}" if problem and detail else problem,
                # The text is the recipient's: kept only when a person has to act on it.
                body=event.body if problem else None,
                fuzzy=match.fuzzy,
                language=match.language,
            )
        )
        problems.append(problem)
        if kind is not ReplyKind.OTHER and problem is None and sender.e164 is not None:
            draft = confirmations.draft(str(kind), match.language, policy.numbers.region_of(sender.e164))
            if draft is not None:
                drafts[event.provider_id] = draft
    outcomes = await store.record_replies(
        policy.account, replies, scope=policy.opt_out_scope, drafts=drafts
    )
    for reply, problem, outcome in zip(replies, problems, outcomes, strict=True):
        verdicts[_report(reply, problem, outcome)] += 1
    return verdicts


def _report(reply: Reply, problem: str | None, outcome: ReplyOutcome | None) -> str:
    """Log what became of one reply; returns its verdict."""
    kind = ReplyKind(reply.reply)
    extra = {"provider_id": reply.provider_id}
    if outcome is None:
        log.debug("inbound message %s already received: nothing done", reply.provider_id, extra=extra)
        return "duplicate"
    if problem is not None:
        if reply.e164:
            who = masked(reply.e164)
        else:
            who = f"a number that does not parse ({_masked_raw(reply.from_number)})"
        log.warning(
            "inbound %s %s from %s not applied (%s): kept in inbound_messages",
            _KEYWORD[kind],
            reply.provider_id,
            who,
            reply.problem,
            extra={**extra, "verdict": problem},
        )
        return problem
    assert reply.e164 is not None
    if kind is ReplyKind.OTHER:
        # The text is the recipient's: never at INFO.
        log.debug("inbound message %s from %s", reply.provider_id, masked(reply.e164), extra=extra)
        return "other"
    if kind is ReplyKind.HELP:
        log.info("HELP reply from %s", masked(reply.e164), extra=extra)
        return "help"
    if not outcome.applied:
        log.info(
            "%s reply from %s sent %s: a newer STOP/START of the number decides, nothing done",
            _KEYWORD[kind],
            masked(reply.e164),
            reply.sent_at.isoformat(),
            extra=extra,
        )
        return "superseded"
    if kind is ReplyKind.OPT_OUT:
        # Its pending jobs are skipped when claimed; dispatchers holding some see the new entry.
        log.info(
            "opt-out reply from %s: %s",
            masked(reply.e164),
            "suppressed" if outcome.changed else "already suppressed",
            extra=extra,
        )
        return "opt_out_fuzzy" if reply.fuzzy else "opt_out"
    log.info(
        "opt-in reply from %s: %s",
        masked(reply.e164),
        "suppression lifted" if outcome.changed else "no STOP-reply suppression to lift",
        extra=extra,
    )
    return "opt_in"
