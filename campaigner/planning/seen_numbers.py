"""The numbers a plan has admitted so far, in about 11 bytes each (the duplicate check of 10M rows).

A Python `set[int]` costs about 75 bytes a number (a 32-byte int object, and 16-byte slots kept at
most 60 % full, doubled as it grows): over 700 MB for 10M recipients, which alone breaks the
preview's 300 MB budget. Here the numbers live in 65,536 sorted `array('q')`s, chosen by a
multiplicative hash of the number (so numbers that share digits still spread evenly): at 10M that
is about 150 a partition, so membership is a binary search of 150 machine ints and an insert moves
about 600 bytes. No rehash and no merge ever copies more than one small partition.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

PARTITION_BITS = 16
_MASK = (1 << PARTITION_BITS) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: the high bits of key * this mix every digit


class SeenNumbers:
    """A grow-only set of non-negative ints below 2**63 (E.164 numbers without the "+")."""

    def __init__(self) -> None:
        self._parts = [array("q") for _ in range(1 << PARTITION_BITS)]
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _part(self, key: int) -> array[int]:
        return self._parts[((key * _GOLDEN) >> 40) & _MASK]

    def __contains__(self, key: int) -> bool:
        part = self._part(key)
        at = bisect_left(part, key)
        return at < len(part) and part[at] == key

    def add(self, key: int) -> bool:
        """Remember `key`; False when it was in already (one search for the check and the add)."""
        part = self._part(key)
        at = bisect_left(part, key)
        if at < len(part) and part[at] == key:
            return False
        part.insert(at, key)
        self._size += 1
        return True
