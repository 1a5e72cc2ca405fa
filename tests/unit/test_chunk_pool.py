"""ChunkPool: worker processes answer chunks in order, and their failures reach the parent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from campaigner.errors import UserError
from campaigner.planning.chunk_pool import ChunkPool
from campaigner.planning.chunks import ChunkPlanner, ChunkSpec

SPEC = ChunkSpec(
    region="NL",
    excluded_types=(),
    message="Hi {name}",
    headers=("phone", "name"),
    phone_index=0,
    empty_value="reject",
    smart_encoding=False,
    max_body_chars=1600,
)


def _chunks() -> list[list[list[str]]]:
    return [[[f"06 {12345000 + c * 10 + i}", f"n{i}" if i % 3 else ""] for i in range(10)] for c in range(9)]


def test_results_come_back_in_order_as_planned_in_process() -> None:
    pool = ChunkPool(2, SPEC)
    try:
        for chunk in _chunks():
            pool.submit(chunk)
        got = [pool.result() for _ in _chunks()]
    finally:
        pool.close()
    expected = [ChunkPlanner(SPEC).plan(chunk) for chunk in _chunks()]
    assert got == expected
    assert len(pool) == 0


def test_an_error_in_a_worker_is_raised_in_the_parent() -> None:
    pool = ChunkPool(1, SPEC)
    try:
        pool.submit([[12345, "x"]])  # type: ignore[list-item]  # not a string: the worker fails
        with pytest.raises((TypeError, AttributeError)):
            pool.result()
        pool.submit(_chunks()[0])  # the worker carries on with the next chunk
        assert len(pool.result()) == 10
    finally:
        pool.close()


def test_a_spec_the_worker_cannot_use_fails_its_first_chunk() -> None:
    pool = ChunkPool(1, replace(SPEC, message="Hi {missing}"))  # no such column
    try:
        pool.submit(_chunks()[0])
        with pytest.raises(UserError):
            pool.result()
    finally:
        pool.close()


def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    pool = ChunkPool(1, SPEC)
    try:
        pool._procs[0].kill()
        pool._procs[0].wait()
        with pytest.raises(RuntimeError, match="exited unexpectedly"):
            pool.submit(_chunks()[0])
            pool.result()
    finally:
        pool.close(kill=True)
