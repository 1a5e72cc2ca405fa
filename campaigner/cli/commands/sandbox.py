"""`campaigner sandbox`: run the local provider (Cliqtel, Clickatell, ClickSend APIs) until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import click

from campaigner.errors import UserError


def _option(name: str, env: str, **kwargs: Any) -> Any:
    return click.option(name, envvar=f"CAMPAIGNER_SANDBOX_{env}", show_envvar=True, **kwargs)


def _rate(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise UserError(f"--{name}: a probability between 0 and 1, got {value}")
    return value


@click.command("sandbox")
@_option("--host", "HOST", default="127.0.0.1", help="Address to listen on.")
@_option("--port", "PORT", type=click.IntRange(0, 65535), default=8025, help="Port (0: any free port).")
@_option("--rpm", "RPM", type=click.IntRange(min=1), default=60, help="Requests per key per window.")
@_option("--rpm-window", "RPM_WINDOW", type=click.FloatRange(min=0.001), default=60.0, help="Seconds.")
@_option("--mps", "MPS", type=click.IntRange(min=1), default=10, help="Messages per account per window.")
@_option("--mps-window", "MPS_WINDOW", type=click.FloatRange(min=0.001), default=1.0, help="Seconds.")
@_option("--no-limits", "NO_LIMITS", is_flag=True, help="Count but never answer 429 (benchmarks).")
@_option("--balance", "BALANCE", type=float, default=100.0, help="Wallet in EUR.")
@_option("--credits", "CREDITS", type=float, default=1_000_000.0, help="Clickatell wallet in credits.")
@_option("--fault-rate", "FAULT_RATE", type=float, default=0.0, help="Share of sends answered 500.")
@_option("--unavailable-rate", "UNAVAILABLE_RATE", type=float, default=0.0, help="Share answered 503.")
@_option("--reset-rate", "RESET_RATE", type=float, default=0.0, help="Share reset before processing.")
@_option(
    "--reply-lost-rate", "REPLY_LOST_RATE", type=float, default=0.0, help="Share stored, then reply dropped."
)
@_option(
    "--error-after-rate", "ERROR_AFTER_RATE", type=float, default=0.0, help="Share stored, then answered 500."
)
@_option(
    "--bad-gateway-after-rate",
    "BAD_GATEWAY_AFTER_RATE",
    type=float,
    default=0.0,
    help="Share stored, then answered 502.",
)
@_option("--slow-rate", "SLOW_RATE", type=float, default=0.0, help="Share answered after --slow-seconds.")
@_option("--slow-seconds", "SLOW_SECONDS", type=float, default=2.0, help="Delay of a slow reply.")
@_option("--seed", "SEED", type=int, default=None, help="Seed of the fault RNG (reproducible runs).")
@_option("--sent-delay", "SENT_DELAY", type=float, default=1.0, help="Seconds from queued to sent.")
@_option("--delivered-delay", "DELIVERED_DELAY", type=float, default=2.0, help="Seconds from sent to final.")
@_option("--inbound-url", "INBOUND_URL", default="", help="Where injected inbound SMS are POSTed.")
@_option(
    "--pagination",
    "PAGINATION",
    type=click.Choice(["meta", "laravel"]),
    default="meta",
    help="Shape of /api/v1/sms/messages pages.",
)
@_option("--full-key", "FULL_KEY", default="17|sandbox-full-access-key", help="Full-access API key.")
@_option("--read-key", "READ_KEY", default="18|sandbox-read-only-key", help="Read-only API key.")
@_option("--webhook-secret", "WEBHOOK_SECRET", default="sandbox-webhook-secret", help="Callback HMAC key.")
@_option("--error-style", "ERROR_STYLE", type=click.Choice(["nested", "flat"]), default="nested")
def sandbox_command(**options: Any) -> None:
    """Run a local SMS provider speaking Cliqtel's, Clickatell's and ClickSend's APIs.

    It prints its URLs and test keys, then serves until SIGINT or SIGTERM. Limits, faults and the
    wallet can also be changed while it runs: POST /_sandbox/config; figures at GET /_sandbox/stats.
    """
    from campaigner.sandbox import SandboxSettings

    settings = SandboxSettings(
        requests_per_minute=options["rpm"],
        request_window=options["rpm_window"],
        messages_per_second=options["mps"],
        message_window=options["mps_window"],
        enforce_limits=not options["no_limits"],
        balance=options["balance"],
        clickatell_credits=options["credits"],
        fault_500_rate=_rate(options["fault_rate"], "fault-rate"),
        fault_503_rate=_rate(options["unavailable_rate"], "unavailable-rate"),
        reset_rate=_rate(options["reset_rate"], "reset-rate"),
        reply_lost_rate=_rate(options["reply_lost_rate"], "reply-lost-rate"),
        slow_rate=_rate(options["slow_rate"], "slow-rate"),
        error_after_rate=_rate(options["error_after_rate"], "error-after-rate"),
        bad_gateway_after_rate=_rate(options["bad_gateway_after_rate"], "bad-gateway-after-rate"),
        slow_seconds=options["slow_seconds"],
        seed=options["seed"],
        sent_delay=options["sent_delay"],
        delivered_delay=options["delivered_delay"],
        inbound_url=options["inbound_url"],
        pagination=options["pagination"],
        error_style=options["error_style"],
        full_key=options["full_key"],
        read_key=options["read_key"],
        webhook_secret=options["webhook_secret"],
    )
    asyncio.run(_serve(settings, options["host"], options["port"]))


async def _serve(settings: Any, host: str, port: int) -> None:
    from campaigner.heap import freeze_startup_objects
    from campaigner.sandbox import start_sandbox

    try:
        runner, sb = await start_sandbox(settings, host, port)
    except OSError as exc:
        raise UserError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    s = sb.settings
    lines = [
        f"campaigner sandbox listening on {sb.url}",
        f"  Cliqtel SMS API   {sb.cliqtel_url}   (portal: {sb.portal_url})",
        f"  Clickatell REST   {sb.clickatell_url}/rest/message   (X-Version: 1)",
        f"  ClickSend v3      {sb.clicksend_url}/v3/numbers",
        f"  control           {sb.url}/_sandbox/stats | /config | /reset | /inbound",
        f"  full-access key   {s.full_key}",
        f"  read-only key     {s.read_key}",
        f"  ClickSend auth    {s.clicksend_username}:{s.clicksend_key}",
        f"  webhook secret    {s.webhook_secret}",
        f"  sender            {', '.join(n.number for n in s.numbers if n.sms_enabled)}",
        f"  limits            {s.requests_per_minute} requests / {s.request_window:g} s per key, "
        f"{s.messages_per_second} messages / {s.message_window:g} s"
        + ("" if s.enforce_limits else " (not enforced)"),
    ]
    # These are the sandbox's own made-up test keys, printed on purpose so a user can copy them.
    click.echo("\n".join(lines), nl=True)
    # A provider stamps arrivals as they come; a collector pause would stamp a queue at once.
    freeze_startup_objects()
    try:
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        click.echo("sandbox stopped", err=True)


def register(group: click.Group) -> None:
    """Add `campaigner sandbox` to `group`."""
    group.add_command(sandbox_command)
