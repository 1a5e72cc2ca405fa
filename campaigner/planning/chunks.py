"""The per-row work of planning, done on chunks of rows, in worker processes or in-process.

A chunk is a list of CSV rows (lists of cells). For each row `ChunkPlanner` returns either a
rejection `(reason, detail)` or a planned message `(e164, country, body, encoding, segments,
saved)`; nothing it does depends on other rows, so chunks can be handed to several processes
and the results merged in file order by the parent (which alone does dedupe and suppression,
see campaigner.planning.planner). Checks, first match wins: malformed (cell count), invalid and
not_sms_capable (campaigner.planning.phones), empty_value and too_long (the rendered message, with
the opt-out footer when there is one: it is sent, so it is counted and priced).

Everything expensive is cached: the phone verdict by raw string, the segment count (with and
without smart encoding) by rendered body, which repeats a lot when few columns are personalised.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Final, Literal

from campaigner.planning.phones import OK, PhoneClassifier
from campaigner.planning.recipients import MALFORMED, ragged_reason
from campaigner.text.segments import count_segments, smart_encode
from campaigner.text.templates import EmptyValue, Template

EMPTY_VALUE: Final = "empty_value"
TOO_LONG: Final = "too_long"
_BODY_CACHE_LIMIT: Final = 20_000

# (reason, detail) or (e164, country, body, encoding, segments, saved_segments)
RowResult = tuple[str, str] | tuple[str, str | None, str, str, int, int]


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """Everything a worker needs to plan rows; small and picklable (sent once per worker)."""

    region: str | None
    excluded_types: tuple[str, ...]
    message: str
    headers: tuple[str, ...]
    phone_index: int
    empty_value: Literal["reject", "empty"]
    smart_encoding: bool
    max_body_chars: int
    # The most segments the provider sends of one message (Clickatell's maxMessageParts), or None.
    max_segments: int | None = None
    # The opt-out footer ("Reply STOP to opt out"), on a line of its own after every body ("": none).
    footer: str = ""


class ChunkPlanner:
    """Plans chunks of rows for one spec; keeps caches, so make one per process."""

    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec
        self.classifier = PhoneClassifier(spec.region, spec.excluded_types)
        self.template = Template.parse(spec.message)
        # Already checked against these headers by the parent; binding again is cheap.
        self.template.check_columns(list(spec.headers), "recipients")
        self._bodies: dict[str, tuple[str, str, int, int]] = {}

    def plan(self, rows: list[list[str]]) -> list[RowResult]:
        """One result per row, in order (see the module docstring for their shapes)."""
        spec = self.spec
        width = len(spec.headers)
        phone_index = spec.phone_index
        classify = self.classifier.classify
        render = self.template.render_row
        empty = spec.empty_value
        bodies = self._bodies
        footer = "\n" + spec.footer if spec.footer else ""
        out: list[RowResult] = []
        append = out.append
        for cells in rows:
            if len(cells) != width:
                ragged = ragged_reason(cells, width)
                if ragged:
                    append((MALFORMED, ragged))
                    continue
            phone = classify(cells[phone_index])
            if phone.status != OK:
                append((phone.status, phone.detail))
                continue
            try:
                body = render(cells, empty)
            except EmptyValue as exc:
                append((EMPTY_VALUE, f"column {exc.column!r} is empty"))
                continue
            body += footer  # before counting: the footer costs segments like the rest of the text
            counted = bodies.get(body)
            if counted is None:
                counted = self._count(body)
            sent, encoding, segments, saved = counted
            if len(sent) > spec.max_body_chars:
                append((TOO_LONG, f"{len(sent)} characters; the provider accepts {spec.max_body_chars}"))
                continue
            if spec.max_segments is not None and segments > spec.max_segments:
                limit = spec.max_segments
                append(
                    (TOO_LONG, f"{segments} segments; the provider sends at most {limit} (max_message_parts)")
                )
                continue
            append((phone.e164 or "", phone.country, sent, encoding, segments, saved))
        return out

    def _count(self, body: str) -> tuple[str, str, int, int]:
        """(body as sent, encoding, segments, segments saved by smart encoding or that it would save)."""
        before = count_segments(body)
        saved = 0
        sent = body
        if before.encoding != "GSM-7":
            # Smart encoding only replaces non-GSM characters: a GSM-7 body has nothing to gain.
            encoded = smart_encode(body)
            if encoded != body:
                after = count_segments(encoded)
                saved = before.segments - after.segments
                if self.spec.smart_encoding:
                    sent, before = encoded, after
        result = (sent, before.encoding, before.segments, saved)
        if len(self._bodies) >= _BODY_CACHE_LIMIT:
            self._bodies.clear()
        self._bodies[body] = result
        return result


# The planner of this worker process, built once by `init_worker`.
_WORKER: ChunkPlanner | None = None


def init_worker(spec: ChunkSpec) -> None:
    """Process-pool initializer: build this process's planner (and its caches) once."""
    global _WORKER
    _WORKER = ChunkPlanner(spec)
    # This process only plans rows: its caches are the only long-lived objects, and the cyclic
    # collector walking them over and over costs ~20% of the time. Collect far less often.
    gc.set_threshold(50_000, 50, 1000)


def plan_in_worker(rows: list[list[str]]) -> list[RowResult]:
    """Process-pool task: plan one chunk with this process's planner."""
    if _WORKER is None:
        raise RuntimeError("plan_in_worker called before init_worker")
    return _WORKER.plan(rows)
