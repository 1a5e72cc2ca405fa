"""ClickSend v3 client, for sender numbers only (ClickSend's v3 "Numbers" API).

campaigner lists an account's dedicated numbers (`GET /v3/numbers`, Basic auth, the
`http_code` / `response_code` / `data` envelope with a Laravel page inside). Sending through ClickSend
is not implemented: `send` answers ACCOUNT "not supported" for every message, so a campaign on such
an account pauses with that reason before anything leaves.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from campaigner.config import ProviderConfig, Secret
from campaigner.errors import ConfigError, ProviderError
from campaigner.model.provider import (
    Balance,
    InboundEvent,
    LookupResult,
    OutboundMessage,
    Outcome,
    RateLimitInfo,
    SenderNumber,
    SendResult,
    StatusEvent,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers import pages
from campaigner.providers.base import Capabilities
from campaigner.providers.errors import ProviderUnavailable
from campaigner.providers.http import HttpSession, NetworkFailure, parse_retry_after

# The API root; paths start with /v3.
DEFAULT_BASE_URL = "https://rest.clicksend.com"
PER_PAGE = 100
NOT_SUPPORTED = "sending through ClickSend is not supported (campaigner only lists its numbers)"


def _sms_capable(item: dict[str, Any]) -> bool:
    # The document lists dedicated numbers without a fixed capability field; read what is there.
    for key in ("sms_enabled", "sms"):
        if isinstance(item.get(key), bool):
            return bool(item[key])
    for key in ("capabilities", "types", "type", "message_types"):
        value = item.get(key)
        if isinstance(value, dict):
            return bool(value.get("sms") or value.get("SMS"))
        if isinstance(value, list):
            return any(str(entry).lower() == "sms" for entry in value)
        if isinstance(value, str):
            return "sms" in value.lower()
    return True


class ClickSendProvider:
    """A ClickSend account: `numbers()` works; sending is refused as ACCOUNT. Implements Provider."""

    name = "clicksend"
    # Used for its numbers only: no webhooks, no lookups.
    capabilities = Capabilities(looks_up_messages=False)
    max_recipients_per_request = 1
    looks_up_messages = True

    def __init__(self, config: ProviderConfig, *, status_callback_url: str | None = None) -> None:
        self._config = config
        self._key: Secret = config.api_key()
        username = os.environ.get(config.username_env, "")
        if not username:
            raise ConfigError(
                f"environment variable {config.username_env} is not set (named by provider.username_env)"
            )
        self._username = Secret(username)
        base = config.base_url.rstrip("/")
        self._base = DEFAULT_BASE_URL if base == ProviderConfig().base_url else base
        self._http = HttpSession(
            name=self.name,
            account=config.account,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            total_timeout=config.request_bound(),
            headers={"Accept": "application/json"},
            secrets=(self._key, self._username),
        )

    def __repr__(self) -> str:
        return f"ClickSendProvider(base_url={self._base!r})"

    @property
    def rate_limit(self) -> RateLimitInfo:
        """X-RateLimit-Limit / -Remaining / Retry-After of the last response."""
        return self._http.last_rate_limit

    def _auth(self) -> dict[str, str]:
        pair = f"{self._username.reveal()}:{self._key.reveal()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    async def _get(self, url: str, params: dict[str, str]) -> Any:
        try:
            reply = await self._http.request("GET", url, params=params, headers=self._auth())
        except NetworkFailure as failure:
            raise ProviderUnavailable(failure.detail) from None
        payload = reply.json()
        envelope = payload if isinstance(payload, dict) else {}
        code = envelope.get("response_code")
        if reply.status == 200 and code in (None, "SUCCESS"):
            return payload
        text = envelope.get("response_msg") or "no reason given"
        detail = self._http.redact(f"clicksend: GET {url}: HTTP {reply.status} {code or ''}: {text}")
        if reply.status == 429 or reply.status >= 500:
            raise ProviderUnavailable(detail, parse_retry_after(reply.headers.get("Retry-After")))
        raise ProviderError(detail)

    async def numbers(self) -> list[SenderNumber]:
        """Every dedicated number of the account, all pages, with its SMS capability."""
        result = []
        params = {"limit": str(PER_PAGE)}
        async for item in pages.walk(self._get, f"{self._base}/v3/numbers", params):
            number = item.get("dedicated_number") or item.get("number")
            if not number:
                continue
            ident = item.get("dedicated_number_id", item.get("id", number))
            result.append(
                SenderNumber(
                    id=str(ident),
                    number=str(number),
                    sms_enabled=_sms_capable(item),
                    country=item.get("country"),
                )
            )
        return result

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        """Refuse every message as ACCOUNT: sending through ClickSend is not implemented."""
        return [
            SendResult(message.ref, Outcome.ACCOUNT, code="not_supported", message=NOT_SUPPORTED)
            for message in batch
        ]

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        """Nothing is ever sent through ClickSend, so nothing can be found."""
        return LookupResult(False)

    async def inbound_since(self, since: datetime) -> list[InboundEvent]:
        """Replies reach us by callback only (capabilities.polls_inbound is false)."""
        return []

    async def receipt(self, provider_id: str) -> StatusEvent | None:
        """ClickSend is used for numbers only: it has no messages of ours to ask about."""
        return None

    async def balance(self) -> Balance | None:
        """Not implemented for ClickSend."""
        return None

    def parse_status_webhook(self, request: WebhookRequest) -> list[StatusEvent]:
        """ClickSend callbacks are not supported."""
        raise WebhookRejected("clicksend callbacks are not supported", status=404)

    def parse_inbound_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        """ClickSend callbacks are not supported."""
        raise WebhookRejected("clicksend callbacks are not supported", status=404)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()
