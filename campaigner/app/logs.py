"""Logging for long-running processes: one JSON object a line off a terminal, rich on one.

    setup_logging("INFO")                       # JSON lines when stderr is not a TTY
    log.info("carrying campaign %s", 7, extra={"campaign_id": 7})

Each JSON line has `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `msg`, the context
fields of `CONTEXT_FIELDS` when the call passed them with `extra=` or they are set in the running
context (`campaign_context`, `WORKER_ID`: the daemon sets them where a campaign's runner starts, so
every line the dispatcher logs for it carries `campaign_id` and `worker_id`), and `exc` (the formatted
traceback) when there is one. What is logged is the caller's business: message bodies only at
DEBUG, secrets never (a `Secret` formats as `Secret('***')`, and `redact_secrets` below is a last
line of defence for values registered with it).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from campaigner.config import Config

# Record attributes copied into the JSON object when a call sets them with `extra=`.
CONTEXT_FIELDS = ("campaign_id", "job_id", "worker_id", "provider_id", "account", "verdict", "event")

# Set for a whole task tree: asyncio copies the context into every task it creates, so the
# dispatcher's tasks log their campaign and worker without passing them along (dispatch/ knows no
# app/). A record's own `extra=` wins.
CAMPAIGN_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("campaign_id", default=None)
WORKER_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("worker_id", default=None)

_HANDLER_MARK = "_campaigner_handler"


def campaign_context(campaign_id: int, worker_id: str | None = None) -> contextvars.Context:
    """A copy of the current context with CAMPAIGN_ID (and WORKER_ID) set, for the task that runs
    a campaign's runner: `asyncio.create_task(runner.run(), context=campaign_context(7))`."""
    context = contextvars.copy_context()
    context.run(CAMPAIGN_ID.set, campaign_id)
    if worker_id is not None:
        context.run(WORKER_ID.set, worker_id)
    return context


class _ContextFilter(logging.Filter):
    """Copies the context's campaign and worker ids into every record that has none of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("campaign_id", CAMPAIGN_ID), ("worker_id", WORKER_ID)):
            if record.__dict__.get(name) is None:
                value = variable.get()
                if value is not None:
                    setattr(record, name, value)
        return True
_secrets: set[str] = set()


def redact_secrets(*values: str) -> None:
    """Register secret values that must never reach a log line; they are replaced by ***.

    The secret half of an `id|secret` token is registered too (a reply may echo only that part).
    Besides our own handlers, Python's last-resort handler (what a command that set up no logging
    prints its warnings with) scrubs them as well.
    """
    for value in values:
        for part in (value, value.partition("|")[2]):
            if part and len(part) >= 4:
                _secrets.add(part)
    if _secrets and logging.lastResort is not None and _SCRUB not in logging.lastResort.filters:
        logging.lastResort.addFilter(_SCRUB)


def redact_config_secrets(config: Config) -> None:
    """Register every secret `config` leads to that is set: the provider's API key, its webhook
    secret and the database password. Called wherever a run is wired (`RunWiring.build`)."""
    from urllib.parse import urlsplit

    for variable in (config.provider.api_key_env, config.provider.webhook_secret_env):
        redact_secrets(os.environ.get(variable, ""))
    with contextlib.suppress(ValueError):
        redact_secrets(urlsplit(config.database_url()).password or "")


def _scrub(text: str) -> str:
    # Longest first, so a whole token is masked before its secret half would leave the id showing.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class _ScrubFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) with the registered secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg, record.args = _scrub(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = _scrub(record.exc_text)
        return True


_SCRUB = _ScrubFilter()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": _scrub(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = _scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = _scrub(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _ContextFormatter(logging.Formatter):
    """Plain/rich text with the context fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        text = _scrub(super().format(record))
        context = [f"{n}={record.__dict__[n]}" for n in CONTEXT_FIELDS if record.__dict__.get(n) is not None]
        return f"{text} [{' '.join(context)}]" if context else text


def setup_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Configure the root logger once (calling again replaces what the last call installed).

    `json_lines=None` chooses JSON when stderr is not a terminal (systemd, containers), rich
    output when it is. aiohttp's access log is kept at WARNING: every callback is a request.
    """
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(
            console=Console(stderr=True), show_path=False, rich_tracebacks=False, log_time_format="%H:%M:%S"
        )
        handler.setFormatter(_ContextFormatter("%(name)s: %(message)s"))
    handler.addFilter(_ContextFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
