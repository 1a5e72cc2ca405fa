"""Short links in the store: codes loaded with their jobs, the redirect's lookup, clicks in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from operator import itemgetter
from typing import Final

from campaigner.model.jobs import PlannedMessage
from campaigner.model.links import Click, ClickMinute, CountryClicks, LinkStats, LinkTarget
from campaigner.store.database import Database, Transaction

# The columns COPY fills; the counters and created_at take their defaults.
LINK_COLUMNS: Final = ("code", "campaign_id", "line", "country", "name", "target")
# A clash needs ~10 M codes at 8 characters to happen once in a few loads; ten in a row is a bug.
_MAX_REDRAWS: Final = 10
_code_of: Final = itemgetter(0)


class LinkStore:
    """Link reads and writes; mixed into `campaigner.store.store.Store`."""

    db: Database

    async def link_targets(self, codes: Sequence[str]) -> dict[str, LinkTarget]:
        """What each of `codes` that exists leads to (one statement, a primary-key probe a code)."""
        rows = await self.db.all("link-targets", list(codes))
        return {r["code"]: LinkTarget(r["target"], r["campaign_id"], r["created_at"]) for r in rows}

    async def record_clicks(self, clicks: Sequence[Click]) -> None:
        """Write a batch of clicks and the links' counters in one statement."""
        if not clicks:
            return
        await self.db.execute(
            "record-clicks",
            [c.code for c in clicks],
            [c.clicked_at for c in clicks],
            [c.bot for c in clicks],
            [c.ua_hash for c in clicks],
        )

    async def link_stats(self, campaign_id: int, timeline_minutes: int = 0) -> LinkStats:
        """The campaign's clicks: totals, per country, per minute over the last `timeline_minutes`."""
        row = await self.db.one("link-stats", campaign_id, timeline_minutes)
        assert row is not None  # an aggregate always has its row
        return LinkStats(
            links=row["links"],
            clicks=row["clicks"],
            bot_clicks=row["bot_clicks"],
            clickers=row["clickers"],
            clicked_links=row["clicked_links"],
            countries=tuple(CountryClicks(c, int(n), int(u)) for c, n, u in row["countries"]),
            timeline=tuple(
                ClickMinute(datetime.fromisoformat(m), int(n), int(f)) for m, n, f in row["timeline"]
            ),
        )

    async def codes_taken(self, codes: Sequence[str]) -> int:
        """How many of `codes` exist (the guessing check)."""
        return int(await self.db.value("codes-taken", list(codes)))


async def copy_links(
    tx: Transaction, campaign_id: int, batch: Sequence[PlannedMessage], new_code: Callable[[], str]
) -> Sequence[PlannedMessage]:
    """COPY the batch's links; on a clash draw new codes for the clashing ones and put them in the
    bodies (same length: the segments do not change). Returns the batch as its jobs must be loaded."""
    for _ in range(_MAX_REDRAWS):
        rows = [
            (code, campaign_id, m.line, m.country, name, target)
            for m in batch
            for code, name, target, _url in m.links
        ]
        # In code order, the random primary key is filled leaf after leaf instead of all over the
        # index (~10% of the server's time on these rows); the codes themselves stay as drawn.
        rows.sort(key=_code_of)
        if await tx.copy_unique_records("links", LINK_COLUMNS, rows):
            return batch
        codes = [row[0] for row in rows]
        taken = {r["code"] for r in await tx.all("taken-link-codes", codes)}
        seen: set[str] = set()
        for code in codes:  # two rows of this batch may have drawn the same code, too
            if code in seen:
                taken.add(code)
            seen.add(code)
        batch = [
            _redraw(m, taken, new_code) if any(link[0] in taken for link in m.links) else m for m in batch
        ]
    raise RuntimeError("link codes kept clashing: is the code source random?")


def _redraw(message: PlannedMessage, taken: set[str], new_code: Callable[[], str]) -> PlannedMessage:
    body = message.body
    links = []
    for code, name, target, url in message.links:
        if code in taken:
            fresh = new_code()
            # Drawn twice in this batch: this one draws again, the other keeps it (a clash with a
            # stored code that is also doubled here clashes once more and draws again next round).
            taken.discard(code)
            new_url = url[: len(url) - len(code)] + fresh
            body = body.replace(url, new_url)
            code, url = fresh, new_url
        links.append((code, name, target, url))
    return replace(message, body=body, links=tuple(links))
