"""Fault injection: the failures a real provider shows, drawn with a seedable RNG.

Before processing a request (nothing stored, nothing debited): a 500, a 503, a connection reset,
or, on Clickatell's send route only, Clickatell's error 130 (the account's MT limit is reached until
a time it names; `mt_limit_rate`, `mt_limit_until`).
After processing (the message is stored and debited): a slow reply, a 500 or a 502, or the reply
lost — the
connection is closed without an answer, which the client sees as `ServerDisconnectedError` (or a
payload error) and cannot tell apart from a reset before processing. That case is what separates
exactly-once from at-least-once, so it is counted in `stats.faults["reply_lost"]`.
"""

from __future__ import annotations

import enum
import socket
import struct

from aiohttp import web

from campaigner.sandbox.state import SandboxState


class Fault(enum.StrEnum):
    """One injected failure."""

    ERROR_500 = "500"
    ERROR_503 = "503"
    RESET = "reset"
    SLOW = "slow"
    REPLY_LOST = "reply_lost"
    ERROR_500_AFTER = "500_after"
    ERROR_502_AFTER = "502_after"
    MT_LIMIT = "130"


# The one route the 130 fault is drawn on: the other APIs have no such error.
MT_LIMIT_ROUTE = "clickatell.send"


def before_processing(state: SandboxState, route: str) -> Fault | None:
    """The fault to inject before `route` does anything, or None."""
    s = state.settings
    if route not in s.fault_routes:
        return None
    mt_limit = s.mt_limit_rate if route == MT_LIMIT_ROUTE else 0.0
    total = s.fault_500_rate + s.fault_503_rate + s.reset_rate + mt_limit
    if total <= 0:
        return None
    draw = state.rng.random()
    if draw < s.fault_500_rate:
        return Fault.ERROR_500
    draw -= s.fault_500_rate
    if draw < s.fault_503_rate:
        return Fault.ERROR_503
    draw -= s.fault_503_rate
    if draw < s.reset_rate:
        return Fault.RESET
    draw -= s.reset_rate
    if draw < mt_limit:
        return Fault.MT_LIMIT
    return None


def after_processing(state: SandboxState, route: str) -> Fault | None:
    """The fault to inject once `route` has stored its work (reply lost, or a slow reply), or None."""
    s = state.settings
    rates = (
        (Fault.REPLY_LOST, s.reply_lost_rate),
        (Fault.SLOW, s.slow_rate),
        (Fault.ERROR_500_AFTER, s.error_after_rate),
        (Fault.ERROR_502_AFTER, s.bad_gateway_after_rate),
    )
    if route not in s.fault_routes or all(rate <= 0 for _, rate in rates):
        return None
    draw = state.rng.random()
    for fault, rate in rates:
        if draw < rate:
            return fault
        draw -= rate
    return None


class DropConnection(Exception):
    """Raised by a route to close the client's connection without any response."""

    def __init__(self, reset: bool) -> None:
        super().__init__("connection dropped by fault injection")
        self.reset = reset


def drop(request: web.Request, *, reset: bool) -> None:
    """Close the connection of `request` now: with an RST when `reset`, else a plain close (FIN).

    Nothing of the response has been written, so the client sees the connection end while waiting
    for the status line.
    """
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
    else:
        transport.close()
