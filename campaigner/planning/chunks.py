"""The per-row work of planning, done on chunks of rows, in worker processes or in-process.

A chunk is a list of CSV rows (lists of cells). For each row `ChunkPlanner` returns either a
rejection `(reason, detail)` or a planned message `(e164, country, body, encoding, segments,
saved)`; nothing it does depends on other rows, so chunks can be handed to several processes
and the results merged in file order by the parent (which alone does dedupe and suppression,
see campaigner.planning.planner). Checks, first match wins: malformed (cell count), invalid and
not_sms_capable (campaigner.planning.phones), empty_value, bad_link (a per-recipient link URL
that is not one) and too_long (the rendered message, with the opt-out footer when there is one
and the short links in it: what is sent is what is counted and priced).

Short links (campaigner.text.links): each row gets a fresh code per link of the template. The
segment count depends only on the short URL's length, never on its code, so the body is counted
with a fixed stand-in code (and the count cached as before), and rendered again with the real
codes; the long form (the targets written out) is counted too, for what the preview says
shortening saved.

Everything expensive is cached: the phone verdict by raw string, the segment count (with and
without smart encoding) by rendered body, which repeats a lot when few columns are personalised.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Final, Literal

from campaigner.planning.phones import OK, PhoneClassifier
from campaigner.planning.ragged import MALFORMED, ragged_reason
from campaigner.text.links import CodeSource, LinkTarget, short_url
from campaigner.text.segments import count_segments, smart_encode
from campaigner.text.templates import EmptyValue, Template

EMPTY_VALUE: Final = "empty_value"
TOO_LONG: Final = "too_long"
BAD_LINK: Final = "bad_link"
_BODY_CACHE_LIMIT: Final = 20_000

# A recipient's link: (code, link name, target, short URL as the body shows it).
RowLink = tuple[str, str, str, str]
# (reason, detail) or (e164, country, body, encoding, segments, saved_segments, links,
# segments of the long form: the body with the targets instead of the short links)
RowResult = tuple[str, str] | tuple[str, str | None, str, str, int, int, tuple[RowLink, ...], int]


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
    # The template's links, in the order of Template.links, and how their short URLs look.
    links: tuple[LinkTarget, ...] = ()
    link_base: str = ""
    code_length: int = 8
    show_scheme: bool = True


class ChunkPlanner:
    """Plans chunks of rows for one spec; keeps caches, so make one per process."""

    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec
        self.classifier = PhoneClassifier(spec.region, spec.excluded_types)
        self.template = Template.parse(spec.message)
        # Already checked against these headers by the parent; binding again is cheap.
        self.template.check_columns(list(spec.headers), "recipients")
        self._bodies: dict[str, tuple[str, str, int, int]] = {}
        self._long: dict[str, int] = {}
        self._codes = CodeSource(spec.code_length)
        # The stand-in a body is counted with: the same length as every real short URL.
        self._stand_in = short_url(spec.link_base, "0" * spec.code_length, show_scheme=spec.show_scheme)
        # A short URL is this prefix and the code (short_url's rule, worked out once, not a row).
        self._url_prefix = short_url(spec.link_base, "", show_scheme=spec.show_scheme)
        # Long forms repeat only when no target is per-recipient: otherwise caching them is waste.
        self._cache_long = not any(link.fields for link in spec.links)

    def plan(self, rows: list[list[str]]) -> list[RowResult]:
        """One result per row, in order (see the module docstring for their shapes)."""
        spec = self.spec
        width = len(spec.headers)
        phone_index = spec.phone_index
        classify = self.classifier.classify
        render = self.template.render_row
        row_values, render_values = self.template.row_values, self.template.render_values
        stand_ins = [self._stand_in] * len(self.spec.links)
        empty = spec.empty_value
        bodies = self._bodies
        footer = "\n" + spec.footer if spec.footer else ""
        links = spec.links
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
            targets: list[str] = []
            if links:
                bad = self._targets(cells, targets)
                if bad is not None:
                    append((BAD_LINK, f"link {bad!r}: the cell is not an http:// or https:// URL"))
                    continue
            try:
                if links:
                    # The cells are read and checked once; the body is formatted with a stand-in
                    # (to count), with the short URLs (to send) and with the targets (the long form).
                    values = row_values(cells, empty)
                    body = render_values(values, stand_ins)
                else:
                    body = render(cells, empty)
            except EmptyValue as exc:
                append((EMPTY_VALUE, f"column {exc.column!r} is empty"))
                continue
            body += footer  # before counting: the footer costs segments like the rest of the text
            counted = bodies.get(body)
            if counted is None:
                counted = self._count(body)
            sent, encoding, segments, saved = counted
            row_links: tuple[RowLink, ...] = ()
            long_segments = segments
            if links:
                row_links, sent = self._shorten(values, targets, sent != body, footer)
                long_segments = self._long_segments(render_values(values, targets) + footer)
            if len(sent) > spec.max_body_chars:
                append((TOO_LONG, f"{len(sent)} characters; the provider accepts {spec.max_body_chars}"))
                continue
            if spec.max_segments is not None and segments > spec.max_segments:
                limit = spec.max_segments
                append(
                    (TOO_LONG, f"{segments} segments; the provider sends at most {limit} (max_message_parts)")
                )
                continue
            append(
                (phone.e164 or "", phone.country, sent, encoding, segments, saved, row_links, long_segments)
            )
        return out

    def _targets(self, cells: list[str], targets: list[str]) -> str | None:
        """Fill `targets` with this row's link URLs; the name of a link that has none, or None."""
        for link in self.spec.links:
            target = link.target(cells)
            if target is None:
                return link.name
            targets.append(target)
        return None

    def _shorten(
        self, values: list[str], targets: list[str], smart: bool, footer: str
    ) -> tuple[tuple[RowLink, ...], str]:
        """This row's codes, and its body with them (smart-encoded again if the counted one was)."""
        spec = self.spec
        row_links = []
        urls = []
        next_code, prefix = self._codes.next, self._url_prefix
        for link, target in zip(spec.links, targets, strict=True):
            code = next_code()
            url = prefix + code
            row_links.append((code, link.name, target, url))
            urls.append(url)
        body = self.template.render_values(values, urls) + footer
        if smart:
            body = smart_encode(body)
        return tuple(row_links), body

    def _long_segments(self, body: str) -> int:
        """Segments of the message with its links written out (what shortening saves against)."""
        found = self._long.get(body) if self._cache_long else None
        if found is None:
            found = count_segments(smart_encode(body) if self.spec.smart_encoding else body).segments
            if not self._cache_long:
                return found
            if len(self._long) >= _BODY_CACHE_LIMIT:
                self._long.clear()
            self._long[body] = found
        return found

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
