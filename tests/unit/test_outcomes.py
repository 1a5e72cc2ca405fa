"""The taxonomy table: every provider outcome becomes the job transition ARCHITECTURE.md names."""

from __future__ import annotations

import random

import pytest

from campaigner.dispatch.decide import RetryPolicy, decide
from campaigner.model.provider import Outcome, SendResult
from campaigner.model.states import JobState

POLICY = RetryPolicy(max_attempts=3, base=2.0, cap=60.0)


def test_accepted_is_submitted_with_the_provider_id() -> None:
    decision = decide(SendResult(7, Outcome.ACCEPTED, provider_id="42"), attempts=1, policy=POLICY)
    assert decision.result is not None
    assert (decision.result.state, decision.result.provider_id) == (JobState.SUBMITTED, "42")
    assert decision.pause_reason is None


def test_throttled_is_not_an_attempt_and_pauses_the_account() -> None:
    decision = decide(SendResult(7, Outcome.THROTTLED, retry_after=12.0), attempts=1, policy=POLICY)
    assert decision.result is not None
    assert decision.result.state == JobState.PENDING
    assert decision.result.attempts_delta == -1
    assert decision.throttled_for == 12.0


def test_transient_retries_with_backoff_then_rejects() -> None:
    first = decide(SendResult(7, Outcome.TRANSIENT, code="503"), attempts=1, policy=POLICY)
    assert first.result is not None and first.result.state == JobState.PENDING
    assert 1.0 <= first.result.retry_in <= 2.0
    last = decide(SendResult(7, Outcome.TRANSIENT, code="503"), attempts=3, policy=POLICY)
    assert last.result is not None and last.result.state == JobState.REJECTED
    assert last.result.error_class == "transient"
    assert "3 attempts" in (last.result.error_message or "")


def test_ambiguous_keeps_the_job_for_reconciliation() -> None:
    decision = decide(SendResult(7, Outcome.AMBIGUOUS), attempts=1, policy=POLICY)
    assert decision.result is None


@pytest.mark.parametrize("opt_out", [False, True])
def test_recipient_rejects_and_suppresses_opt_outs(opt_out: bool) -> None:
    result = SendResult(7, Outcome.RECIPIENT, code="121", message="opted out", opt_out=opt_out)
    decision = decide(result, attempts=1, policy=POLICY)
    assert decision.result is not None and decision.result.state == JobState.REJECTED
    assert decision.suppress is opt_out
    assert decision.result.error_class == ("opt_out" if opt_out else "recipient")


@pytest.mark.parametrize("outcome", [Outcome.ACCOUNT, Outcome.FUNDS])
def test_account_and_funds_pause_the_campaign(outcome: Outcome) -> None:
    result = SendResult(7, outcome, code="402", message="insufficient_balance")
    decision = decide(result, attempts=1, policy=POLICY)
    assert decision.pause_reason is not None and "insufficient_balance" in decision.pause_reason
    assert decision.result is not None
    assert decision.result.state == JobState.PENDING and decision.result.attempts_delta == -1


def test_backoff_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = {POLICY.delay(20, rng) for _ in range(20)}
    assert all(30.0 <= d <= 60.0 for d in delays)
    assert len(delays) > 1
