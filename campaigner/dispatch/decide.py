"""What the dispatcher does with each send result: the provider error taxonomy as job transitions.

This is the error taxonomy of ARCHITECTURE.md as code, kept pure so it can be read and tested alone:

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

from campaigner.model.jobs import JobResult
from campaigner.model.provider import Outcome, SendResult
from campaigner.model.states import JobState


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
            return Decision(
                JobResult(
                    job_id,
                    JobState.SUBMITTED,
                    provider_id=result.provider_id,
                    reported_segments=result.reported_segments,
                    reported_cost=result.reported_cost,
                )
            )
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
