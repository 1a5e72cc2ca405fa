"""The final receipts of concurrent webhook requests of one account applied in shared statements.

Providers call back once per message (or per status change), each call its own request; a daemon
sending hundreds of messages a second would apply each in a statement of its own. Through a
`ReceiptBatcher` (a GroupCommit per account) the requests that arrive while one statement runs are
applied together by the next, in arrival order, and each request hears its own verdicts. Each
provider id is in one statement at most (the statement applies distinct ids; a second receipt for
the same message waits a round and is then a duplicate, as it would have been alone). Parking stays
bounded per request: a statement of n requests parks at most n times `park_limit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from campaigner.group_commit import GroupCommit
from campaigner.model.inbound import FinalReceipt, ReceiptVerdict


class ReceiptStore(Protocol):
    async def apply_receipts(
        self, account: str, receipts: Sequence[FinalReceipt], *, park_limit: int, park_max: int
    ) -> list[ReceiptVerdict]: ...


@dataclass(frozen=True)
class _Request:
    receipts: Sequence[FinalReceipt]
    park_limit: int
    park_max: int


def _distinct(batch: list[_Request], request: _Request) -> bool:
    if batch and batch[0].park_max != request.park_max:
        return False
    ids = {r.provider_id for r in request.receipts}
    return all(ids.isdisjoint(r.provider_id for r in other.receipts) for other in batch)


class ReceiptBatcher:
    """`apply_receipts` for one account, whose concurrent calls share a statement."""

    def __init__(self, store: ReceiptStore, account: str) -> None:
        self._store = store
        self._account = account
        self.commits: GroupCommit[_Request, list[ReceiptVerdict]] = GroupCommit(self._apply, _distinct)

    async def apply_receipts(
        self, account: str, receipts: Sequence[FinalReceipt], *, park_limit: int, park_max: int
    ) -> list[ReceiptVerdict]:
        if account != self._account:
            raise ValueError(f"receipts of account {account!r} given to the batcher of {self._account!r}")
        if not receipts:
            return []
        return await self.commits(_Request(receipts, park_limit, park_max))

    async def _apply(self, requests: list[_Request]) -> list[list[ReceiptVerdict]]:
        verdicts = await self._store.apply_receipts(
            self._account,
            [receipt for request in requests for receipt in request.receipts],
            park_limit=sum(request.park_limit for request in requests),
            park_max=requests[0].park_max,
        )
        answers, at = [], 0
        for request in requests:  # one verdict a receipt, in order
            answers.append(verdicts[at : at + len(request.receipts)])
            at += len(request.receipts)
        return answers
