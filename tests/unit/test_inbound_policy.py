"""The inbound policy: the account, clock window and caps a webhook app applies events with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigner.config import config_from_mapping
from campaigner.inbound.policy import InboundPolicy

PERSON = "+31612345678"


def test_the_policy_reads_its_settings_from_the_config() -> None:
    config = config_from_mapping(
        {
            "provider": {"account": "acme"},
            "recipients": {"default_region": "nl"},
            "daemon": {
                "event_max_age": 60,
                "event_max_skew": 5,
                "parked_receipts_per_request": 3,
                "parked_receipts_max": 7,
            },
        }
    )
    policy = InboundPolicy.from_config(config)
    assert (policy.account, policy.max_age, policy.max_skew) == ("acme", 60, 5)
    assert (policy.park_per_request, policy.park_max) == (3, 7)
    assert policy.numbers.sender("06 1234 5678").e164 == PERSON


def test_an_event_far_from_now_is_out_of_the_window() -> None:
    policy = InboundPolicy(max_age=3600, max_skew=60)
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert policy.window_problem(datetime(2001, 1, 1, tzinfo=UTC), now) == "stale"
    assert policy.window_problem(datetime(2099, 1, 1, tzinfo=UTC), now) == "future_dated"
    assert policy.window_problem(now - timedelta(seconds=3599), now) is None
    assert policy.window_problem(now - timedelta(seconds=3601), now) == "stale"
    assert policy.window_problem(now + timedelta(seconds=59), now) is None  # clock skew
    assert policy.window_problem(now + timedelta(seconds=61), now) == "future_dated"
    assert policy.window_problem(None, now) is None  # no date: nothing to check
    assert policy.window_problem(datetime(2099, 1, 1), now) == "future_dated"  # naive: UTC


def test_the_answers_we_asked_for_are_not_dated_out() -> None:
    # A receipt looked up (catch-up) or a reply read from the provider's list cannot be replayed
    # at us: a late answer about a week-old message still counts.
    policy = InboundPolicy(max_age=3600, max_skew=60).for_lookups()
    assert policy.window_problem(datetime(2001, 1, 1, tzinfo=UTC)) is None
    assert policy.window_problem(datetime(2099, 1, 1, tzinfo=UTC)) is None
    assert (policy.max_age, policy.check_dates) == (3600, False)
