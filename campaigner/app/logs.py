"""Logging for long-running processes: one JSON object a line off a terminal, rich on one.

    setup_logging("INFO")                       # JSON lines when stderr is not a TTY
    log.info("carrying campaign %s", 7, extra={"campaign_id": 7})

Each JSON line has `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `msg`, the context
fields of `CONTEXT_FIELDS` when the call passed them with `extra=`, and `exc` (the formatted
traceback) when there is one. What is logged is the caller's business: message bodies only at
DEBUG, secrets never (a `Secret` formats as `Secret('***')`, and `redact_secrets` below is a last
line of defence for values registered with it).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Record attributes copied into the JSON object when a call sets them with `extra=`.
CONTEXT_FIELDS = ("campaign_id", "job_id", "worker_id", "provider_id", "account", "verdict", "event")

_HANDLER_MARK = "_campaigner_handler"
_secrets: set[str] = set()


def redact_secrets(*values: str) -> None:
    """Register secret values that must never reach a log line; they are replaced by ***."""
    _secrets.update(v for v in values if v and len(v) >= 4)


def _scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


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
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
