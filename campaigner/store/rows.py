"""Records to `campaigner.model` types: the one place the store turns an `asyncpg.Record` into ours.

A model per named query keeps callers away from records. Columns a type does not name are ignored;
text columns whose field is one of the state enums become that enum.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from enum import Enum
from functools import cache
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


@cache
def _columns(cls: Any) -> tuple[tuple[str, type[Enum] | None], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        enum = hint if isinstance(hint, type) and issubclass(hint, Enum) else None
        out.append((f.name, enum))
    return tuple(out)


def from_record(cls: type[T], record: asyncpg.Record) -> T:
    """A `cls` (a model dataclass) from the columns of `record` that it names."""
    present = set(record.keys())
    values: dict[str, Any] = {}
    for name, enum in _columns(cls):  # type: ignore[arg-type]
        if name in present:
            value = record[name]
            values[name] = enum(value) if enum is not None and value is not None else value
    return cls(**values)
