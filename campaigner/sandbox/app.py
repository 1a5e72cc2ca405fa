"""Build the sandbox's aiohttp application and run it on a port (0: any free port).

Mounts:
  /api/v1/...      Cliqtel (SMS API at /api/v1/sms, portal at /api/v1/portal/sms)
  /clickatell/...  Clickatell REST v2 as its document shows it (/clickatell/rest/message, ...)
  /clicksend/...   ClickSend v3 (/clicksend/v3/numbers)
  /_sandbox/...    stats, config, reset, inbound injection

In-process use (tests, `campaigner demo`):

    async with run_sandbox(settings) as sb:
        sb.cliqtel_url, sb.clickatell_url, sb.clicksend_url, sb.state.snapshot()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from campaigner.sandbox.callbacks import PROGRESSION, Progression
from campaigner.sandbox.cliqtel_routes import cliqtel_app
from campaigner.sandbox.common import STATE
from campaigner.sandbox.control_routes import control_app
from campaigner.sandbox.settings import SandboxSettings
from campaigner.sandbox.state import SandboxState

CLIQTEL_PATH = "/api/v1/sms"
CLICKATELL_PATH = "/clickatell"
CLICKSEND_PATH = "/clicksend"


def build_app(state: SandboxState) -> web.Application:
    """The whole sandbox as one aiohttp application around `state`."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = state
    app[PROGRESSION] = Progression(state)

    async def progression(app: web.Application) -> AsyncIterator[None]:
        await app[PROGRESSION].start()
        yield
        await app[PROGRESSION].stop()

    app.cleanup_ctx.append(progression)
    app.add_subapp("/api/v1", cliqtel_app(state))
    _mount_optional(app, state)
    app.add_subapp("/_sandbox", control_app())
    return app


def _mount_optional(app: web.Application, state: SandboxState) -> None:
    # The Clickatell and ClickSend modules are mounted when present (they land after Cliqtel's).
    try:
        from campaigner.sandbox.clickatell_routes import clickatell_app
    except ImportError:
        pass
    else:
        app.add_subapp(CLICKATELL_PATH, clickatell_app(state))
    try:
        from campaigner.sandbox.clicksend_routes import clicksend_app
    except ImportError:
        pass
    else:
        app.add_subapp(CLICKSEND_PATH, clicksend_app(state))


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    """A sandbox listening on `url`; `state` is the live account (settings, store, stats)."""

    url: str
    state: SandboxState
    host: str
    port: int

    @property
    def cliqtel_url(self) -> str:
        """Base URL of the Cliqtel SMS API (what `provider.base_url` should be)."""
        return self.url + CLIQTEL_PATH

    @property
    def portal_url(self) -> str:
        """Base URL of the Cliqtel portal SMS API (POST {portal_url}/send)."""
        return self.url + "/api/v1/portal/sms"

    @property
    def clickatell_url(self) -> str:
        """Base URL of the Clickatell REST API (POST {clickatell_url}/rest/message)."""
        return self.url + CLICKATELL_PATH

    @property
    def clicksend_url(self) -> str:
        """Base URL of the ClickSend API (GET {clicksend_url}/v3/numbers)."""
        return self.url + CLICKSEND_PATH

    @property
    def settings(self) -> SandboxSettings:
        """The live settings (changing them takes effect on the next request)."""
        return self.state.settings


async def start_sandbox(
    settings: SandboxSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, RunningSandbox]:
    """Start serving; returns the runner (call `runner.cleanup()` to stop) and the running sandbox."""
    state = SandboxState(settings)
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound_port = runner.addresses[0][1] if runner.addresses else port
    url_host = f"[{host}]" if ":" in host else host
    return runner, RunningSandbox(f"http://{url_host}:{bound_port}", state, host, bound_port)


@contextlib.asynccontextmanager
async def run_sandbox(
    settings: SandboxSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Run a sandbox for the duration of the block (port 0: a free port, see `sb.url`)."""
    runner, sandbox = await start_sandbox(settings, host, port)
    try:
        yield sandbox
    finally:
        await runner.cleanup()
