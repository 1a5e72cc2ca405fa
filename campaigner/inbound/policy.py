"""What one webhook app applies inbound events with: its account, its clock window, its caps.

Built once from the config (`InboundPolicy.from_config`) and handed to `handle_status` and
`handle_inbound` with every request. The account is the daemon's (`provider.account`): receipts
and replies only ever touch that account's campaigns and parked receipts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from campaigner.config import Config
from campaigner.inbound.confirmations import Confirmations
from campaigner.inbound.numbers import ReplyNumbers

WindowProblem = Literal["stale", "future_dated"]


@dataclass(frozen=True, eq=False)
class InboundPolicy:
    """The account events are applied to, how far from now an event's date may be, and how many
    early receipts may be parked (per request, and waiting in all)."""

    account: str = "default"
    max_age: float = 259_200.0
    max_skew: float = 300.0
    park_per_request: int = 500
    park_max: int = 100_000
    numbers: ReplyNumbers = field(default_factory=lambda: ReplyNumbers(None))
    # False for events we asked the provider for (a receipt looked up, a reply read from its list):
    # nobody can replay those at us, and a late answer about an old message is still the truth.
    check_dates: bool = True
    # The account's keywords and confirmation replies (compliance.*), and its opt-out scope.
    confirmations: Confirmations = field(default_factory=lambda: Confirmations(Config()))
    opt_out_scope: str = "account"

    @classmethod
    def from_config(cls, config: Config) -> InboundPolicy:
        """The policy of the account `config` describes (`provider`, `daemon`, `recipients`)."""
        daemon = config.daemon
        return cls(
            account=config.provider.account,
            max_age=daemon.event_max_age,
            max_skew=daemon.event_max_skew,
            park_per_request=daemon.parked_receipts_per_request,
            park_max=daemon.parked_receipts_max,
            numbers=ReplyNumbers(config.recipients.default_region),
            confirmations=Confirmations(config),
            opt_out_scope=config.compliance.opt_out_scope,
        )

    def for_lookups(self) -> InboundPolicy:
        """The same policy for events we asked the provider for: their dates are not checked."""
        return replace(self, check_dates=False)

    def window_problem(self, at: datetime | None, now: datetime | None = None) -> WindowProblem | None:
        """Why an event dated `at` is not applied: older than max_age (stale), or more than
        max_skew ahead of our clock (future_dated); None when it is in the window, has no date, or
        dates are not checked."""
        if at is None or not self.check_dates:
            return None
        now = now or datetime.now(UTC)
        if at.tzinfo is None:  # the parsers give aware times; a naive one is read as UTC
            at = at.replace(tzinfo=UTC)
        if at < now - timedelta(seconds=self.max_age):
            return "stale"
        if at > now + timedelta(seconds=self.max_skew):
            return "future_dated"
        return None
