"""systemd's readiness protocol, without a dependency: datagrams to `$NOTIFY_SOCKET`.

    notify("READY=1")       # the listeners are up: `systemctl start` returns, After= units start
    notify("STOPPING=1")    # shutting down: systemd waits (TimeoutStopSec) instead of guessing

Outside a `Type=notify` unit NOTIFY_SOCKET is unset and every call does nothing. A socket that
cannot be reached is logged once at DEBUG and otherwise ignored: a failed notification must never
stop the daemon (systemd itself then reports the start as timed out).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)

SOCKET_ENV = "NOTIFY_SOCKET"


def notify(*states: str) -> bool:
    """Send `states` (e.g. "READY=1", "STATUS=carrying 2 campaigns") as one message; True if sent."""
    address = os.environ.get(SOCKET_ENV, "")
    if not address or not states:
        return False
    if address.startswith("@"):  # a socket in the abstract namespace (Linux): a leading NUL byte
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(states).encode("utf-8"), address)
    except OSError as exc:
        log.debug("sd_notify to %s failed: %s", address, exc)
        return False
    return True
