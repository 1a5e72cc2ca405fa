"""`campaigner demo`: a whole campaign on this machine, with nothing configured.

It starts the sandbox provider and the webhook server in this process, uses the configured database
(or the embedded one), loads the bundled example CSV (messy numbers in nine countries, a personalised
message, some UCS-2), shows the preview, sends at the sandbox's limits with the progress bar, waits
for the delivery receipts the sandbox calls back with, and ends with the campaign's summary.

It never touches real work, even on a configured database: its campaign and rate schedule belong to
the provider account `demo` (config.DEMO_ACCOUNT, which no config may name), so no daemon carries
it and no `run`, `send` or `retry` sends it through a real provider; and a demo that does not finish
(a signal, an error) cancels its campaign, which the sandbox it was meant for no longer serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from aiohttp import web
from rich.console import Console

from campaigner.app.loading import CampaignSource, load_campaign
from campaigner.app.signals import sigterm_interrupts
from campaigner.cli.foreground import run_in_foreground
from campaigner.cli.preview_table import render_preview
from campaigner.config import DEMO_ACCOUNT, Config
from campaigner.errors import CampaignStopped, StateError
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox, SandboxSettings, run_sandbox
from campaigner.store.store import Store

DEMO_KEY_ENV = "CAMPAIGNER_DEMO_API_KEY"
DEMO_SECRET_ENV = "CAMPAIGNER_DEMO_WEBHOOK_SECRET"
DEMO_SECRET = "demo-webhook-secret"
# The sandbox's scaled limits: 20 requests and 20 messages a second, so the demo takes seconds.
DEMO_RPM = 1200
DEMO_MPS = 20
# Receipts may lag the last send by the sandbox's delivery delays; give up waiting after this.
RECEIPTS_WAIT = 15.0
# Numbers of the example that the sandbox reports undeliverable, to show both kinds of receipt.
UNREACHABLE = {"+31632684656", "+32488293557", "+31648906410"}


def example_files() -> tuple[Path, Path]:
    """The bundled example recipients CSV and message."""
    folder = resources.files("campaigner") / "examples"
    return Path(str(folder / "recipients.csv")), Path(str(folder / "message.txt"))


def demo_config(base: Config, sandbox: RunningSandbox, public_url: str) -> Config:
    """`base` with its provider pointed at the in-process sandbox and receipts at our webhook server."""
    provider = base.provider.model_copy(
        update={
            "type": "cliqtel",
            # Its own account: its own rate schedule rows, and campaigns no real daemon or run takes.
            "account": DEMO_ACCOUNT,
            "base_url": sandbox.cliqtel_url,
            "api_key_env": DEMO_KEY_ENV,
            "webhook_secret_env": DEMO_SECRET_ENV,
            "sender": "+3197010203040",
            "sender_number_id": None,
            "requests_per_minute": float(DEMO_RPM),
            "request_window": 60.0,
            "messages_per_second": float(DEMO_MPS),
            "recipients_per_request": 1,
        }
    )
    daemon = base.daemon.model_copy(update={"public_url": public_url})
    return base.model_copy(update={"provider": provider, "daemon": daemon})


@contextlib.asynccontextmanager
async def webhook_server(store: Store, config: Config) -> AsyncIterator[str]:
    """The daemon's HTTP routes on a free local port; yields its base URL."""
    from campaigner.app.http import build_http_app

    provider = make_provider(config.provider)
    app = build_http_app(store, {config.provider.account: provider}, config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await provider.close()


async def wait_for_receipts(store: Store, campaign_id: int, console: Console) -> dict[str, int]:
    """Show receipts arriving until every submitted job has one, or RECEIPTS_WAIT passes."""
    from campaigner.inbound.receipts import apply_pending_receipts

    deadline = time.monotonic() + RECEIPTS_WAIT
    shown = None
    account = (await store.get_campaign(campaign_id)).provider_account
    while True:
        await apply_pending_receipts(store, account)
        counts = await store.job_counts(campaign_id)
        delivered, undelivered = counts.get("delivered", 0), counts.get("undelivered", 0)
        line = (
            f"receipts: delivered {delivered:,}  undelivered {undelivered:,}"
            f"  awaiting {counts.get('submitted', 0):,}"
        )
        if line != shown:
            console.print(line, highlight=False)
            shown = line
        if counts.get("submitted", 0) == 0 or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.5)


async def _cancel(store: Store, campaign_id: int) -> None:
    """Cancel the demo's campaign unless it already ended (completed while the signal came)."""
    with contextlib.suppress(StateError):
        await store.cancel_campaign(campaign_id)


async def run_demo(base: Config, console: Console | None = None) -> dict[str, int]:
    """Run the whole demo; returns the final count of jobs per state."""
    console = console or Console(stderr=True)
    os.environ[DEMO_KEY_ENV] = SandboxSettings().full_key  # the sandbox's own test key, not a secret
    os.environ[DEMO_SECRET_ENV] = DEMO_SECRET
    settings = SandboxSettings(
        requests_per_minute=DEMO_RPM,
        messages_per_second=DEMO_MPS,
        webhook_secret=DEMO_SECRET,
        sent_delay=0.3,
        delivered_delay=0.7,
        unreachable=set(UNREACHABLE),
    )
    recipients, message = example_files()
    store = await Store.open(base)
    try:
        async with run_sandbox(settings) as sandbox:
            console.print(f"[bold]sandbox provider[/] on {sandbox.url} ({DEMO_RPM}/min, {DEMO_MPS} msg/s)")
            async with webhook_server(store, demo_config(base, sandbox, "")) as public_url:
                config = demo_config(base, sandbox, public_url)
                console.print(f"[bold]webhooks[/] on {public_url} (signed delivery receipts)")
                source = CampaignSource(
                    recipients=recipients,
                    message=message.read_text(encoding="utf-8").rstrip("\r\n"),
                    message_source=str(message),
                    name="demo",
                    region="NL",
                )
                campaign_id, preview = await load_campaign(store, config, source)
                try:
                    with sigterm_interrupts():
                        render_preview(preview, console)
                        console.print(f"[bold]sending[/] campaign {campaign_id}: {preview.sendable} messages")
                        report = await run_in_foreground(store, config, campaign_id, console=console)
                except BaseException as exc:  # a signal (CampaignStopped, CancelledError) or an error
                    await _cancel(store, campaign_id)
                    if isinstance(exc, CampaignStopped):
                        # Not run_in_foreground's "`campaigner run N` continues it": nothing may.
                        raise CampaignStopped(
                            f"demo stopped before the end; its campaign {campaign_id} is cancelled"
                        ) from None
                    raise
                counts = await wait_for_receipts(store, campaign_id, console)
                spent = await store.cost_so_far(campaign_id)
                console.print(
                    f"[bold]campaign {campaign_id} {report.state}[/]: "
                    + ", ".join(f"{state} {n:,}" for state, n in sorted(counts.items()))
                    + f"; cost {spent:.2f} {preview.currency}"
                    + f"; sandbox balance {sandbox.state.balance:.2f} EUR",
                    highlight=False,
                )
                console.print(f"see it again with: campaigner status {campaign_id}", highlight=False)
                return counts
    finally:
        await store.close()
