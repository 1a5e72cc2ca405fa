"""Configuration: a TOML file validated by pydantic models, secrets from the environment.

The file comes from `--config` or `CAMPAIGNER_CONFIG`; with neither, every setting has its default
(see config.example.toml, which lists them all). Secrets are never in the file: the file names the
environment variable that holds each one (`api_key_env`, `webhook_secret_env`), and `Secret` keeps
the value out of every repr, log line and error message.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from campaigner.config_env import ConfigProblems, apply_env_overrides
from campaigner.errors import ConfigError

CONFIG_ENV = "CAMPAIGNER_CONFIG"
DATABASE_URL_ENV = "CAMPAIGNER_DATABASE_URL"
# The provider account of `campaigner demo`'s campaigns and rate schedule. No config may name it,
# so no daemon or run of a real account ever carries a demo campaign (they skip other accounts').
DEMO_ACCOUNT = "demo"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


class Secret:
    """A secret value that never shows itself in repr, str or format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it (an HTTP header, an HMAC key)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Section(BaseModel):
    # Unknown keys are mistakes (a typo silently ignored is a limit silently not applied). So are
    # inf and nan: no limit, timeout or margin means either (inf would overflow int(), nan passes
    # no comparison, so every check it meets is silently false).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _env_name(value: str) -> str:
    """An environment variable's name, checked: an empty one could never hold the secret."""
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits and _)")
    return value


def _masked_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***, for reprs and messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "***" if "@" in url else url  # unparseable: show nothing that might be a secret
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


class DatabaseConfig(_Section):
    """Where the PostgreSQL database is; empty `url` means the embedded server."""

    url: str = ""
    data_dir: str = ""
    pool_min_size: int = Field(default=1, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _pool_sizes(self) -> DatabaseConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"pool_min_size ({self.pool_min_size}) is larger than pool_max_size ({self.pool_max_size})"
            )
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The URL may carry the database password: repr(config) is printed and logged.
        for name, value in super().__repr_args__():
            yield name, _masked_url(value) if name == "url" else value


ExcludableType = Literal[
    "FIXED_LINE",
    "TOLL_FREE",
    "PREMIUM_RATE",
    "SHARED_COST",
    "UAN",
    "VOICEMAIL",
    "PAGER",
    "FIXED_LINE_OR_MOBILE",
    "MOBILE",
    "VOIP",
    "PERSONAL_NUMBER",
    "UNKNOWN",
]


class RecipientsConfig(_Section):
    """How a recipients CSV is read and which numbers are set aside."""

    default_region: str = ""
    phone_columns: list[str] = ["phone", "mobile", "msisdn", "number", "to", "recipient"]
    excluded_types: list[ExcludableType] = [
        "FIXED_LINE",
        "TOLL_FREE",
        "PREMIUM_RATE",
        "SHARED_COST",
        "UAN",
        "VOICEMAIL",
        "PAGER",
    ]
    # A row whose placeholder column is empty: "reject" sets the row aside, "empty" renders "".
    empty_value: Literal["reject", "empty"] = "reject"
    encoding: str = "utf-8"

    @field_validator("default_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        problem = region_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip().upper()

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str) -> str:
        try:
            "".encode(codecs.lookup(value.strip()).name)  # rot13 and base64 are codecs, not text
        except LookupError:
            raise ValueError(f"{value!r} is not a text encoding Python knows (e.g. utf-8, cp1252)") from None
        return value


class PricingConfig(_Section):
    """Cost per segment by destination country (ISO 3166 alpha-2), with a default."""

    currency: str = "EUR"
    # Decimal from the TOML's text (0.008 stays 0.008): money is never a float in campaigner.
    default_per_segment: Decimal = Field(default=Decimal("0.008"), ge=0)
    countries: dict[str, Annotated[Decimal, Field(ge=0)]] = {}

    def per_segment(self, country: str | None) -> Decimal:
        """Price of one segment to `country`, or the default when it has no price of its own."""
        if country is None:
            return self.default_per_segment
        return self.countries.get(country, self.default_per_segment)


# A provider type's own defaults, where they differ from the class defaults (Cliqtel's). Clickatell,
# from its "SMS REST API V2.0": "about 100 messages per second"; batches of "up to 500", "up to 200"
# and "up to 600" numbers in different places (200, the strictest, unless recipients_per_request
# says otherwise, up to 600); no request limit given (100 a second lets one-number requests reach
# the message rate).
TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "clickatell": {
        "base_url": "https://api.clickatell.com",
        "api_key_env": "CLICKATELL_API_KEY",
        "callback_token_env": "CLICKATELL_CALLBACK_TOKEN",
        "requests_per_minute": 6000,
        "messages_per_second": 100,
        "recipients_per_request": 200,
        "inbound_poll_interval": 0,
    },
}


class ProviderConfig(_Section):
    """One provider account: how to reach it and the limits it enforces."""

    type: Literal["cliqtel", "clickatell", "clicksend"] = "cliqtel"
    # Several daemons share the limits of accounts with the same name (through PostgreSQL).
    account: str = "default"
    base_url: str = "https://cliqtel.com/api/v1/sms"
    api_key_env: str = "CLIQTEL_API_KEY"
    # ClickSend uses Basic auth: username from this variable, key from api_key_env.
    username_env: str = "CLICKSEND_USERNAME"
    sender: str = ""
    sender_number_id: int | None = None
    use_portal_endpoint: bool = False
    # Cliqtel: where the wallet balance is read, relative to the API root (…/api/v1). The documents
    # name billing endpoints (billing:read) but not this path: check it on a real account. A 403
    # or 404 there leaves the balance unknown (a warning), never a refusal to send.
    balance_path: str = "/billing/balance"
    # Seconds between reads of the inbound list, for a provider whose replies are polled (Cliqtel:
    # its documents offer no inbound webhook yet). A STOP stops sends within one interval. 0: off.
    inbound_poll_interval: float = Field(default=15.0, ge=0)
    requests_per_minute: float = Field(default=60, gt=0)
    # Length of the provider's rolling request window in seconds (Cliqtel: 60). X-RateLimit-Limit
    # counts requests in this window; scaled-down sandboxes use shorter ones.
    request_window: float = Field(default=60.0, gt=0)
    messages_per_second: float = Field(default=10, gt=0)
    recipients_per_request: int = Field(default=1, ge=1)
    # Some carriers count segments against messages_per_second, not messages.
    rate_counts_segments: bool = False
    # Seconds added to every rolling window when pacing: the provider counts requests when they
    # arrive, and network and scheduling jitter can bring two requests closer than we sent them.
    window_margin: float = Field(default=0.05, ge=0, le=5)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=15.0, gt=0)
    webhook_secret_env: str = "CLIQTEL_WEBHOOK_SECRET"
    # Which key signs the X-Cliqtel-Signature: the reference says "your application key", which may
    # be a signing secret of its own (webhook_secret_env) or the API key. Check on your account.
    webhook_signing_key: Literal["webhook_secret", "api_key"] = "webhook_secret"
    max_body_chars: int = Field(default=1600, ge=1)
    # HTTP Basic auth of Clickatell callbacks: their own user and password, never the HMAC secret
    # (one secret, one purpose). Both empty: Basic auth is not accepted, only signatures.
    callback_username: str = ""
    callback_password_env: str = ""
    # Clickatell callbacks may carry a secret token in their URL's query (`?token=…`, the URL
    # pasted into Clickatell's portal); its value comes from this variable. Empty: not accepted.
    callback_token_env: str = ""
    # Clickatell's `callback` parameter: which status changes it reports (the document lists 0-7;
    # commonly 1 intermediate, 2 final, 4 error, added up). 7: all of them. The intermediate ones
    # settle a lost reply within seconds; the final and error ones end the job.
    callback: int = Field(default=7, ge=0, le=7)
    # The sender is a two-way number: ask Clickatell to route replies back (`mo=1`), so STOP works.
    two_way: bool = False
    # The most parts (segments) one message may have at the provider: Clickatell's maxMessageParts
    # (the document lists 1, 2, 3). Longer messages are `too_long` in the preview, never sent.
    max_message_parts: int = Field(default=3, ge=1, le=255)
    # A job whose send was ambiguous at a provider that cannot be asked (Clickatell) waits this many
    # seconds for its status callback; then unsettled_policy applies: "unknown" (reported, never
    # resent) or "resend" (sent again: a duplicate if the lost request had reached the provider).
    unsettled_after: float = Field(default=900.0, gt=0)
    unsettled_policy: Literal["unknown", "resend"] = "unknown"

    _check_env_names = field_validator("api_key_env", "username_env", "webhook_secret_env")(_env_name)

    @field_validator("callback_password_env", "callback_token_env")
    @classmethod
    def _optional_env_name(cls, value: str) -> str:
        return _env_name(value) if value else value

    @model_validator(mode="before")
    @classmethod
    def _type_defaults(cls, raw: Any) -> Any:
        """The class defaults are Cliqtel's; another type's account starts from its own."""
        if isinstance(raw, dict):
            return {**TYPE_DEFAULTS.get(str(raw.get("type", "")), {}), **raw}
        return raw

    @field_validator("account")
    @classmethod
    def _not_the_demo(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the account needs a name (its campaigns and limits are kept under it)")
        if value == DEMO_ACCOUNT:
            raise ValueError(f"{DEMO_ACCOUNT!r} is reserved for the campaigns of `campaigner demo`")
        return value

    def api_key(self) -> Secret:
        """The account's API key from the environment; a clear error when it is not set."""
        return _secret_from_env(self.api_key_env, "provider.api_key_env")

    def webhook_secret(self) -> Secret:
        """The key webhooks are signed with: the secret in `webhook_secret_env`, or the API key
        itself when `webhook_signing_key = "api_key"`."""
        if self.webhook_signing_key == "api_key":
            return self.api_key()
        return _secret_from_env(self.webhook_secret_env, "provider.webhook_secret_env")

    def callback_token(self) -> Secret | None:
        """The token Clickatell callbacks carry in their URL's query, or None when none is configured."""
        if not self.callback_token_env:
            return None
        return _secret_from_env(self.callback_token_env, "provider.callback_token_env")

    def callback_password(self) -> Secret | None:
        """The Basic-auth password of Clickatell callbacks, or None when none is configured."""
        if not self.callback_password_env:
            return None
        return _secret_from_env(self.callback_password_env, "provider.callback_password_env")

    def request_bound(self) -> float:
        """The longest one provider call may take, from waiting for a pooled connection to the last
        byte of the reply. Every call is cut off at this (providers/http.py), and exactly-once rests
        on it: a job is sent only while its lease outlasts it, and a silent worker's jobs are
        reconciled only once any call it had started must have ended (dispatch/)."""
        return self.connect_timeout + self.read_timeout + 1.0

    def ceiling_messages_per_second(self) -> float:
        """The highest sustained send rate the limits allow."""
        by_requests = self.recipients_per_request * self.requests_per_minute / 60.0
        return min(by_requests, self.messages_per_second)


class DispatcherConfig(_Section):
    """How jobs are claimed, sent, retried and reconciled."""

    batch_size: int = Field(default=100, ge=1)
    concurrency: int = Field(default=16, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    lease_seconds: float = Field(default=60.0, gt=0)
    worker_timeout: float = Field(default=15.0, gt=0)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)
    result_flush_interval: float = Field(default=0.2, gt=0)
    # How the campaigns one process carries on an account share its rate (dispatch/fair_share.py):
    # "round_robin", an equal share each while it has work; "priority", shares in proportion to
    # each campaign's --priority (1-100, default 10).
    fairness: Literal["round_robin", "priority"] = "round_robin"
    # Message validity: a campaign's jobs not sent within this long of its first start expire
    # (a duration such as "30s", "90m", "24h", "1h30m"; "" = never). --valid-for/--valid-until win.
    valid_for: str = ""

    @field_validator("valid_for")
    @classmethod
    def _check_valid_for(cls, value: str) -> str:
        if value.strip():
            parse_duration(value)
        return value.strip()

    def valid_for_seconds(self) -> float | None:
        """The default validity of a campaign, in seconds; None when messages never expire."""
        return parse_duration(self.valid_for, "dispatcher.valid_for") if self.valid_for else None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str, name: str = "") -> float:
    """'30s', '90m', '24h', '1h30m', '2d' (or a bare number of seconds) → seconds; ValueError
    (naming `name`, when given) for anything else, zero or a negative."""
    value, prefix = text.strip(), f"{name}: " if name else ""
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION_PART.findall(value)
        if not parts or _DURATION_PART.sub("", value).strip():
            raise ValueError(f"{prefix}{text!r} is not a duration (e.g. 30s, 90m, 24h, 1h30m)") from None
        seconds = sum(float(amount) * _DURATION_UNITS[unit.lower()] for amount, unit in parts)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{prefix}{text!r} is not a positive duration")
    return seconds


# [compliance] frequency_cap: "N/DURATION".
_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


def parse_frequency_cap(text: str, name: str = "") -> tuple[int, float] | None:
    """'1/24h' → (1, 86400.0): at most N messages per number per rolling window; '' → None (off)."""
    if not text.strip():
        return None
    prefix = f"{name}: " if name else ""
    match = _CAP.match(text)
    if match is None:
        raise ValueError(f"{prefix}{text!r} is not N/DURATION (e.g. 1/24h, 3/7d)")
    limit = int(match.group(1))
    if limit < 1:
        raise ValueError(f"{prefix}{text!r}: N must be at least 1 (leave the key empty to turn the cap off)")
    return limit, parse_duration(match.group(2), name)


# A confirmation reply: one text for every language, or a table of language code -> text where
# "default" is the text of any language the table does not name. Empty: no reply.
ReplyText = str | dict[str, str]


def _reply_text(value: ReplyText) -> ReplyText:
    if isinstance(value, dict):
        for language in value:
            if not re.fullmatch(r"[a-z]{2,3}|default", language):
                raise ValueError(f"{language!r} is not a language code (e.g. en, fr) or default")
    return value


def _keyword_sets(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for language, words in value.items():
        if not re.fullmatch(r"[a-z]{2,3}", language):
            raise ValueError(f"{language!r} is not a language code (e.g. en, fr)")
        if any(not word.strip() for word in words):
            raise ValueError(f"{language}: a keyword may not be empty")
    return value


_WINDOW = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]")


class ComplianceSettings(_Section):
    """What the law and the carriers ask of a campaign ([compliance]; README, "Compliance")."""

    # --- Sending windows per country (README, "Sending windows") ---
    # "country": the shipped table (campaigner/compliance/country_windows.toml) holds back every
    # campaign's messages outside its recipients' country window (hours, days off, public
    # holidays); a campaign's --quiet-hours replaces the table's hours, not its days. "off": only a
    # campaign's --quiet-hours holds messages back, every day.
    quiet_hours: Literal["country", "off"] = "off"
    # Hours per country that replace the table's (its days off and holidays still apply), e.g.
    # FR = "09:00-19:00"; only with quiet_hours = "country".
    quiet_hours_countries: dict[str, str] = Field(default_factory=dict)

    # --- Opt-out footer (README, "Opt-out footer") ---
    # Appended to every message of the account's campaigns on a line of its own ("" = none); a
    # campaign's --footer TEXT replaces it and --no-footer leaves it out. Counted in the segments.
    opt_out_footer: str = ""

    @field_validator("quiet_hours_countries")
    @classmethod
    def _country_windows(cls, value: dict[str, str]) -> dict[str, str]:
        problems = []
        for country, window in value.items():
            if country != country.upper() or region_problem(country) or len(country) != 2:
                problems.append(f"{country!r} is not a country code (ISO 3166 alpha-2 in capitals, e.g. FR)")
            elif not _WINDOW.fullmatch(window.strip()) or window.strip()[:5] == window.strip()[6:]:
                problems.append(f"{country}: {window!r} is not a window (HH:MM-HH:MM, e.g. 08:00-20:00)")
        if problems:
            raise ValueError("; ".join(problems))
        return {country: window.strip() for country, window in value.items()}

    @field_validator("opt_out_footer")
    @classmethod
    def _footer(cls, value: str) -> str:
        if any(ord(c) < 32 and c != "\n" for c in value):
            raise ValueError("must not contain control characters (a line break is allowed)")
        return value.strip()

    # --- Frequency cap (README, "Frequency cap and expiry") ---
    # At most N messages per recipient per rolling window, per provider account, across every
    # campaign: "1/24h", "3/7d"; "" = off. Checked at claim time against what was claimed to send.
    frequency_cap: str = ""
    # What a capped job does: "skip" (skipped, error_code frequency_cap) or "wait" (stays pending
    # until the window allows; the campaign completes only when it was sent, or expired).
    frequency_cap_action: Literal["skip", "wait"] = "skip"

    @field_validator("frequency_cap")
    @classmethod
    def _check_frequency_cap(cls, value: str) -> str:
        parse_frequency_cap(value)
        return value.strip()

    def frequency_cap_limit(self) -> tuple[int, float] | None:
        """(N, window seconds) of the cap, or None when it is off."""
        return parse_frequency_cap(self.frequency_cap)

    # --- Keywords, confirmation replies and opt-out scope (campaigner/inbound/stopwords.py,
    #    inbound/confirmations.py, app/reply_sender.py) --------------------------------------
    # Keyword sets per language code: a language named here replaces that language's defaults
    # (inbound/stopwords.py DEFAULT_KEYWORDS); the other languages keep theirs.
    opt_out_keywords: dict[str, list[str]] = {}
    opt_in_keywords: dict[str, list[str]] = {}
    help_keywords: dict[str, list[str]] = {}
    # Also take an opt-out word inside a short sentence as an opt-out (reported apart: verdict
    # opt_out_fuzzy). Off: only a message that is nothing but the keyword counts.
    fuzzy_keywords: bool = False
    # The confirmation replies; empty = none (leave them off where the provider or the carrier
    # answers keywords itself: a double reply gets a sender flagged).
    opt_out_reply: ReplyText = ""
    opt_in_reply: ReplyText = ""
    help_reply: ReplyText = ""
    # "account": an opt-out silences every campaign of the account; "sender": only campaigns sent
    # from the number the person texted (and account-wide entries still silence all).
    opt_out_scope: Literal["account", "sender"] = "account"
    # The reply sender: how often it looks for replies to send, how many it takes at once, how
    # many times a reply is tried (transient errors) before it is given up as failed.
    reply_poll_interval: float = Field(default=1.0, gt=0)
    reply_batch_size: int = Field(default=20, ge=1)
    reply_max_attempts: int = Field(default=5, ge=1)

    _check_replies = field_validator("opt_out_reply", "opt_in_reply", "help_reply")(_reply_text)
    _check_keywords = field_validator("opt_out_keywords", "opt_in_keywords", "help_keywords")(_keyword_sets)


class DaemonConfig(_Section):
    """The long-running service: its HTTP server and how it stops."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    grace_period: float = Field(default=30.0, ge=0)
    max_body_bytes: int = Field(default=65536, ge=1024)
    # A job submitted this many seconds without a receipt is asked about (`campaigner sync` asks
    # about every submitted job at once); the daemon does so every receipt_catch_up_every seconds.
    receipt_catch_up_after: float = Field(default=600.0, ge=0)
    receipt_catch_up_every: float = Field(default=60.0, gt=0)
    # /readyz and /metrics are served only here, not on host:port (which the provider reaches).
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8081, ge=0, le=65535)
    # A connection that has not sent a whole request head within this many seconds is closed.
    header_timeout: float = Field(default=10.0, gt=0)
    # A request whose body has not arrived within this many seconds is answered 408.
    body_timeout: float = Field(default=10.0, gt=0)
    # An idle keep-alive connection is closed after this many seconds.
    keepalive_timeout: float = Field(default=15.0, gt=0)
    # Open connections per listener; beyond it the longest-idle one is closed, or the new one
    # answered 503 when none is idle. Kept well under the process's descriptor limit.
    max_connections: int = Field(default=256, ge=1)
    # Webhook events dated more than event_max_age seconds ago, or more than event_max_skew seconds
    # ahead of our clock, are answered 200 and not applied (a replayed or forged callback). Events
    # without a date are not checked.
    event_max_age: float = Field(default=259_200.0, gt=0)
    event_max_skew: float = Field(default=300.0, ge=0)
    # Receipts that match no job yet are parked (inbound/receipts.py): at most this many from one
    # request, and at most parked_receipts_max waiting per provider account; the rest are dropped
    # and counted.
    parked_receipts_per_request: int = Field(default=500, ge=0)
    parked_receipts_max: int = Field(default=100_000, ge=0)
    # The event loop the daemon runs on: "auto" is uvloop when it is installed (the `fast` extra),
    # asyncio's own otherwise; "asyncio" never uses uvloop; "uvloop" requires it.
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"


class ApiConfig(_Section):
    """The dashboard and HTTP API: their own listener, off until a token is set."""

    # The environment variable holding the API token (at least MIN_API_TOKEN characters). Unset or
    # empty: the dashboard and the API are off (the daemon says so when it starts).
    token_env: str = "CAMPAIGNER_API_TOKEN"
    host: str = "127.0.0.1"
    port: int = Field(default=8082, ge=0, le=65535)
    # How long a browser stays signed in.
    session_hours: float = Field(default=12.0, gt=0)
    # Largest recipients CSV POST /api/campaigns and /api/preview accept.
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    _check_token_env = field_validator("token_env")(_env_name)

    def token(self) -> Secret | None:
        """The API token, or None when the dashboard and API are off; too short is a ConfigError."""
        value = os.environ.get(self.token_env, "")
        if not value:
            return None
        if len(value) < MIN_API_TOKEN:
            raise ConfigError(
                f"environment variable {self.token_env} (named by api.token_env) holds a token shorter "
                f"than {MIN_API_TOKEN} characters: use a long random one (e.g. `openssl rand -hex 32`)"
            )
        return Secret(value)


# A guessable token would open every campaign to whoever reaches the listener.
MIN_API_TOKEN = 16

# Link-preview fetchers (chat apps, social sites, mail scanners) that open a link without a person.
DEFAULT_BOT_USER_AGENTS = [
    "facebookexternalhit",
    "Facebot",
    "Twitterbot",
    "Slackbot",
    "WhatsApp",
    "TelegramBot",
    "Discordbot",
    "LinkedInBot",
    "SkypeUriPreview",
    "Googlebot",
    "bingbot",
    "Applebot",
    "redditbot",
    "Pinterestbot",
    "vkShare",
    "Embedly",
    "curl/",
    "python-requests",
]


class LinksConfig(_Section):
    """Branded short links (`{link:...}` in a message) and the redirects the daemon serves for them."""

    # The branded base the short links are made on; the code is the last path segment. Empty: a
    # message with `{link:...}` is refused. The daemon serves GET <path of base_url>/<code> on its
    # public listener (daemon.host:daemon.port), behind the proxy that owns this domain.
    base_url: str = ""
    # Characters of base62 in a code (8: about 47.6 bits).
    code_length: int = Field(default=8, ge=8, le=32)
    # Show "https://" in the message; false shows "go.example.com/AbC12345" (phones still link it).
    show_scheme: bool = True
    # 302 (default: every click reaches the daemon and is counted) or 301 (browsers may cache it).
    redirect_status: Literal[301, 302] = 302
    # Days a link resolves after its campaign was loaded; after that it answers 410 Gone.
    retention_days: int = Field(default=90, ge=1)
    # Flag clicks whose user agent names a link-preview bot: recorded, never counted as a person.
    flag_bots: bool = True
    # Case-insensitive substrings of a user agent that mark a bot.
    bot_user_agents: list[str] = Field(default_factory=lambda: list(DEFAULT_BOT_USER_AGENTS))
    # Keep a hash (BLAKE2b, 8 bytes) of each click's user agent, never the user agent itself.
    hash_user_agents: bool = False
    # Codes whose target (or absence) the daemon keeps in memory (least recently used dropped).
    cache_size: int = Field(default=200_000, ge=0)
    # Clicks are buffered in memory and written in one statement every flush_interval seconds or
    # once flush_batch are waiting, and on shutdown (a clean stop loses none).
    flush_interval: float = Field(default=1.0, gt=0)
    flush_batch: int = Field(default=1000, ge=1)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http:// or https:// URL without a query, e.g. https://go.example.com")
        return value

    @property
    def base_path(self) -> str:
        """The path the redirects are served under ("" for a bare domain)."""
        return urlsplit(self.base_url).path.rstrip("/")


class ConsentSettings(_Section):
    """Consent the operator must hold before sending."""

    # A campaign created while this is true sends only to numbers with a recorded opt-in (an
    # opt-in reply, or `suppress import-consent`); the others are skipped with no_consent.
    require_opt_in: bool = False


class Config(_Section):
    """The whole configuration."""

    database: DatabaseConfig = DatabaseConfig()
    recipients: RecipientsConfig = RecipientsConfig()
    pricing: PricingConfig = PricingConfig()
    provider: ProviderConfig = ProviderConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    daemon: DaemonConfig = DaemonConfig()
    api: ApiConfig = ApiConfig()
    compliance: ComplianceSettings = ComplianceSettings()
    consent: ConsentSettings = ConsentSettings()
    links: LinksConfig = LinksConfig()
    # More provider accounts, by name: each [accounts.NAME] takes every key of [provider]. A
    # campaign names its account (--account NAME); the daemon carries the campaigns of them all.
    accounts: dict[str, ProviderConfig] = Field(default_factory=dict)
    # Where the config was read from, for error messages; not a setting.
    source: str = Field(default="<defaults>", exclude=True)
    # The [provider] section, in a config that for_account turned to another account.
    _home: ProviderConfig | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _name_accounts(cls, raw: Any) -> Any:
        """An [accounts.NAME] section is the account NAME (its rate schedule, its campaigns); with
        no [provider] section the commands use [accounts.default], else the first one listed."""
        if not isinstance(raw, dict) or not isinstance(raw.get("accounts"), dict):
            return raw
        named: dict[str, Any] = {}
        for name, section in raw["accounts"].items():
            if not isinstance(section, dict):
                named[name] = section  # pydantic says what is wrong with it
                continue
            if section.get("account", name) != name:
                raise ValueError(
                    f"accounts.{name}.account: must be {name!r} or absent (the section names the account)"
                )
            named[name] = {**section, "account": name}
        raw = {**raw, "accounts": named}
        provider = raw.get("provider")
        home = provider.get("account", "default") if isinstance(provider, dict) else None
        if home in named:
            raise ValueError(
                f"provider.account: {home!r} is also an [accounts.{home}] section; one account, one section"
            )
        if "provider" not in raw and named:
            raw["provider"] = named.get("default", next(iter(named.values())))
        return raw

    @model_validator(mode="after")
    def _accounts_apart(self) -> Config:
        for name in self.accounts:
            if not _ACCOUNT_NAME.fullmatch(name):
                raise ValueError(
                    f"accounts.{name}: an account's name is letters, digits, - and _ (a URL path segment)"
                )
        routes: dict[str, str] = {}
        for name in self.account_names():
            for path in self.webhook_bases(name):
                other = routes.setdefault(path, name)
                if other != name:
                    raise ValueError(
                        f"accounts.{name}: its webhooks ({path}/...) would be those of account {other!r}; "
                        "rename one of them"
                    )
        return self

    def account_names(self) -> list[str]:
        """Every provider account this config carries: the default one ([provider]) first."""
        home = self._home or self.provider
        return [home.account, *(name for name in self.accounts if name != home.account)]

    def for_account(self, name: str) -> Config:
        """This config as seen by a campaign of account `name`: `provider` is that account's."""
        if name == self.provider.account:
            return self
        home = self._home or self.provider
        if name == home.account:
            back = self.model_copy(update={"provider": home})
            back._home = None
            return back
        if name not in self.accounts:
            raise ConfigError(
                f"{self.source}: no provider account {name!r} (accounts: {', '.join(self.account_names())})"
            )
        turned = self.model_copy(update={"provider": self.accounts[name]})
        turned._home = home
        return turned

    def webhook_bases(self, name: str | None = None) -> list[str]:
        """Where the daemon serves the webhooks of account `name` (default: `provider`'s), the
        first being the one it gives the provider: /webhooks/NAME for an [accounts.NAME] account;
        the [provider] section's keeps /webhooks/<type> first, as before accounts had names."""
        account = self.for_account(name).provider if name else self.provider
        by_name = f"/webhooks/{account.account}"
        if account.account in self.accounts:
            return [by_name]
        bases = [f"/webhooks/{account.type}"]
        if _ACCOUNT_NAME.fullmatch(account.account) and by_name not in bases:
            bases.append(by_name)
        return bases

    def database_url(self) -> str:
        """`CAMPAIGNER_DATABASE_URL` if set, else `database.url` (empty: use the embedded server)."""
        return os.environ.get(DATABASE_URL_ENV, "") or self.database.url


def _secret_from_env(variable: str, key: str) -> Secret:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"environment variable {variable} is not set (named by {key})")
    return Secret(value)


def region_problem(region: str) -> str | None:
    """Why `region` cannot be a default region (None when it can; "" means none at all)."""
    import phonenumbers  # only when a region is checked: it is slow to import

    if not region or region.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return f"{region!r} is not a region code phonenumbers knows (ISO 3166 alpha-2, e.g. NL, DE, US)"


def example_config_text() -> str:
    """config.example.toml as shipped inside the package: every setting, commented, with its default."""
    return (resources.files("campaigner") / "config.example.toml").read_text(encoding="utf-8")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config from `path`, else `$CAMPAIGNER_CONFIG`, else defaults.

    Every problem is a ConfigError naming the file and the key.
    """
    chosen = path or os.environ.get(CONFIG_ENV) or None
    if chosen is None:
        raw, origins = apply_env_overrides({}, Config, os.environ)  # CAMPAIGNER_SECTION__KEY
        return config_from_mapping(raw, "<defaults>", origins=origins)
    file = Path(chosen)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    database = raw.get("database")
    if isinstance(database, dict) and isinstance(database.get("data_dir"), str):
        folder = Path(database["data_dir"]).expanduser()
        if database["data_dir"] and not folder.is_absolute():
            # Relative to the config file, as a reader of the file expects, not to where the
            # command happens to run (the same config would otherwise mean another database).
            raw = {**raw, "database": {**database, "data_dir": str(file.parent.resolve() / folder)}}
    raw, origins = apply_env_overrides(raw, Config, os.environ)  # CAMPAIGNER_SECTION__KEY wins
    return config_from_mapping(raw, str(file), origins=origins)


def config_from_mapping(
    raw: dict[str, Any], source: str = "<mapping>", *, origins: dict[str, str] | None = None
) -> Config:
    """Validate an already parsed mapping; errors name `source` and the dotted key, all at once
    (and the environment variable that set the key, from `origins`: see config_env)."""
    problems = []
    if "source" in raw:
        # Not a setting (it says where the settings came from), so the file may not set it.
        problems.append(f"source: unknown setting (sections: {', '.join(_sections())})")
        raw = {k: v for k, v in raw.items() if k != "source"}
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        found = [_problem(error, origins or {}) for error in exc.errors()]
        if "provider" not in raw and raw.get("accounts"):
            # [provider] was taken from an [accounts.NAME] section: its problems are said there.
            found = [problem for problem in found if not problem.startswith("provider.")]
        problems += found
    if problems:
        raise ConfigProblems(source, problems)
    return config.model_copy(update={"source": source})


def _sections() -> list[str]:
    return [name for name in Config.model_fields if name != "source"]


def _problem(error: Any, origins: dict[str, str]) -> str:
    """One pydantic error as `key: message`, in our words where pydantic's would puzzle."""
    if not error["loc"] and error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")  # the message names its own key
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    variable = next((v for k, v in origins.items() if key == k or key.startswith(k + ".")), None)
    if variable:
        key += f" (from {variable})"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
        if len(error["loc"]) == 1:
            message += f" (sections: {', '.join(_sections())})"
    elif error["type"] == "finite_number":
        message = "must be a finite number (not inf or nan)"
    return f"{key}: {message}"
