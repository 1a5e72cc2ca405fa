"""The provider error codes of every client, mapped once onto the taxonomy of `base.Outcome`.

A provider's own code wins over its HTTP status (Cliqtel answers `insufficient_balance` under more
than one status); the status is the fallback for replies without a code we know. Unknown 4xx go to
ACCOUNT on purpose: a systematic client error must pause the campaign for a human, not reject every
job one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigner.errors import ProviderError
from campaigner.model.provider import Outcome


class ProviderUnavailable(ProviderError):
    """The provider could not answer now (network, 5xx, 429): ask again later, never resend blindly."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Verdict:
    """An outcome and whether it means the recipient opted out or is blocked (suppression list).

    `if_absent` is for an AMBIGUOUS error that may also mean "refused": when the lookup finds no
    such message, the job takes that outcome instead of being sent again.
    """

    outcome: Outcome
    opt_out: bool = False
    if_absent: Outcome | None = None


def by_status(status: int) -> Verdict:
    """The outcome an HTTP status means when the body carries no code we know."""
    if status == 429:
        return Verdict(Outcome.THROTTLED)
    if status == 402:
        return Verdict(Outcome.FUNDS)
    if status in (401, 403, 404, 405):
        return Verdict(Outcome.ACCOUNT)
    if status in (410, 422):
        # Clickatell 410 "blocked, delisted, or cannot be routed": only its code (121, 128, ...) says
        # whether it is an opt-out, so a bare 410 rejects the job without suppressing the number.
        return Verdict(Outcome.RECIPIENT)
    if status == 504:
        # A gateway timed out waiting for the provider, which may still have processed the request.
        return Verdict(Outcome.AMBIGUOUS)
    if status >= 500:
        return Verdict(Outcome.TRANSIENT)
    return Verdict(Outcome.ACCOUNT)


# --- Cliqtel: string codes from the error envelope (SMS API reference, "Error Handling") -----------------

CLIQTEL_CODES: dict[str, Verdict] = {
    "unauthenticated": Verdict(Outcome.ACCOUNT),
    "unauthorized": Verdict(Outcome.ACCOUNT),
    "insufficient_scope": Verdict(Outcome.ACCOUNT),
    "forbidden": Verdict(Outcome.ACCOUNT),
    "not_found": Verdict(Outcome.ACCOUNT),  # on send: the sender number or the endpoint is wrong
    "number_not_found": Verdict(Outcome.ACCOUNT),  # the sender is unknown, inactive or not SMS-enabled
    "insufficient_balance": Verdict(Outcome.FUNDS),
    "insufficient_funds": Verdict(Outcome.FUNDS),
    "rate_limited": Verdict(Outcome.THROTTLED),
    "too_many_requests": Verdict(Outcome.THROTTLED),
    # 500 "Carrier rejected the message": the guide ties it to an invalid or unsupported destination,
    # and a server error may come after the message was stored. Look it up; absent, the job is
    # rejected (never sent again blind).
    "send_failed": Verdict(Outcome.AMBIGUOUS, if_absent=Outcome.RECIPIENT),
    "server_error": Verdict(Outcome.AMBIGUOUS),
    "service_unavailable": Verdict(Outcome.TRANSIENT),
    # Not in the reference, but the usual spellings of an opt-out or a block: never retried.
    "opted_out": Verdict(Outcome.RECIPIENT, opt_out=True),
    "recipient_opted_out": Verdict(Outcome.RECIPIENT, opt_out=True),
    "unsubscribed": Verdict(Outcome.RECIPIENT, opt_out=True),
    "blocked": Verdict(Outcome.RECIPIENT, opt_out=True),
    "recipient_blocked": Verdict(Outcome.RECIPIENT, opt_out=True),
    "invalid_recipient": Verdict(Outcome.RECIPIENT),
}

# The fields of a Cliqtel validation error that are about one job's message; any other field (the
# sender, status_callback_url, …) is shared by every job, so the error is the account's.
CLIQTEL_MESSAGE_FIELDS = ("to", "body")

# The portal envelope (`{"success": false, "message": …}`) has no code: read its text. Phrases from
# the guide's troubleshooting table; anything else pauses the campaign for a human.
CLIQTEL_PORTAL_TEXTS: tuple[tuple[str, Verdict], ...] = (
    ("insufficient wallet balance", Verdict(Outcome.FUNDS)),
    ("insufficient balance", Verdict(Outcome.FUNDS)),
    ("failed to send sms", Verdict(Outcome.AMBIGUOUS, if_absent=Outcome.RECIPIENT)),
)


def _cliqtel_validation(fields: tuple[str, ...]) -> Verdict:
    """A 422: the job's own fault only when every field it names is the job's."""
    if fields and all(field in CLIQTEL_MESSAGE_FIELDS for field in fields):
        return Verdict(Outcome.RECIPIENT)
    return Verdict(Outcome.ACCOUNT)


def _cliqtel_status(status: int) -> Verdict:
    """A Cliqtel status without a code we know."""
    if status == 429:
        return Verdict(Outcome.THROTTLED)
    if status == 402:
        return Verdict(Outcome.FUNDS)
    if status in (500, 502, 504):
        # Nothing proves the message was not stored (an error after the insert, a proxy that gave
        # up on the origin): look it up before anything is sent again.
        return Verdict(Outcome.AMBIGUOUS)
    if status >= 500:
        return Verdict(Outcome.TRANSIENT)  # 503 and the like: refused before any work
    return Verdict(Outcome.ACCOUNT)  # 401, 403, 404, a 422 naming no field, any other 4xx: systemic


def cliqtel_verdict(
    status: int, code: str | None, fields: tuple[str, ...] = (), text: str | None = None
) -> Verdict:
    """Map a Cliqtel error (HTTP status, envelope code, fields named by a validation error, and the
    human-readable text where the envelope has no code).

    Only an error about the job's own message (`to`, `body`) or its destination rejects the job;
    an unknown code or a field every job shares pauses the campaign with the reason.
    """
    if code:
        key = code.strip().lower().replace(" ", "_").replace("-", "_")
        if key == "validation_error":
            return _cliqtel_validation(fields)
        if key in CLIQTEL_CODES:
            return CLIQTEL_CODES[key]
        return _cliqtel_status(status) if status >= 500 or status == 429 else Verdict(Outcome.ACCOUNT)
    if text:
        lowered = text.lower()
        for phrase, verdict in CLIQTEL_PORTAL_TEXTS:
            if phrase in lowered:
                return verdict
    if status == 422:
        return _cliqtel_validation(fields)
    return _cliqtel_status(status)


# --- Clickatell: numeric codes (SMS REST API v2.0, section 10) ---------------------------------------------
# A code about this message's destination rejects that job only; a code about our request, the
# text every job of a request shares, the account or the gateway pauses the campaign for a human
# (rejecting every job one by one would empty the campaign over one mistake of ours).

CLICKATELL_CODES: dict[str, Verdict] = {
    "001": Verdict(Outcome.ACCOUNT),  # authentication failed
    "007": Verdict(Outcome.ACCOUNT),  # IP lockdown violation
    "100": Verdict(Outcome.ACCOUNT),  # data malformed: our request is wrong for every job
    "101": Verdict(Outcome.ACCOUNT),  # invalid or missing parameters
    "102": Verdict(Outcome.ACCOUNT),  # invalid user data header: ours, the same for every job
    "105": Verdict(Outcome.RECIPIENT),  # invalid destination address
    "106": Verdict(Outcome.ACCOUNT),  # invalid source address
    "108": Verdict(Outcome.ACCOUNT),  # invalid or missing API id
    "109": Verdict(Outcome.ACCOUNT),  # missing message id
    "113": Verdict(Outcome.ACCOUNT),  # maximum message parts exceeded: the text, or the connection's limit
    "114": Verdict(Outcome.RECIPIENT),  # cannot route message to this prefix
    "116": Verdict(Outcome.ACCOUNT),  # invalid unicode data: our encoding, the same for every job
    "120": Verdict(Outcome.ACCOUNT),  # clientMessageId contains spaces (our bug)
    "121": Verdict(Outcome.RECIPIENT, opt_out=True),  # destination blocked
    "122": Verdict(Outcome.RECIPIENT, opt_out=True),  # destination opted out
    "123": Verdict(Outcome.ACCOUNT),  # invalid sender id
    "128": Verdict(Outcome.RECIPIENT, opt_out=True),  # number delisted
    # Maximum MT limit exceeded until a UNIX time: every sender of the account waits until then
    # (the client reads the time into retry_after), then sending resumes on its own.
    "130": Verdict(Outcome.THROTTLED),
    "160": Verdict(Outcome.ACCOUNT),  # HTTP method not supported
    "161": Verdict(Outcome.ACCOUNT),  # resource does not exist
    "165": Verdict(Outcome.ACCOUNT),  # invalid or no version header
    "166": Verdict(Outcome.ACCOUNT),  # invalid accept header
    "167": Verdict(Outcome.ACCOUNT),  # invalid content type
    "250": Verdict(Outcome.RECIPIENT, opt_out=True),  # on a do-not-contact list
    "301": Verdict(Outcome.FUNDS),  # no credit left
    "901": Verdict(Outcome.TRANSIENT),  # internal error, please retry
}


def clickatell_verdict(status: int, code: str | None) -> Verdict:
    """Map a Clickatell error (HTTP status, numeric error code as text).

    A code the table does not know pauses the campaign, whatever its range: the document lists
    every code it means, and guessing "recipient" for a new one could reject every job. A 5xx
    without a code is ambiguous (the request may have been processed: its status callback will
    say), except 503, which the document says to retry.
    """
    if code:
        key = code.strip()
        if key.isdigit():
            key = key.zfill(3)
        if key in CLICKATELL_CODES:
            return CLICKATELL_CODES[key]
        if status not in (429, 503) and status < 500:
            return Verdict(Outcome.ACCOUNT)
    if status == 503:
        return Verdict(Outcome.TRANSIENT)
    if status >= 500:
        return Verdict(Outcome.AMBIGUOUS)
    if status == 400:
        # A 400 with no code we know: our request is malformed for every job, pause rather than reject all.
        return Verdict(Outcome.ACCOUNT)
    return by_status(status)


__all__ = [
    "CLICKATELL_CODES",
    "CLIQTEL_CODES",
    "ProviderUnavailable",
    "Verdict",
    "by_status",
    "clickatell_verdict",
    "cliqtel_verdict",
]
