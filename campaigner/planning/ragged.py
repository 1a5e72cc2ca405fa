"""Rows whose cell count does not fit the header (malformed): the one row check with no imports.

Its own module so that the planning worker processes (campaigner.planning.chunks) need not import
campaigner.planning.recipients, and with it the config's pydantic models (about 20 MB a process).
"""

from __future__ import annotations

from typing import Final

MALFORMED: Final = "malformed"


def ragged_reason(cells: list[str], width: int) -> str:
    """Why a row's cell count does not fit the header, or "" when it does.

    Trailing empty cells beyond the header are tolerated (spreadsheets add them).
    """
    count = len(cells)
    if count == width:
        return ""
    if count > width and not any(c.strip() for c in cells[width:]):
        return ""
    return f"expected {width} fields, found {count}"
