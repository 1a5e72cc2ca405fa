"""How long a claim floor is trusted after a scan of jobs_claimable from the start."""

from __future__ import annotations

from campaigner.store.jobs import (
    FLOOR_RESCAN_MAX_SECONDS,
    FLOOR_RESCAN_SECONDS,
    RESCAN_COST_FACTOR,
    rescan_delay,
)


def test_a_fast_scan_is_repeated_after_the_base_interval() -> None:
    assert rescan_delay(0.002) == FLOOR_RESCAN_SECONDS


def test_a_slow_scan_waits_in_proportion_to_its_cost() -> None:
    # 512 ms: what the scan took at 5.5M jobs drained with autovacuum off.
    assert rescan_delay(0.512) == 0.512 * RESCAN_COST_FACTOR
    assert 0.512 / (0.512 + rescan_delay(0.512)) < 1 / RESCAN_COST_FACTOR


def test_a_job_left_behind_the_floor_never_waits_past_the_cap() -> None:
    assert rescan_delay(30.0) == FLOOR_RESCAN_MAX_SECONDS
