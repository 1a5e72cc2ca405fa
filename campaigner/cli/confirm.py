"""The yes/no questions commands ask before they do something that cannot be undone.

    if not confirm("Delete campaign 3 and its 239 jobs?", kept="campaign 3 is kept"):
        ...  # the user said no

Ctrl-C (or the end of input) at the question aborts at once and says what was kept, with exit
code 130. "At once" takes care: the commands ask from inside `asyncio.run`, whose own SIGINT
handler only cancels the main task on a first Ctrl-C, which a prompt blocked in `input()` never
notices (a second Ctrl-C was needed). While the question waits, Ctrl-C raises as usual.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

import click

from campaigner.errors import UserError


def confirm(question: str, *, kept: str) -> bool:
    """Ask `question` (default no) on stderr; Ctrl-C ends the command saying `kept`."""
    try:
        with _plain_ctrl_c():
            return click.confirm(question, default=False, err=True)
    except click.Abort:  # click's answer to Ctrl-C and to the end of input
        click.echo(f"\naborted: {kept}", err=True)
        sys.exit(130)


@contextlib.contextmanager
def _plain_ctrl_c() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt at once inside the block (then the previous handler is back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def need_a_terminal(command: str, instead: str) -> None:
    """Refuse to ask where nobody can answer (no terminal on stdin), naming the flag that skips it."""
    if not sys.stdin.isatty():
        raise UserError(f"{command} asks first, and there is no terminal to ask on: {instead}")
