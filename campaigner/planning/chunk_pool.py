"""Worker processes that plan chunks of rows: plain subprocesses fed pickles through their pipes.

Why not multiprocessing's ProcessPoolExecutor, which this replaces: memory, for the preview of 10M
rows to stay within 300 MB over all its processes. Under the spawn start method (fork is unsafe
with threads) multiprocessing starts one more process, the resource tracker (13 MB, for the
executor's semaphores), and each worker imports the parent's main module again: under the
`campaigner` console script that is the whole command line (about 50 MB a worker, against 18 MB
for what planning needs). Here a worker is `python -c` of a few lines that imports
campaigner.planning.chunks and nothing else.

The protocol, on the worker's stdin and stdout: messages are an 8-byte length and a pickle. First
the ChunkSpec, then one list of rows per chunk; the worker answers each chunk, in order, with
(True, results) or (False, the exception). EOF on stdin ends it. A thread in the worker reads its
stdin while it plans, so the parent can send a chunk while the worker is still writing the answer
to an earlier one (without it, both would wait on a full pipe). Chunks go round-robin, so the
answers come back in file order by reading the workers in the same turn.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from queue import SimpleQueue
from typing import IO, Any

from campaigner.planning.chunks import ChunkSpec, RowResult, init_worker, plan_in_worker

_LENGTH = struct.Struct("<Q")

# Run by each worker: the parent's sys.path (as multiprocessing's spawn passes it), then serve().
_BOOT = "import sys; sys.path[:] = {path!r}; from campaigner.planning.chunk_pool import serve; serve()"


def _send(out: IO[bytes], message: object) -> None:
    _write(out, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _write(out: IO[bytes], data: bytes) -> None:
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(source: IO[bytes]) -> Any:
    """The next message, or raise EOFError when the other side has gone."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = source.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class ChunkPool:
    """`workers` processes planning chunks for one spec; `submit` rows, take `result`s in order."""

    def __init__(self, workers: int, spec: ChunkSpec) -> None:
        command = [sys.executable, *subprocess._args_from_interpreter_flags(), "-c"]  # type: ignore[attr-defined]
        command.append(_BOOT.format(path=sys.path))
        self._procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(workers):
                proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                self._procs.append(proc)
                assert proc.stdin is not None
                _send(proc.stdin, spec)
        except BaseException:
            self.close(kill=True)
            raise
        self._next_in = 0
        # The worker of each chunk sent and not yet answered, oldest first.
        self._pending: deque[subprocess.Popen[bytes]] = deque()

    def __len__(self) -> int:
        """Chunks sent and not yet answered."""
        return len(self._pending)

    def submit(self, rows: list[list[str]]) -> None:
        """Send a chunk to the next worker in turn."""
        proc = self._procs[self._next_in]
        self._next_in = (self._next_in + 1) % len(self._procs)
        assert proc.stdin is not None
        try:
            _send(proc.stdin, rows)
        except BrokenPipeError:
            raise self._gone(proc) from None
        self._pending.append(proc)

    def result(self) -> list[RowResult]:
        """The results of the oldest chunk not yet taken (its worker's exception, raised here)."""
        proc = self._pending.popleft()
        assert proc.stdout is not None
        try:
            ok, payload = _receive(proc.stdout)
        except EOFError:
            raise self._gone(proc) from None
        if not ok:
            raise payload
        return payload

    def _gone(self, proc: subprocess.Popen[bytes]) -> RuntimeError:
        code = proc.wait()
        return RuntimeError(f"a planning worker process exited unexpectedly (exit code {code})")

    def close(self, *, kill: bool = False) -> None:
        """End the workers: EOF on their stdin (they finish and exit), or `kill` them (after an error)."""
        for proc in self._procs:
            if kill:
                proc.kill()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass  # a worker that died leaves a broken pipe behind: nothing to flush
        for proc in self._procs:
            proc.wait()
        self._procs = []


def serve() -> None:
    """A worker's main loop (see the module docstring): plan each chunk read, answer in order."""
    # Ctrl-C reaches the whole process group: the parent handles it and ends its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source = sys.stdin.buffer
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # nothing printed by accident may corrupt the answers
    try:
        spec = _receive(source)
    except EOFError:
        return
    try:
        init_worker(spec)
        failed: Exception | None = None
    except Exception as exc:  # every chunk gets it as its answer: the parent raises it once
        failed = exc
    inbox: SimpleQueue[list[list[str]] | None] = SimpleQueue()
    threading.Thread(target=_read_all, args=(source, inbox), daemon=True).start()
    while (rows := inbox.get()) is not None:
        try:
            if failed is not None:
                raise failed
            data = pickle.dumps((True, plan_in_worker(rows)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # sent to the parent, which raises it
            try:
                data = pickle.dumps((False, exc))
            except Exception:  # an exception that does not pickle: its text, at least
                data = pickle.dumps((False, RuntimeError(f"planning worker: {exc!r}")))
        try:
            _write(out, data)
        except BrokenPipeError:
            return  # the parent has gone (or killed us): nobody to answer


def _read_all(source: IO[bytes], inbox: SimpleQueue[list[list[str]] | None]) -> None:
    try:
        while True:
            inbox.put(_receive(source))
    except EOFError:
        inbox.put(None)
