"""Consent against the real sandbox and PostgreSQL, through the daemon's own HTTP listener (issue 16):
a STOP gets exactly one confirmation and no further campaign message, a replayed STOP no second
reply, START restores and confirms, HELP answers with the configured text, and all of it is in
`campaigner suppress history` with its source.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp

from campaigner import metrics
from campaigner.app.daemon import Daemon
from campaigner.config import Secret, config_from_mapping
from campaigner.providers.webhooks import sign
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.acceptance.test_daemon import KEY, ROOT, SECRET, daemon_settings, free_port
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.fixtures.sandbox import MakeSandbox

OUR_NUMBER = "+3197010203040"
OPT_OUT_TEXT = "ACME: you will get no more messages. Reply START to come back."
OPT_IN_TEXT = {"default": "ACME: welcome back. Reply STOP to opt out.", "fr": "ACME: bon retour."}
HELP_TEXT = "ACME alerts, support@acme.example. Reply STOP to opt out."


def inbound(pid: str, sender: str, body: str) -> bytes:
    data = {"id": pid, "from": sender, "to": OUR_NUMBER, "body": body,
            "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    return json.dumps({"event": "sms.received", "data": data}).encode()


async def deliver(port: int, body: bytes) -> dict[str, int]:
    """POST one signed Cliqtel inbound callback to the daemon; its verdicts."""
    headers = {"X-Cliqtel-Signature": sign(body, Secret(SECRET)), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/webhooks/cliqtel/inbound"
        async with http.post(url, data=body, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            verdicts: dict[str, int] = (await reply.json())["verdicts"]
            return verdicts


def received(sandbox: RunningSandbox, e164: str) -> list[str]:
    """The texts the sandbox sent to `e164`, in order."""
    return [m.body for m in sandbox.state.store.by_to.get(e164, []) if m.direction == "outbound"]


async def cli(url: str, *args: str) -> str:
    env = {**os.environ, "CAMPAIGNER_DATABASE_URL": url}
    env.pop("CAMPAIGNER_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *args, cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def test_stop_start_and_help_get_one_confirmation_each_and_are_in_the_history(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=10)
    settings: dict[str, Any] = daemon_settings(sandbox, database_url, free_port())
    settings["compliance"] = {
        "opt_out_reply": OPT_OUT_TEXT,
        "opt_in_reply": OPT_IN_TEXT,
        "help_reply": HELP_TEXT,
        "reply_poll_interval": 0.2,
    }
    config = config_from_mapping(settings, source="<test>")
    targets = numbers(30)
    person = targets[-1]  # sent last: the STOP comes first
    campaign_id = await create_running_campaign(store, targets)
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.started.wait(), 20)

        async def some_sent() -> bool:
            counts = await store.job_counts(campaign_id)
            return counts.get("submitted", 0) + counts.get("delivered", 0) >= 3

        await wait_for(some_sent, 30, "the first sends")
        stop = inbound("in-stop", person, "Stop!")
        assert await deliver(daemon.port, stop) == {"opt_out": 1}

        async def confirmed(text: str, n: int = 1) -> bool:
            return received(sandbox, person).count(text) >= n

        await wait_for(lambda: confirmed(OPT_OUT_TEXT), 15, "the opt-out confirmation")
        assert await deliver(daemon.port, stop) == {"duplicate": 1}  # the same callback, replayed

        async def completed() -> bool:
            return (await store.get_campaign(campaign_id)).state == "completed"

        await wait_for(completed, 30, "the campaign to complete")
        assert (await store.job_counts(campaign_id)).get("skipped") == 1
        # The outbox has nothing left to send, and the person got the one confirmation only.
        totals = await store.reply_outbox_totals(config.provider.account)
        assert [(t["kind"], t["state"], t["replies"]) for t in totals] == [("opt_out", "sent", 1)]
        assert received(sandbox, person) == [OPT_OUT_TEXT]

        # HELP while opted out: never answered (only the opt-out confirmation goes to a listed number).
        assert await deliver(daemon.port, inbound("in-help-1", person, "HELP")) == {"help": 1}

        async def help_settled() -> bool:
            rows = await store.replies_to(person)
            return any(r["kind"] == "help" and r["state"] != "pending" for r in rows)

        await wait_for(help_settled, 15, "the first HELP reply to be settled")
        assert [r["state"] for r in await store.replies_to(person) if r["kind"] == "help"] == ["skipped"]

        assert await deliver(daemon.port, inbound("in-start", person, "START")) == {"opt_in": 1}
        await wait_for(lambda: confirmed(OPT_IN_TEXT["default"]), 15, "the opt-in confirmation")
        assert person not in await store.suppressed_numbers()
        assert await deliver(daemon.port, inbound("in-help-2", person, "info")) == {"help": 1}
        await wait_for(lambda: confirmed(HELP_TEXT), 15, "the HELP text")
        for pid, body in (("in-stop", "Stop!"), ("in-start", "START"), ("in-help-2", "info")):
            assert await deliver(daemon.port, inbound(pid, person, body)) == {"duplicate": 1}
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)

    assert received(sandbox, person) == [OPT_OUT_TEXT, OPT_IN_TEXT["default"], HELP_TEXT]
    assert sandbox.state.snapshot()["duplicates"].keys() <= {person}
    for kind, outcome in (("opt_out", "sent"), ("opt_in", "sent"), ("help", "sent"), ("help", "skipped")):
        labels = {"account": config.provider.account, "kind": kind, "outcome": outcome}
        assert (metrics.REGISTRY.get_sample_value("campaigner_confirmation_replies_total", labels) or 0) >= 1
    sent = [r for r in await store.replies_to(person) if r["state"] == "sent"]
    assert [r["kind"] for r in sent] == ["opt_out", "opt_in", "help"]
    assert all(r["segments"] == 1 and r["cost"] > 0 and r["provider_id"] for r in sent)  # priced

    history = json.loads(await cli(database_url, "suppress", "history", person, "--format", "json"))
    assert history["suppressed"] == []
    assert [(h["action"], h["source"]) for h in history["history"]] == [
        ("opt_out", "inbound:in-stop"),
        ("opt_in", "inbound:in-start"),
    ]
    assert [(r["kind"], r["state"], r["inbound_provider_id"]) for r in history["replies"]] == [
        ("opt_out", "sent", "in-stop"),
        ("help", "skipped", "in-help-1"),
        ("opt_in", "sent", "in-start"),
        ("help", "sent", "in-help-2"),
    ]
    text = await cli(database_url, "suppress", "history", person)
    assert "opt_out" in text and "inbound:in-stop" in text and HELP_TEXT in text
