"""Lists of user-supplied names inside error messages, kept short whatever the input.

A header of a million columns must not make a nine-megabyte "one-line" error: `short_list` shows
the first few items, each cut to a readable length, and says how many it left out.
"""

from __future__ import annotations

from collections.abc import Sequence

# Enough to recognise a file's header; more is noise in a one-line error.
MAX_ITEMS = 20
MAX_ITEM_CHARS = 40


def clip(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    """`text` cut to `limit` characters, with `…` when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_list(items: Sequence[str], limit: int = MAX_ITEMS, empty: str = "(none)") -> str:
    """`a, b, c` of at most `limit` items (each clipped), then `… and N more`; `empty` for none."""
    if not items:
        return empty
    shown = ", ".join(clip(item) for item in items[:limit])
    left = len(items) - limit
    return shown if left <= 0 else f"{shown}, … and {left:,} more"
