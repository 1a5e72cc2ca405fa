"""Replies from recipients: where a STOP stops the sending.

An opt-out reply (`campaigner.inbound.stopwords`) adds the sender to the suppression list (reason
`stop_reply`, source `inbound`). From then on, no claim hands out a job of that number (the claim
marks it `skipped`, `campaigner/sql/queries/jobs.sql` claim-jobs), and a dispatcher that already
holds some of its jobs puts them back unsent (`CampaignRunner._hold_back_stopped`, which watches
`suppressed_since`). START/UNSTOP lifts a suppression that a STOP reply made.

Verdicts (campaigner_webhook_events_total{type="inbound"}): opt_out, opt_in, other, bad_number.
"""

from __future__ import annotations

import logging
import re

from campaigner.inbound.stopwords import Reply, classify
from campaigner.model.provider import InboundEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEPARATORS = re.compile(r"[\s\-().]")


def e164_of(number: str) -> str | None:
    """`number` as E.164 ('+' and digits; '00' or no prefix accepted), or None if it is not one."""
    text = _SEPARATORS.sub("", number or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.isdigit():
        text = "+" + text
    return text if _E164.match(text) else None


def masked(e164: str) -> str:
    """A phone number for log lines: country prefix and last two digits only."""
    return e164[:4] + "*" * max(0, len(e164) - 6) + e164[-2:] if len(e164) > 6 else "***"


async def handle_inbound(store: Store, event: InboundEvent) -> str:
    """Act on one inbound message; returns its verdict."""
    e164 = e164_of(event.from_number)
    if e164 is None:
        log.warning("inbound message %s from a number that is not E.164; ignored", event.provider_id)
        return "bad_number"
    reply = classify(event.body)
    if reply is Reply.OPT_OUT:
        # Its pending jobs are skipped when claimed; dispatchers holding some see the new entry.
        added = await store.add_suppressions([e164], "stop_reply", "inbound")
        log.info(
            "opt-out reply from %s: %s",
            masked(e164),
            "suppressed" if added else "already suppressed",
            extra={"provider_id": event.provider_id},
        )
        return "opt_out"
    if reply is Reply.OPT_IN:
        lifted = await store.remove_stop_reply_suppression(e164)
        log.info(
            "opt-in reply from %s: %s",
            masked(e164),
            "suppression lifted" if lifted else "no STOP-reply suppression to lift",
            extra={"provider_id": event.provider_id},
        )
        return "opt_in"
    # The text is the recipient's: never at INFO.
    log.debug("inbound message %s from %s: %r", event.provider_id, masked(e164), event.body)
    return "other"
