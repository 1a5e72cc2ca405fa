"""The numbers a plan has admitted so far, in about 6 bytes each (the duplicate check of 10M rows).

A Python `set[int]` costs about 75 bytes a number (a 32-byte int object, and 16-byte slots kept at
most 60 % full, doubled as it grows): over 700 MB for 10M recipients, which alone breaks the
preview's 300 MB budget. Sorted `array('q')`s of the numbers, 65,536 of them chosen by a hash, took
about 11 bytes a number; this keeps 4 bytes a number instead of 8:

An E.164 number has at most 15 digits, so it is below 2**50. It is first mixed, bijectively, into
`h = number * odd constant mod 2**50` (Fibonacci hashing: the high bits of h depend on every digit,
so numbers that share digits still spread evenly). The top 16 bits of h choose the partition, the
next 2 bits a run within it, and only the low 32 bits are stored, in one `array('I')` a partition
whose four runs are each sorted: the partition, the run and the stored bits give h back, so two
numbers are equal exactly when all three are. `_ends` holds where each run ends (four a partition,
one flat array). At 10M numbers that is about 150 a partition: membership is a binary search of
about 40 machine ints, and an insert moves about 300 bytes. No rehash and no merge ever copies more
than one small partition. (Numbers of 2**50 and above, never a valid E.164 one, go to a plain set.)
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

PARTITION_BITS = 16
_RUN_BITS = 2
_RUNS = 1 << _RUN_BITS
_STORED_BITS = 32
_KEY_BITS = PARTITION_BITS + _RUN_BITS + _STORED_BITS  # 50: every number of 15 digits fits
_KEY_MASK = (1 << _KEY_BITS) - 1
_STORED_MASK = (1 << _STORED_BITS) - 1
_ODD = 0x9E3779B97F4A7C15 & _KEY_MASK | 1  # odd, so multiplying by it mod 2**50 is a bijection


class SeenNumbers:
    """A grow-only set of non-negative ints (E.164 numbers without the "+")."""

    def __init__(self) -> None:
        self._parts = [array("I") for _ in range(1 << PARTITION_BITS)]
        self._ends = array("I", bytes(4 * _RUNS << PARTITION_BITS))  # all runs empty
        self._large: set[int] = set()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: int) -> bool:
        if key > _KEY_MASK:
            return key in self._large
        h = (key * _ODD) & _KEY_MASK
        slot = h >> _STORED_BITS  # partition * 4 + run (see add)
        first = slot & ~(_RUNS - 1)
        part = self._parts[slot >> _RUN_BITS]
        ends = self._ends
        low = h & _STORED_MASK
        hi = ends[slot]
        at = bisect_left(part, low, ends[slot - 1] if slot != first else 0, hi)
        return at < hi and part[at] == low

    def add(self, key: int) -> bool:
        """Remember `key`; False when it was in already (one search for the check and the add)."""
        if key > _KEY_MASK:
            if key in self._large:
                return False
            self._large.add(key)
            self._size += 1
            return True
        h = (key * _ODD) & _KEY_MASK
        slot = h >> _STORED_BITS  # partition * 4 + run: where the run's end is kept
        first = slot & ~(_RUNS - 1)  # the partition's first run
        part = self._parts[slot >> _RUN_BITS]
        ends = self._ends
        low = h & _STORED_MASK
        hi = ends[slot]
        at = bisect_left(part, low, ends[slot - 1] if slot != first else 0, hi)
        if at < hi and part[at] == low:
            return False
        part.insert(at, low)
        for later in range(slot, first + _RUNS):  # this run and the ones after it end one later
            ends[later] += 1
        self._size += 1
        return True
