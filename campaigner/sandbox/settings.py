"""What a sandbox is set to: keys, numbers, limits, faults, delays. Changeable at runtime.

One mutable dataclass, read by every route on every request (so a `POST /_sandbox/config` takes
effect on the next request), with defaults that match the provider documents: Cliqtel's 60
requests per minute per key and 10 messages per second per account, €0.008 a segment; Clickatell's
batches of up to 600, 3 message parts, callbacks only as the `callback` bitmask asks, in the
legacy form shape, unsigned. Settings that switch on a sandbox extension say so and are off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# Routes faults can be injected on (see `SandboxSettings.fault_routes`).
SEND_ROUTES = frozenset({"cliqtel.send", "portal.send", "clickatell.send"})
ALL_ROUTES = frozenset(
    SEND_ROUTES
    | {
        "cliqtel.list",
        "cliqtel.get",
        "cliqtel.numbers",
        "portal.list",
        "portal.numbers",
        "clickatell.get",
        "clickatell.stop",
        "clickatell.balance",
        "clickatell.coverage",
        "clicksend.numbers",
    }
)


CHOICES = {
    "pagination": ("meta", "laravel"),
    "error_style": ("nested", "flat"),
    "clickatell_callback_shape": ("form", "get", "json"),
}


@dataclass(frozen=True, slots=True)
class SandboxNumber:
    """A number on the sandbox account (Cliqtel `GET /numbers`, ClickSend `GET /v3/numbers`)."""

    id: int
    number: str  # E.164
    country_code: str
    number_type: str = "mobile"
    sms_enabled: bool = True

    def as_cliqtel(self) -> dict[str, Any]:
        """The number as Cliqtel lists it."""
        return {
            "id": self.id,
            "number": self.number,
            "country_code": self.country_code,
            "number_type": self.number_type,
            "sms_enabled": self.sms_enabled,
        }


def default_numbers() -> list[SandboxNumber]:
    """The default sender (+3197010203040, id 1, SMS) and one number without SMS (id 2)."""
    return [
        SandboxNumber(1, "+3197010203040", "NL", "mobile", True),
        SandboxNumber(2, "+31201234567", "NL", "local", False),
    ]


@dataclass(slots=True)
class SandboxSettings:
    """Everything a sandbox does that a test or a flag may want to change.

    Limits: `requests_per_minute` per key over `request_window` seconds (60 by default; tests scale
    it down, e.g. 60 over 6 s), `messages_per_second` per account over `message_window` seconds.
    `enforce_limits=False` keeps counting (stats) but never answers 429 (unthrottled benchmarks).

    Faults are probabilities in [0, 1] drawn from one RNG seeded with `seed`, applied only on the
    routes named in `fault_routes` (the send routes by default).
    """

    # Keys: Cliqtel "id|secret" tokens; also accepted as Clickatell bearer tokens.
    full_key: str = "17|sandbox-full-access-key"
    read_key: str = "18|sandbox-read-only-key"
    # A least-privilege key, as Cliqtel's API Reference recommends: sms:read and sms:write only, so
    # billing answers it 403 insufficient_scope.
    send_key: str = "19|sandbox-send-only-key"
    # Sandbox extension: GET /billing/balance. Cliqtel's documents name billing data (billing:read)
    # but no balance path, so by default the sandbox serves none (404) and the client must cope.
    serve_balance: bool = False
    clicksend_username: str = "sandbox"
    clicksend_key: str = "sandbox-clicksend-key"
    # HMAC-SHA256 key of X-Cliqtel-Signature on status and inbound callbacks.
    webhook_secret: str = "sandbox-webhook-secret"
    # Where inbound `sms.received` events are POSTed (empty: stored only).
    inbound_url: str = ""
    # Clickatell (see clickatell_routes.py for what the document shows and what it leaves open).
    # Where message status callbacks go: set on the API connection, not per message. A `?token=...`
    # in it is kept; a user:password in it is sent as HTTP Basic auth.
    clickatell_callback_url: str = ""
    # Where two-way (MO) replies go (the connection's MO callback URL; empty: stored only).
    clickatell_mo_url: str = ""
    # How callbacks are sent: "form" (a form-encoded POST of the legacy fields), "get" (the same
    # fields as a query string) or "json" (a REST-style JSON POST). The document fixes none of them.
    clickatell_callback_shape: Literal["form", "get", "json"] = "form"
    # Sandbox extension, off: an X-Cliqtel-Signature HMAC on Clickatell callbacks (not in the document).
    clickatell_callback_signed: bool = False
    # The api_id legacy callbacks carry (the connection's id).
    clickatell_api_id: str = "3593713"
    numbers: list[SandboxNumber] = field(default_factory=default_numbers)

    # Wallet in EUR (Cliqtel).
    balance: float = 100.0
    price_per_segment: float = 0.008
    currency: str = "EUR"
    # Clickatell's wallet is credits, separate from the EUR one. Each message part costs the credits
    # of the longest matching prefix of `clickatell_credits_per_part` (MSISDN digits, e.g. "27"; a
    # "+" is dropped), else the default (0.8, the document's coverage example). The document's test
    # ranges (1/3 credit) are not built in: its own coverage example charges 0.8 in one of them.
    clickatell_credits: float = 1_000_000.0
    clickatell_credits_per_part: dict[str, float] = field(default_factory=dict)
    clickatell_default_credits_per_part: float = 0.8

    # Rolling-window limits.
    requests_per_minute: int = 60
    request_window: float = 60.0
    messages_per_second: int = 10
    message_window: float = 1.0
    enforce_limits: bool = True
    # Count reads (list, get, numbers) against the per-key request limit, as Cliqtel does on /v1/sms.
    limit_reads: bool = True
    # Retry-After as whole seconds (HTTP's delay-seconds, rounded up); True sends e.g. "0.25".
    retry_after_fractional: bool = False

    # Response shapes (the documents disagree; clients must accept both).
    pagination: Literal["meta", "laravel"] = "meta"
    error_style: Literal["nested", "flat"] = "nested"
    max_body_chars: int = 1600
    max_per_page: int = 100
    # Numbers in one Clickatell request: the document says "up to 500", "up to 200" and "up to 600".
    clickatell_max_batch: int = 600
    # The API connection's default of maxMessageParts (the document lists 1, 2, 3).
    clickatell_max_parts: int = 3
    # Seconds one minute of `validityPeriod` lasts (60; tests shrink it, as they shrink windows).
    clickatell_minute_seconds: float = 60.0

    # Status progression: queued -> sent after `sent_delay`, -> delivered/failed `delivered_delay` later.
    sent_delay: float = 1.0
    delivered_delay: float = 2.0
    callback_timeout: float = 5.0
    # Recipients (E.164) whose messages end `failed` (undeliverable).
    unreachable: set[str] = field(default_factory=set)
    # Clickatell per-recipient refusals (E.164): 105 invalid destination, 121 blocked, 122 opted
    # out, 128 delisted, 250 DNC; 114 "cannot route" by MSISDN prefix (digits, "+" optional), which
    # also makes coverage answer routable false.
    invalid_destinations: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    opted_out: set[str] = field(default_factory=set)
    delisted: set[str] = field(default_factory=set)
    dnc: set[str] = field(default_factory=set)
    unroutable_prefixes: set[str] = field(default_factory=set)
    # Clickatell IP lockdown: when non-empty, other client addresses get 401 / error 007.
    allowed_ips: set[str] = field(default_factory=set)

    # Fault injection.
    seed: int | None = None
    fault_500_rate: float = 0.0
    fault_503_rate: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    reply_lost_rate: float = 0.0
    # Stored, then answered 500 (an error after the insert) or 502 (a proxy that gave up on the
    # origin): the documents show neither reply, but any web API gives them; the client must not
    # send such a message twice.
    error_after_rate: float = 0.0
    bad_gateway_after_rate: float = 0.0
    # Share of status callbacks never sent (nothing in the documents says a provider retries them).
    receipt_drop_rate: float = 0.0
    fault_routes: set[str] = field(default_factory=lambda: set(SEND_ROUTES))
    # Clickatell error 130 "Maximum MT limit exceeded until <UNIX TIMESTAMP>": the share of
    # Clickatell sends refused with it, and the time it names (0: an hour after the refusal).
    mt_limit_rate: float = 0.0
    mt_limit_until: float = 0.0

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply `changes` (JSON values) in place; returns the names changed. Unknown names raise KeyError.

        Sets arrive as lists; `numbers` as a list of objects with SandboxNumber's fields.
        """
        known = {f.name: f for f in dataclasses.fields(self)}
        converted: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            if value is None or current is None:
                pass  # optional settings (seed) take None, or a value as given
            elif name == "numbers":
                value = [n if isinstance(n, SandboxNumber) else SandboxNumber(**n) for n in value]
            elif isinstance(current, dict):
                value = {str(k).lstrip("+"): float(v) for k, v in dict(value).items()}
            elif isinstance(current, set):
                value = set(value)
                if name == "fault_routes" and "*" in value:
                    value = set(ALL_ROUTES)
            elif isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, int):
                value = int(value)
            allowed = CHOICES.get(name)
            if allowed is not None and value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
            converted[name] = value
        for name, value in converted.items():
            setattr(self, name, value)
        return list(converted)

    def public(self) -> dict[str, Any]:
        """The settings as JSON, for `GET /_sandbox/config` (this is a local test server: keys included)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "numbers":
                value = [dataclasses.asdict(n) for n in value]
            elif isinstance(value, set):
                value = sorted(value)
            out[f.name] = value
        return out

    def sms_number(self, *, number: str | None = None, number_id: int | None = None) -> SandboxNumber | None:
        """The SMS-enabled number matching `number` or `number_id`, or None."""
        for candidate in self.numbers:
            if not candidate.sms_enabled:
                continue
            if number is not None and candidate.number == number:
                return candidate
            if number_id is not None and candidate.id == number_id:
                return candidate
        return None


def settings_for_tests(**overrides: Any) -> SandboxSettings:
    """Defaults for the test suite: documented limits, status progression in tens of milliseconds."""
    settings = SandboxSettings(sent_delay=0.02, delivered_delay=0.05, callback_timeout=2.0, seed=1234)
    settings.update(overrides)
    return settings
