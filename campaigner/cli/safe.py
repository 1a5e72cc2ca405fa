"""What the CLI needs to take and show values it does not control, safely.

`CAMPAIGN_ID` is the argument type of every command that names a campaign: ids are PostgreSQL
bigints, so a larger number is refused by click with the argument's name, not by the database.
`printable` makes a user's or a provider's text safe for a terminal: campaign names and reasons
are stored as given, and a name holding an escape sequence must not repaint the screen.
"""

from __future__ import annotations

import unicodedata

import click

BIGINT_MAX = 2**63 - 1

CAMPAIGN_ID = click.IntRange(min=1, max=BIGINT_MAX)


def printable(text: str) -> str:
    """`text` with every control or format character (ESC, BEL, CR, bidi overrides…) as an escape."""
    if text.isprintable():
        return text  # the common case, checked in C
    out = []
    for char in text:
        if char.isprintable() or char == " ":
            out.append(char)
        elif unicodedata.category(char) in ("Zs",):
            out.append(" ")
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)
