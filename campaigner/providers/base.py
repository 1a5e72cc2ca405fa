"""The one interface every provider client implements, and what each declares it can do.

Nothing outside `campaigner/providers/` knows how a provider speaks HTTP. The engine sees the
smaller `campaigner.dispatch.ports.Sender`; the CLI, the pre-flight checks and the daemon's webhook
routes see this `Provider`. The data that crosses the boundary is in `campaigner.model.provider`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, Protocol, runtime_checkable

from campaigner.model.provider import (
    Balance,
    IgnoredEvent,
    InboundEvent,
    LookupResult,
    OutboundMessage,
    RateLimitInfo,
    SenderNumber,
    SendResult,
    StatusEvent,
    WebhookRequest,
)

WebhookKind = Literal["status", "inbound"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a client can do, known from its class alone (the planner and the HTTP app ask before
    any client is built, and no API key is needed to ask)."""

    # The most numbers one request may carry, and how many when provider.recipients_per_request
    # is not set (1 for a provider that takes one number a request).
    max_batch: int = 1
    default_batch: int = 1
    # It lists the account's numbers: the sender is checked before a campaign starts.
    lists_numbers: bool = True
    # It can say whether a message we are unsure of reached it (reconciliation's lookup).
    looks_up_messages: bool = True
    # The callbacks it parses; each is served at webhook_path(type, kind).
    webhooks: tuple[WebhookKind, ...] = ()
    # It sends at most provider.max_message_parts segments of one message (Clickatell's
    # maxMessageParts): longer ones are `too_long` in the preview.
    limits_parts: bool = False
    # Its account is charged in credits, not the pricing currency; `coverage(e164)` says the least
    # one message part to a number costs (Clickatell): estimates and the balance check use it.
    prices_in_credits: bool = False
    # It can stop a message still in its queue (`stop(provider_id)`): `cancel` stops those too.
    stops_messages: bool = False
    # The HTTP methods its callbacks come with (Clickatell's may be a GET with a query).
    webhook_methods: tuple[str, ...] = ("POST",)
    # It takes a status-callback URL with each message (else it is set on the provider's side).
    callback_per_message: bool = False
    # It can say where one sent message is (`receipt`): receipts missed are caught up by asking.
    fetches_receipts: bool = False
    # Replies are read by polling its list of inbound messages (`inbound_since`), because its
    # documents offer no inbound webhook yet.
    polls_inbound: bool = False


def webhook_path(provider_type: str, kind: WebhookKind) -> str:
    """Where the daemon serves `kind` callbacks of a `provider_type` account."""
    return f"/webhooks/{provider_type}/{kind}"


@runtime_checkable
class Provider(Protocol):
    """A provider account as the dispatcher, CLI and daemon see it."""

    name: str
    capabilities: ClassVar[Capabilities]
    max_recipients_per_request: int
    looks_up_messages: bool  # capabilities.looks_up_messages, for the engine's Sender port

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send up to `max_recipients_per_request` messages; one result per message, same order.

        Never raises for a provider or network failure: those are results (TRANSIENT, AMBIGUOUS, ...).
        """
        ...

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        """Did `message` reach the provider at or after `since`? Raises ProviderError when unsure."""
        ...

    async def balance(self) -> Balance | None:
        """The account's balance, or None when the provider has no such endpoint."""
        ...

    async def numbers(self) -> list[SenderNumber]:
        """The sender numbers of the account."""
        ...

    async def inbound_since(self, since: datetime) -> list[InboundEvent]:
        """Messages sent to the account's numbers at or after `since`, oldest first (polling
        clients only). Raises ProviderError (ProviderUnavailable when it cannot answer now)."""
        ...

    async def receipt(self, provider_id: str) -> StatusEvent | None:
        """Where message `provider_id` is now, as a receipt would say (None: the provider cannot
        tell). Raises ProviderError (ProviderUnavailable when it cannot answer now)."""
        ...

    def parse_status_webhook(self, request: WebhookRequest) -> list[StatusEvent | IgnoredEvent]:
        """Verify and parse a delivery-receipt callback; raises WebhookRejected. A record whose
        fields cannot be used is an IgnoredEvent, never an exception."""
        ...

    def parse_inbound_webhook(self, request: WebhookRequest) -> list[InboundEvent | IgnoredEvent]:
        """Verify and parse an inbound-message callback; raises WebhookRejected (IgnoredEvent: as above)."""
        ...

    @property
    def rate_limit(self) -> RateLimitInfo:
        """The rate-limit headers of the last response."""
        ...

    async def close(self) -> None:
        """Close the HTTP session."""
        ...
