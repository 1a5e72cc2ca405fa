"""The consent half of the store: the ledger read back, imported opt-ins, and the reply outbox.

The ledger (`consent_ledger`, 0013_consent.sql) is append-only; it is written by the statements
that change the suppression list or the opt-in list (`sql/queries/suppressions.sql`,
`inbound.sql` apply-opt-replies, `consent.sql` import-consents), never on its own. The outbox holds
the confirmation replies owed to inbound messages (`InboundStore.record_replies` adds them); the
daemon's reply sender claims, sends and settles them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from campaigner.model.inbound import ClaimedReply
from campaigner.store.database import Database


class ConsentStore:
    """The ledger, opt-ins and the reply outbox; mixed into `campaigner.store.store.Store`."""

    db: Database

    async def consent_history(self, e164: str) -> list[asyncpg.Record]:
        """Number `e164`'s ledger rows, oldest first."""
        return await self.db.all("consent-history", e164)

    async def replies_to(self, e164: str) -> list[asyncpg.Record]:
        """The confirmation replies owed or sent to `e164`, oldest first."""
        return await self.db.all("consent-replies-of", e164)

    async def consent_export(self, since: datetime) -> list[asyncpg.Record]:
        """Every ledger row recorded at or after `since`, in order."""
        return await self.db.all("consent-export", since)

    async def import_consents(
        self, entries: Sequence[tuple[str, datetime, str]], account: str = ""
    ) -> int:
        """Record opt-ins (number, opt-in time, source; numbers distinct) with their ledger rows, in
        one statement; returns how many numbers were new to the opt-in list."""
        if not entries:
            return 0
        return int(
            await self.db.value(
                "import-consents",
                [e[0] for e in entries],
                [e[1] for e in entries],
                [e[2] for e in entries],
                account,
            )
        )

    async def set_campaign_consent(self, campaign_id: int, require_opt_in: bool) -> None:
        """Make the campaign send only to numbers with a recorded opt-in (claim-jobs)."""
        await self.db.execute("set-campaign-consent", campaign_id, require_opt_in)

    # -- the reply outbox -------------------------------------------------------------------------

    async def claim_replies(
        self, account: str, worker_id: str, limit: int, lease_seconds: float
    ) -> tuple[list[ClaimedReply], list[str]]:
        """Due replies of `account` to send now, and the kinds of those skipped instead (a HELP or
        opt-in reply to an opted-out number)."""
        rows = await self.db.all("claim-replies", account, worker_id, int(limit), float(lease_seconds))
        claimed = [
            ClaimedReply(r["id"], r["kind"], r["e164"], r["body"], r["segments"], r["attempts"])
            for r in rows
            if r["claimed"]
        ]
        return claimed, [r["kind"] for r in rows if not r["claimed"]]

    async def record_reply_result(
        self,
        reply_id: int,
        worker_id: str,
        state: str,
        *,
        provider_id: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        retry_in: float = 0.0,
        not_an_attempt: bool = False,
    ) -> bool:
        """One send's outcome; False when this worker no longer held the reply."""
        row = await self.db.one(
            "record-reply-result",
            reply_id,
            worker_id,
            state,
            provider_id,
            error_code,
            error_message,
            float(retry_in),
            not_an_attempt,
        )
        return row is not None

    async def accounts_with_replies_due(self, accounts: Sequence[str]) -> set[str]:
        """Those of `accounts` with a reply due or a reply's lease run out."""
        return {r["provider_account"] for r in await self.db.all("accounts-with-replies-due", list(accounts))}

    async def abandon_reply_leases(self, account: str) -> list[str]:
        """Replies left in sending past their lease -> unknown (never resent); their kinds."""
        return [r["kind"] for r in await self.db.all("abandon-reply-leases", account)]

    async def reply_outbox_totals(self, account: str) -> list[dict[str, Any]]:
        """Replies of `account` by kind and state: replies, segments, cost."""
        return [
            {
                "kind": r["kind"],
                "state": r["state"],
                "replies": int(r["replies"]),
                "segments": int(r["segments"]),
                "cost": Decimal(r["cost"]),
            }
            for r in await self.db.all("reply-outbox-totals", account)
        ]
