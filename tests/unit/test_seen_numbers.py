"""SeenNumbers: the planner's compact duplicate check answers as a set would."""

import random

from campaigner.planning.seen_numbers import SeenNumbers


def test_answers_as_a_set_across_merges() -> None:
    """Enough numbers that every partition holds several, in one narrow range of a country."""
    rng = random.Random(7)
    seen, reference = SeenNumbers(), set()
    for _ in range(300_000):
        key = rng.randrange(31_600_000_000, 31_700_000_000)
        assert (key in seen) == (key in reference), key
        if key not in reference:
            seen.add(key)
            reference.add(key)
    assert len(seen) == len(reference)
    probes = [rng.randrange(31_600_000_000, 31_700_000_000) for _ in range(20_000)]
    assert [k in seen for k in probes] == [k in reference for k in probes]
    assert all(k in seen for k in list(reference)[:20_000])


def test_empty_and_largest_numbers() -> None:
    seen = SeenNumbers()
    assert 0 not in seen
    seen.add(999_999_999_999_999)  # 15 digits, the longest E.164
    assert 999_999_999_999_999 in seen
    assert 999_999_999_999_998 not in seen


def test_adding_twice_counts_once() -> None:
    seen = SeenNumbers()
    seen.add(31612345678)
    seen.add(31612345678)
    assert len(seen) == 1


def test_answers_as_a_set_over_the_whole_range() -> None:
    """Keys anywhere below 2**50 (every run of every partition), and a few beyond it."""
    rng = random.Random(11)
    seen, reference = SeenNumbers(), set()
    keys = [rng.randrange(1 << 50) for _ in range(100_000)] + [(1 << 50) + 5, 1 << 60, (1 << 50) - 1]
    for key in keys + keys[:1000]:
        assert seen.add(key) == (key not in reference), key
        reference.add(key)
    assert len(seen) == len(reference)
    probes = [rng.randrange(1 << 51) for _ in range(20_000)]
    assert [k in seen for k in probes] == [k in reference for k in probes]
    assert all(k in seen for k in reference)
