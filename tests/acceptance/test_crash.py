"""Exactly once across crashes: the short version of benchmarks/crash_harness.py.

`campaigner run` is killed with SIGKILL at random moments while the sandbox drops a share of replies
after storing the message; after the restarts every recipient was accepted exactly once, except the
numbers suppressed after the load, which were never sent (their claims skipped them).
"""

from __future__ import annotations

from benchmarks.crash_harness import run_harness


def test_kill_9_and_lost_replies_never_lose_or_double_a_message() -> None:
    result = run_harness(
        recipients=200,
        kills=4,
        reply_lost_rate=0.15,
        suppressed=10,
        min_run=1.0,
        max_run=2.2,
        # 60 requests and messages a second (the harness's default is 20): the final run's lookups
        # and resends of what the kills left in `sending` are bound by the limit, not by the work.
        rpm=600,
        mps=600,
        log=lambda _: None,
    )
    assert result.duplicates == {}
    assert result.missing == 0
    assert result.suppressed_sent == 0
    assert result.accepted == 190
    assert result.window_violations == 0, "restarts share the limits through the database"
    assert result.lost_replies > 0, "the harness should have dropped some replies"
    assert result.job_counts.get("skipped") == 10, result.job_counts
    assert set(result.job_counts) <= {"submitted", "delivered", "undelivered", "skipped"}, result.job_counts
