"""What the dispatcher does with each send result: the provider error taxonomy as job transitions.

This is the table in DESIGN.md ("Providers") as code, kept pure so it can be read and tested alone:

| outcome    | job                                   | campaign / account          |
|------------|---------------------------------------|-----------------------------|
| accepted   | submitted, with the provider's id     |                             |
| throttled  | pending again, not an attempt         | every sender waits          |
| transient  | pending after backoff; rejected after max_attempts |                |
| ambiguous  | stays sending until reconciled        |                             |
| recipient  | rejected (opt-outs: suppressed too)   |                             |
| account    | pending again, not an attempt         | paused with the reason      |
| funds      | pending again, not an attempt         | paused with the reason      |
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from campaigner.providers.base import Outcome, SendResult


class JobState(StrEnum):
    """The job states of DESIGN.md's state machine."""

    PENDING = "pending"
    SENDING = "sending"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class JobResult:
    """A write-back for one job that the dispatcher had in `sending`."""

    job_id: int
    state: JobState
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # The taxonomy class of the last error (transient, recipient, opt_out, account, funds), so that
    # `campaigner retry` can tell a fixable rejection from an opt-out.
    error_class: str | None = None
    retry_in: float = 0.0  # seconds until a pending job may be claimed again
    attempts_delta: int = 0  # -1: this claim does not count as an attempt


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one send result."""

    result: JobResult | None  # None: keep the job in `sending` and reconcile it
    pause_reason: str | None = None  # set: pause the campaign
    suppress: bool = False  # add the recipient to the suppression list
    throttled_for: float | None = None  # set: the whole account waits this long


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter for transient errors."""

    max_attempts: int = 5
    base: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1`: uniform in [base**attempt / 2, base**attempt]."""
        ceiling = min(self.cap, self.base**attempt)
        return (rng or random).uniform(ceiling / 2, ceiling)


def _error_text(result: SendResult) -> str:
    text = result.message or result.outcome.value
    return f"{result.code}: {text}" if result.code else text


def decide(result: SendResult, attempts: int, policy: RetryPolicy) -> Decision:
    """Map one provider result for a job claimed for its `attempts`-th time to a Decision."""
    job_id = result.ref
    match result.outcome:
        case Outcome.ACCEPTED:
            return Decision(JobResult(job_id, JobState.SUBMITTED, provider_id=result.provider_id))
        case Outcome.THROTTLED:
            wait = result.retry_after if result.retry_after is not None else 1.0
            back = JobResult(job_id, JobState.PENDING, retry_in=wait, attempts_delta=-1)
            return Decision(back, throttled_for=wait)
        case Outcome.TRANSIENT:
            if attempts >= policy.max_attempts:
                return Decision(
                    JobResult(
                        job_id,
                        JobState.REJECTED,
                        error_code=result.code or "transient",
                        error_class="transient",
                        error_message=f"gave up after {attempts} attempts: {_error_text(result)}",
                    )
                )
            return Decision(
                JobResult(
                    job_id,
                    JobState.PENDING,
                    error_code=result.code or "transient",
                    error_class="transient",
                    error_message=_error_text(result),
                    retry_in=policy.delay(attempts),
                )
            )
        case Outcome.AMBIGUOUS:
            return Decision(None)
        case Outcome.RECIPIENT:
            return Decision(
                JobResult(
                    job_id,
                    JobState.REJECTED,
                    error_code=result.code or "recipient",
                    error_class="opt_out" if result.opt_out else "recipient",
                    error_message=_error_text(result),
                ),
                suppress=result.opt_out,
            )
        case Outcome.ACCOUNT | Outcome.FUNDS:
            reason = f"{result.outcome.value}: {_error_text(result)}"
            back = JobResult(
                job_id,
                JobState.PENDING,
                error_code=result.code or result.outcome.value,
                error_class=result.outcome.value,
                error_message=_error_text(result),
                attempts_delta=-1,
            )
            return Decision(back, pause_reason=reason)
    raise AssertionError(f"unhandled outcome {result.outcome}")  # pragma: no cover
