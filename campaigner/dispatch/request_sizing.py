"""How a campaign's messages become send requests: the preview's ETA and the dispatcher share it.

The dispatcher claims `claim_size` jobs at a time, in file order, and sends one request per text
within a claim, to up to `per_request` numbers: a batching provider's batch within its per-second
limit (`campaigner.providers.registry.recipients_per_request`: Clickatell 500 unless configured;
Cliqtel takes one number a request). So a personalised text costs a request per recipient where
one shared text costs one per `per_request` recipients, and the preview counts requests the same
way to say how long a send takes.
"""

from __future__ import annotations

from collections import Counter


def claim_size(
    per_request: int, messages_per_second: float, requests_per_minute: float, batch_size: int
) -> int:
    """Jobs one claim takes: about two seconds of sending at the rate the limits allow, never less
    than one full request, and whole requests (41 at 20 a request would leave a request of 1)."""
    rate = min(messages_per_second, requests_per_minute / 60.0 * per_request)
    size = max(1, min(max(batch_size, per_request), int(rate * 2) + 1))
    return max(per_request, size - size % per_request) if per_request > 1 else size


class RequestCount:
    """Counts the requests a campaign's texts, in file order, will take (see the module docstring)."""

    def __init__(self, per_request: int, claim: int) -> None:
        self.per_request = per_request
        self._claim = claim
        self._texts: Counter[str] = Counter()  # of the claim being filled: at most `claim` entries
        self._in_claim = 0
        self._requests = 0

    def add(self, text: str) -> None:
        self._in_claim += 1
        if self.per_request == 1:
            return
        self._texts[text] += 1
        if self._in_claim == self._claim:
            self._close_claim()

    def _close_claim(self) -> None:
        self._requests += sum(-(-n // self.per_request) for n in self._texts.values())
        self._texts.clear()
        self._in_claim = 0

    @property
    def requests(self) -> int:
        """Requests for everything added so far."""
        if self.per_request == 1:
            return self._requests + self._in_claim
        return self._requests + sum(-(-n // self.per_request) for n in self._texts.values())
