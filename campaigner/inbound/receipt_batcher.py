"""The final receipts of concurrent webhook requests, of every account, applied in shared statements.

Providers call back once per message (or per status change), each call its own request; a daemon
sending hundreds of messages a second would apply each in a statement of its own. Through the
process's `ReceiptBatcher` (one GroupCommit for every account of the daemon) the requests that
arrive while one statement runs are applied together by the next, in arrival order, and each
request hears its own verdicts. Each receipt still touches only the jobs of the account whose
webhook received it (the statement scopes each row by its account): a hundred accounts at five
messages a second each had a statement of their own for nearly every receipt when the batching was
per account. Each (account, provider id) is in one statement at most (a second receipt for the same
message waits a round and is then a duplicate, as it would have been alone). Parking stays bounded
per request and per account: a statement of n requests of an account parks at most n times
`park_limit` of it, within its `park_max`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from campaigner.group_commit import GroupCommit
from campaigner.model.inbound import FinalReceipt, ReceiptVerdict

Group = tuple[str, Sequence[FinalReceipt], int, int]  # account, receipts, park_limit, park_max


class ReceiptStore(Protocol):
    async def apply_receipts(
        self, account: str, receipts: Sequence[FinalReceipt], *, park_limit: int, park_max: int
    ) -> list[ReceiptVerdict]: ...


class ManyAccountsReceiptStore(Protocol):
    async def apply_receipts_of_accounts(self, groups: Sequence[Group]) -> list[list[ReceiptVerdict]]: ...


@dataclass(frozen=True)
class _Request:
    account: str
    receipts: Sequence[FinalReceipt]
    park_limit: int
    park_max: int


def _distinct(batch: list[_Request], request: _Request) -> bool:
    same = [other for other in batch if other.account == request.account]
    if same and same[0].park_max != request.park_max:
        return False
    ids = {r.provider_id for r in request.receipts}
    return all(ids.isdisjoint(r.provider_id for r in other.receipts) for other in same)


class ReceiptBatcher:
    """`apply_receipts` for every account of a process, whose concurrent calls share a statement."""

    def __init__(self, store: ManyAccountsReceiptStore) -> None:
        self._store = store
        self.commits: GroupCommit[_Request, list[ReceiptVerdict]] = GroupCommit(self._apply, _distinct)

    async def apply_receipts(
        self, account: str, receipts: Sequence[FinalReceipt], *, park_limit: int, park_max: int
    ) -> list[ReceiptVerdict]:
        if not receipts:
            return []
        return await self.commits(_Request(account, receipts, park_limit, park_max))

    async def _apply(self, requests: list[_Request]) -> list[list[ReceiptVerdict]]:
        return await self._store.apply_receipts_of_accounts(
            [(r.account, r.receipts, r.park_limit, r.park_max) for r in requests]
        )
