"""The inbound half of the store: delivery receipts and replies, scoped to one provider account.

Every method takes the account whose webhook received the events (`campaigns.provider_account`;
a daemon's is `provider.account`): a provider id names a message within one account only, so a
receipt never touches another account's jobs. One webhook request is one statement (receipts,
`sql/queries/receipts.sql`) or one transaction (replies, `sql/queries/inbound.sql`), with arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from campaigner.model.inbound import (
    CallbackEcho,
    FinalReceipt,
    ReceiptVerdict,
    Reply,
    ReplyDraft,
    ReplyOutcome,
)
from campaigner.store.database import Database


class InboundStore:
    """Receipts and replies; mixed into `campaigner.store.store.Store`."""

    db: Database

    async def apply_receipts(
        self, account: str, receipts: Sequence[FinalReceipt], *, park_limit: int, park_max: int
    ) -> list[ReceiptVerdict]:
        """Apply one request's final receipts (distinct provider ids) to `account`'s jobs, once each.

        A submitted job → delivered | undelivered (accepted); an id whose job is final, or that is
        parked already, is a duplicate; any other is parked for `apply_pending_receipts` (parked),
        up to `park_limit` of this request while `account` has fewer than `park_max` waiting, and
        refused beyond (park_refused). One verdict a receipt, in order.
        """
        [verdicts] = await self.apply_receipts_of_accounts([(account, receipts, park_limit, park_max)])
        return verdicts

    async def apply_receipts_of_accounts(
        self, groups: Sequence[tuple[str, Sequence[FinalReceipt], int, int]]
    ) -> list[list[ReceiptVerdict]]:
        """`apply_receipts` for several (account, receipts, park_limit, park_max) at once, in one
        statement: each account's receipts touch only its own jobs, and each account parks within
        its own room (groups of one account: their receipts' ids distinct, their park_limits
        added up, one park_max). One list of verdicts a group, in order."""
        rows: list[tuple[str, FinalReceipt]] = [(g[0], r) for g in groups for r in g[1]]
        if not rows:
            return [[] for _ in groups]
        room: dict[str, int] = {}
        most: dict[str, int] = {}
        for account, _receipts, park_limit, park_max in groups:
            room[account] = room.get(account, 0) + int(park_limit)
            most.setdefault(account, int(park_max))
        found = await self.db.all(
            "apply-receipts",
            [account for account, _ in rows],
            [r.provider_id for _, r in rows],
            [r.status for _, r in rows],
            [r.error_code for _, r in rows],
            [r.error for _, r in rows],
            [r.occurred_at for _, r in rows],
            [room[account] for account, _ in rows],
            [most[account] for account, _ in rows],
            [r.reported_segments for _, r in rows],
            [r.reported_cost for _, r in rows],
        )
        verdicts = [
            ReceiptVerdict(r["provider_id"], r["verdict"], r["job_id"], r["campaign_id"]) for r in found
        ]
        answers, at = [], 0
        for group in groups:  # one verdict a receipt, in order
            answers.append(verdicts[at : at + len(group[1])])
            at += len(group[1])
        return answers

    async def settle_by_callback(self, account: str, echoes: Sequence[CallbackEcho]) -> int:
        """Jobs of `account` whose send was ambiguous, named by a callback's echo of our
        clientMessageId → `submitted` with the provider's id; how many moved."""
        if not echoes:
            return 0
        rows = await self.db.all(
            "settle-by-callback",
            account,
            [e.ref for e in echoes],
            [e.e164 for e in echoes],
            [e.provider_id for e in echoes],
        )
        return len(rows)

    async def accounts_with_parked_receipts(self, accounts: Sequence[str]) -> set[str]:
        """Those of `accounts` with receipts parked for a job that had no result yet."""
        rows = await self.db.all("accounts-with-parked-receipts", list(accounts))
        return {r["provider_account"] for r in rows}

    async def apply_pending_receipts(self, account: str, max_age: float) -> tuple[int, int]:
        """Apply `account`'s parked receipts whose job is now submitted; drop every parked receipt
        older than `max_age` s. Returns (applied, expired)."""
        row = await self.db.one("apply-pending-receipts", float(max_age), account)
        assert row is not None
        return int(row["applied"]), int(row["expired"])

    async def count_pending_receipts(self, account: str | None = None) -> int:
        """Receipts waiting for their job (of `account`, or of every account)."""
        return int(await self.db.value("count-pending-receipts", account))

    async def record_replies(
        self,
        account: str,
        replies: Sequence[Reply],
        *,
        scope: str = "account",
        drafts: Mapping[str, ReplyDraft] | None = None,
    ) -> list[ReplyOutcome | None]:
        """Keep one request's replies (distinct provider ids) and apply their STOPs and STARTs.

        One transaction: a provider id `account` sent before is a duplicate (None) and changes
        nothing; a new STOP or START without a `problem` is applied unless its number sent a newer
        one (by `sent_at`), whenever that arrived; anything else is only kept. Opt-outs are
        account-wide or per sender number (`scope`, compliance.opt_out_scope); each applied one is
        a consent_ledger row. `drafts` (by provider id) are the confirmations owed if their reply
        is applied: a STOP's when it listed the number, a START's when it lifted the entry, a
        HELP's always; they join the outbox in the same transaction, once per inbound message.
        """
        if not replies:
            return []
        drafts = drafts or {}
        async with self.db.transaction() as tx:
            kept = await tx.all(
                "record-inbound",
                account,
                [r.provider_id for r in replies],
                [r.from_number for r in replies],
                [r.e164 for r in replies],
                [r.to_number for r in replies],
                [r.reply for r in replies],
                [r.sent_at for r in replies],
                [r.problem for r in replies],
                [r.body for r in replies],
                [r.fuzzy for r in replies],
                [r.language for r in replies],
            )
            ids = {row["provider_id"]: row["id"] for row in kept}
            opts = [r for r in replies if r.provider_id in ids and _is_opt(r)]
            applied: dict[int, Any] = {}
            if opts:
                await tx.value("lock-reply-numbers", [r.e164 for r in opts])
                found: list[asyncpg.Record] = await tx.all(
                    "apply-opt-replies", [ids[r.provider_id] for r in opts], scope
                )
                applied = {row["id"]: row for row in found}
            owed: list[tuple[Reply, ReplyDraft]] = []
            for r in replies:
                draft = drafts.get(r.provider_id)
                row_id = ids.get(r.provider_id)
                if draft is None or row_id is None or r.problem is not None or r.e164 is None:
                    continue
                if r.reply == "help" or (row_id in applied and applied[row_id]["changed"]):
                    owed.append((r, draft))
            if owed:
                await tx.execute(
                    "add-reply-outbox",
                    account,
                    [r.provider_id for r, _ in owed],
                    [d.kind for _, d in owed],
                    [r.e164 for r, _ in owed],
                    [r.to_number for r, _ in owed],
                    [d.language for _, d in owed],
                    [d.body for _, d in owed],
                    [d.segments for _, d in owed],
                    [d.country for _, d in owed],
                    [d.cost for _, d in owed],
                )
        outcomes: list[ReplyOutcome | None] = []
        for r in replies:
            row_id = ids.get(r.provider_id)
            if row_id is None:
                outcomes.append(None)
            elif row_id in applied:
                outcomes.append(
                    ReplyOutcome(bool(applied[row_id]["applied"]), bool(applied[row_id]["changed"]))
                )
            else:
                outcomes.append(ReplyOutcome(applied=False, changed=False))
        return outcomes

    async def inbound_problems(self, limit: int = 100) -> list[asyncpg.Record]:
        """The replies kept but not applied (a number that did not parse, a date out of the window)."""
        return await self.db.all("inbound-problems", int(limit))


def _is_opt(reply: Reply) -> bool:
    return reply.problem is None and reply.e164 is not None and reply.reply in ("opt_out", "opt_in")
