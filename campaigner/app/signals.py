"""SIGINT/SIGTERM for a foreground run or the daemon: the first stops gracefully, the second at once.

Handlers are installed when the loop runs and the old ones restored after (nothing is installed in a
constructor). Stopping at once is safe: whatever was in flight stays in `sending` and the next run
reconciles it with the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def graceful_signals(
    on_first: Callable[[], None], announce: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM calls `on_first`; a second exits the process now."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            message = f"{name}: finishing in-flight sends; send it again to stop at once"
            (announce or log.warning)(message)
            on_first()
        else:
            (announce or log.warning)(f"{name} again: stopping now; the next run reconciles in-flight jobs")
            os._exit(130)

    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, handle, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as SIGINT does, instead of ending the
    process on the spot: a command can then say what it leaves behind (a kept draft, a cancelled
    demo). A `graceful_signals` block inside takes over both signals while it lasts."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
