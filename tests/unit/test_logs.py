"""Logging: one JSON object a line off a terminal, with the context ids; text with them on one."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from campaigner.app.logs import JsonFormatter, redact_secrets, setup_logging
from campaigner.config import Secret


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_level_logger_message_and_context(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO", json_lines=True)
    log = logging.getLogger("campaigner.test")
    log.info("carrying campaign %s", 7, extra={"campaign_id": 7, "worker_id": "w-1"})
    log.debug("not shown at INFO")
    try:
        raise ValueError("bad thing")
    except ValueError:
        log.exception("failed", extra={"job_id": 99})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    first, second = (json.loads(line) for line in lines)  # exactly two: DEBUG was dropped
    assert first["level"] == "INFO" and first["logger"] == "campaigner.test"
    assert first["msg"] == "carrying campaign 7"
    assert (first["campaign_id"], first["worker_id"]) == (7, "w-1")
    assert "job_id" not in first
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "ERROR" and second["job_id"] == 99
    assert "ValueError: bad thing" in second["exc"]


def test_setup_twice_installs_one_handler(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json_lines=True)
    setup_logging("INFO", json_lines=True)
    logging.getLogger("campaigner.test").warning("once")
    assert len([line for line in capsys.readouterr().err.splitlines() if line.strip()]) == 1


def test_text_output_on_a_terminal_shows_the_context(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO", json_lines=False)
    logging.getLogger("campaigner.test").info("hello", extra={"campaign_id": 3})
    err = capsys.readouterr().err
    assert "hello" in err and "campaign_id=3" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


def test_secrets_never_reach_a_line() -> None:
    redact_secrets("super-secret-value-1")
    record = logging.LogRecord(
        "campaigner.test",
        logging.WARNING,
        __file__,
        1,
        "key %s and %s",
        ("super-secret-value-1", Secret("x")),
        None,
    )
    line = JsonFormatter().format(record)
    assert "super-secret-value-1" not in line
    assert json.loads(line)["msg"] == "key *** and Secret('***')"


async def test_the_running_context_gives_every_line_its_campaign_and_worker(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import contextvars

    from campaigner.app.logs import WORKER_ID, campaign_context

    setup_logging("INFO", json_lines=True)
    # Earlier tests in a full run may have set levels or propagation on these loggers: the lines
    # must reach the root's handler whatever they left.
    chain = [
        logging.getLogger(n)
        for n in ("campaigner", "campaigner.dispatch", "campaigner.dispatch.context_test")
    ]
    saved = [(lg.level, lg.propagate, lg.disabled) for lg in chain]
    for lg in chain:
        lg.setLevel(logging.NOTSET)
        lg.propagate, lg.disabled = True, False
    log = chain[-1]

    async def runner() -> None:
        log.info("from the runner")

        async def sender() -> None:  # a task the runner starts inherits the context
            log.info("from a sender")

        await asyncio.create_task(sender())
        log.info("own extra wins", extra={"campaign_id": 9})

    token = WORKER_ID.set("w-7")
    try:
        await asyncio.create_task(runner(), context=campaign_context(3))
    finally:
        WORKER_ID.reset(token)
    # In a context of its own: an earlier test of the session may have left ids set in this one.
    contextvars.Context().run(log.info, "outside")
    for lg, (level, propagate, disabled) in zip(chain, saved, strict=True):
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    # Only this test's logger: a task an earlier test left behind may log meanwhile.
    lines = [e for e in lines if e["logger"] == log.name]
    assert [(e["msg"], e.get("campaign_id"), e.get("worker_id")) for e in lines] == [
        ("from the runner", 3, "w-7"),
        ("from a sender", 3, "w-7"),
        ("own extra wins", 9, "w-7"),
        ("outside", None, None),
    ]
