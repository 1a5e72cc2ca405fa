"""`-` for standard input wherever a command reads a file: `cat list.csv | campaigner preview - -m Hi`.

    with readable(recipients) as path:   # `-`: stdin spooled to a private temporary file
        plan(path)

The planner reads a file more than once (sniffing its dialect, then in worker processes), so
standard input is copied to a file first. Errors name it `<stdin>`, not the temporary path.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from campaigner.errors import CampaignerError

STDIN = "-"
STDIN_NAME = "<stdin>"


@contextlib.contextmanager
def readable(value: str | Path) -> Iterator[Path]:
    """`value` as a path to read; `-` is standard input, kept in a temporary file for the block."""
    if str(value) != STDIN:
        yield Path(value)
        return
    with tempfile.TemporaryDirectory(prefix="campaigner-stdin-") as folder:
        path = Path(folder) / "stdin"
        with path.open("wb") as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
        try:
            yield path
        except CampaignerError as exc:
            exc.args = tuple(str(a).replace(str(path), STDIN_NAME) for a in exc.args)
            raise

