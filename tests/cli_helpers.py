"""`campaigner ...` run in this process through the console script's own `main()`.

A subprocess pays Python's start-up and campaigner's imports (about a second on the test machine)
for each command; this runs the same `campaigner.cli.main.main` the console script runs, with the
environment, working directory, standard input and output of a subprocess of its own, and returns
what `subprocess.run(..., capture_output=True, text=True)` would. It runs in a thread of its own, so
the command's `asyncio.run` never meets the test's event loop. Each test file that uses it keeps at
least one test through a real subprocess (the entry point, the interpreter's own exit).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

from campaigner.cli.main import main

_one_at_a_time = threading.Lock()  # the environment, the directory and sys.std* are the process's


class _Output(io.TextIOWrapper):
    """A text stream over bytes, as a pipe's: not a terminal, with a `.buffer`."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="strict", newline=None, write_through=True)

    def text(self) -> str:
        self.flush()
        raw = self.buffer.getvalue()  # type: ignore[attr-defined]
        return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


def run_in_process(
    args: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    stdin: bytes = b"",
) -> subprocess.CompletedProcess[str]:
    """`campaigner *args` as a subprocess with exactly `env` (like subprocess.run's env=) would run."""
    with _one_at_a_time:
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        saved_std = sys.stdin, sys.stdout, sys.stderr
        out, err = _Output(), _Output()
        code: list[int] = []

        def command() -> None:
            try:
                main(list(args))
                code.append(0)
            except SystemExit as exit_:
                status = exit_.code
                if status is None:
                    code.append(0)
                elif isinstance(status, int):
                    code.append(status)
                else:  # sys.exit("message"): the interpreter prints it and exits 1
                    print(status, file=sys.stderr)
                    code.append(1)
            except BaseException:  # what the interpreter would print before exiting 1
                traceback.print_exc(file=sys.stderr)
                code.append(1)

        try:
            os.environ.clear()
            os.environ.update(env)
            if cwd is not None:
                os.chdir(cwd)
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
            sys.stdout, sys.stderr = out, err
            thread = threading.Thread(target=command, name="campaigner " + " ".join(args[:1]))
            thread.start()
            thread.join()
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_std
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        return subprocess.CompletedProcess(["campaigner", *args], code[0], out.text(), err.text())
