"""campaigner/heap.py: start-up objects leave the garbage collector's walks (in a child process:
a freeze in pytest's own process would keep its objects for good)."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from campaigner.heap import freeze_startup_objects
kept = [[i] for i in range(50_000)]  # start-up's long-lived objects
frozen = freeze_startup_objects()
tracked_after = len(gc.get_objects())  # what later collections walk
print(frozen, gc.get_freeze_count(), tracked_after)
"""


def test_freezing_takes_start_up_objects_out_of_every_later_collection() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    frozen, freeze_count, tracked_after = (int(x) for x in out.stdout.split())
    assert frozen == freeze_count >= 50_000  # the 50k lists (and the modules') are frozen
    assert tracked_after < 1_000  # collections walk only what was made since, not 50k lists
