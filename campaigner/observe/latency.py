"""Delivery latency percentiles from the per-campaign histogram (store.observe.LATENCY_BOUNDS).

A percentile is interpolated linearly inside the bucket it falls in, so it is exact to within that
bucket's width (a second below 10 s, a few seconds below a minute, coarser after): enough to tell a
carrier that delivers in seconds from one that takes an hour, without sorting a million jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from campaigner.model.observe import LatencyBucket

PERCENTILES = (50, 95, 99)


def percentile(buckets: Sequence[LatencyBucket], bounds: Sequence[float], p: float) -> float | None:
    """The `p`th percentile (0-100) in seconds of the latencies counted in `buckets`; None if none."""
    total = sum(b.jobs for b in buckets)
    if total <= 0:
        return None
    rank = p / 100.0 * total
    seen = 0
    for b in sorted(buckets, key=lambda b: b.bucket):
        if b.jobs <= 0:
            continue
        if seen + b.jobs >= rank:
            if b.bucket <= 0:
                return 0.0  # below 0: the provider's clock is behind ours; as good as instant
            low = bounds[b.bucket - 1]
            if b.bucket >= len(bounds):
                return float(low)  # the open-ended last bucket: at least its lower bound
            high = bounds[b.bucket]
            return round(low + (high - low) * (rank - seen) / b.jobs, 1)
        seen += b.jobs
    return float(bounds[-1])


def percentiles(buckets: Sequence[LatencyBucket], bounds: Sequence[float]) -> dict[str, float | None]:
    """{"p50": s, "p95": s, "p99": s} (None each when nothing was delivered yet)."""
    return {f"p{p}": percentile(buckets, bounds, p) for p in PERCENTILES}
