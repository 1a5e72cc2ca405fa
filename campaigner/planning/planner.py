"""Planning a campaign: recipients CSV + message template → personalised messages, segments, cost.

This is the contract `campaigner preview` and `campaigner create` are built on:

    planner = Planner(config, PlanOptions(csv_path=..., message=...), suppressed=numbers)
    for batch in planner.batches():          # sendable messages, in file order
        ...                                  # e.g. COPY them into the jobs table
    planner.preview                          # complete once batches() is exhausted

Nothing happens in the constructor. `batches()` first opens the file and checks its header, the
phone column and the template's placeholders, so those errors (`UserError`/`InputFileError`)
come before any row is processed. Rows are then planned in chunks, by worker processes when the
file is large (`PlanOptions.workers`), and merged here in file order: a number's first sendable
row is kept, later ones are duplicates; numbers in `suppressed` are set aside. Each rejected row
goes to `on_reject` (if given) and the first few are kept in `preview.first_rejects`.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Container, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from campaigner.config import Config
from campaigner.dispatch.request_sizing import RequestCount, claim_size
from campaigner.errors import InputFileError, UserError
from campaigner.model.jobs import PlannedMessage
from campaigner.planning.chunk_pool import ChunkPool
from campaigner.planning.chunks import (
    BAD_LINK,
    EMPTY_VALUE,
    TOO_LONG,
    ChunkPlanner,
    ChunkSpec,
    RowResult,
)
from campaigner.planning.phones import INVALID, NOT_SMS_CAPABLE
from campaigner.planning.pricing import CostTable, eta_seconds, expiring_at_eta
from campaigner.planning.recipients import (
    DUPLICATE,
    MALFORMED,
    SUPPRESSED,
    Admission,
    RecipientsFile,
    Rejected,
)
from campaigner.providers.registry import capabilities_of, recipients_per_request
from campaigner.text.links import LinkSet, short_url
from campaigner.text.templates import Template

__all__ = [
    "CountryLine",
    "LinkSavings",
    "MergeWarning",
    "PlanOptions",
    "Planner",
    "Preview",
    "RejectLine",
    "Rejected",
    "SmartSavings",
]

# Money in a preview: exact in Python, a JSON number in `--json` and in the stored preview (as
# before), so readers of either see the shape they always had.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

CHUNK_ROWS = 2_000
# Chunks sent to a worker and not yet merged: one it plans and one waiting, so it never idles.
IN_FLIGHT_PER_WORKER = 2
# Below this file size the pool's start-up (≈0.3 s a worker) costs more than it saves.
POOL_MIN_BYTES = 4 << 20
REASONS = (INVALID, NOT_SMS_CAPABLE, DUPLICATE, SUPPRESSED, EMPTY_VALUE, BAD_LINK, TOO_LONG, MALFORMED)


class PlanOptions(BaseModel):
    """What to plan: the file, the message and how to read them (None: from the config)."""

    model_config = ConfigDict(frozen=True)

    csv_path: Path
    message: str
    message_source: str = "message"  # named in template errors: "message" or the file's path
    region: str | None = None
    phone_column: str | None = None
    encoding: str | None = None
    smart_encoding: bool = False
    empty_value: Literal["reject", "empty"] | None = None
    workers: int | None = None  # None: automatic (all CPUs for large files), 0: in this process
    # A row that looks like a stray quote merged others into it is an error, not a warning.
    strict: bool = False
    first_rejects: int = Field(default=20, ge=0)
    # The opt-out footer: None takes [compliance] opt_out_footer, "" sends none (--no-footer).
    footer: str | None = None
    # Seconds the messages stay valid once sending starts (--valid-for / --valid-until), for the
    # preview's warning of what would expire at the provider's limits; None: no deadline.
    valid_for_seconds: float | None = None
    # `--link NAME=URL` definitions, for `{link:NAME}` placeholders.
    links: dict[str, str] = Field(default_factory=dict)


class CountryLine(BaseModel):
    """Recipients, segments and cost to one destination country (None: no known region)."""

    country: str | None
    recipients: int
    segments: int
    cost: Money


class RejectLine(BaseModel):
    """A rejected row as shown in the preview."""

    line: int
    raw: str
    reason: str
    detail: str


class MergeWarning(BaseModel):
    """A row read from several lines that looks like it swallowed the next recipients."""

    first_line: int
    last_line: int
    column: str
    detail: str


class SmartSavings(BaseModel):
    """What smart encoding saved (applied) or would save (not applied)."""

    applied: bool = False
    messages: int = 0  # messages it changes the segment count of
    segments: int = 0
    cost: Money = Decimal(0)


class LinkSavings(BaseModel):
    """The message's short links, and what writing them short saved against the long URLs."""

    links: int = 0  # links per message
    example: str = ""  # a short link as the messages show it (the code is a stand-in)
    short_chars: int = 0  # characters of one short link
    long_chars: int = (
        0  # characters of the longest target written in place (a per-recipient one: the longest seen)
    )
    messages: int = 0  # messages whose segment count the short form lowers
    segments: int = 0  # segments saved over the campaign
    cost: Money = Decimal(0)


class Preview(BaseModel):
    """The totals of a plan; complete once `Planner.batches()` is exhausted."""

    file: str = ""
    phone_column: str = ""
    region: str | None = None
    rows: int = 0
    sendable: int = 0
    invalid: int = 0
    not_sms_capable: int = 0
    duplicates: int = 0
    suppressed: int = 0
    # Of the sendable rows: numbers with no recorded opt-in now, in a campaign that requires one
    # (consent.require_opt_in). They are loaded, and skipped (no_consent) unless an opt-in is
    # recorded before they are claimed; None when the campaign requires none.
    no_consent: int | None = None
    empty_value: int = 0
    bad_link: int = 0
    too_long: int = 0
    malformed: int = 0
    segments_total: int = 0
    cost_total: Money = Decimal(0)
    currency: str = "EUR"
    eta_seconds: float = 0.0
    encodings: dict[str, int] = Field(default_factory=lambda: {"GSM-7": 0, "UCS-2": 0})
    by_country: list[CountryLine] = Field(default_factory=list)
    segments_histogram: dict[int, int] = Field(default_factory=dict)
    smart_encoding: SmartSavings = Field(default_factory=SmartSavings)
    links: LinkSavings = Field(default_factory=LinkSavings)
    first_rejects: list[RejectLine] = Field(default_factory=list)
    # Rows a stray quote may have merged (the first few; `warnings_total` counts them all).
    warnings: list[MergeWarning] = Field(default_factory=list)
    warnings_total: int = 0
    # Rows read from several lines (a cell with a line break), and the lines beyond one they took.
    multiline_rows: int = 0
    extra_lines: int = 0
    # An account charged in credits (Clickatell): what coverage says the campaign needs at least
    # (`app/credits.py`: {"currency", "at_least", "per_country", "unpriced"}), or why it is not known.
    credits: dict[str, Any] | None = None
    credits_note: str | None = None
    # The template has placeholders: its texts differ per recipient, so each goes in a request of
    # its own, even at a provider that takes batches (Campaign.one_per_request).
    personalised: bool = False
    # The opt-out footer every body ends with ("": none); its segments are in the counts above.
    footer: str = ""
    # Sendable rows whose numbers are at the account's frequency cap right now ([compliance]
    # frequency_cap): loaded all the same, skipped (or held back) at claim time unless the window
    # has moved on by then.
    capped: int = 0
    # The campaign's validity in seconds, and how many messages would still be unsent when it ends
    # at the provider's limits (eta_seconds past it): the preview's warning.
    valid_for_seconds: float | None = None
    expiring: int = 0

    @property
    def rejected(self) -> int:
        """Rows that will not be sent, for any reason."""
        return self.rows - self.sendable

    def rejection_counts(self) -> dict[str, int]:
        """Rows set aside by reason (invalid, duplicates, ...), only the reasons that occurred."""
        return {field: getattr(self, field) for field in _COUNT_FIELD.values() if getattr(self, field)}


_COUNT_FIELD = {
    INVALID: "invalid",
    NOT_SMS_CAPABLE: "not_sms_capable",
    DUPLICATE: "duplicates",
    SUPPRESSED: "suppressed",
    EMPTY_VALUE: "empty_value",
    BAD_LINK: "bad_link",
    TOO_LONG: "too_long",
    MALFORMED: "malformed",
}


class Planner:
    """Plans one campaign from a CSV and a message; see the module docstring for the contract."""

    def __init__(
        self,
        config: Config,
        options: PlanOptions,
        suppressed: Container[str] = frozenset(),
        *,
        on_reject: Callable[[Rejected], None] | None = None,
        capped: Container[str] = frozenset(),
        consented: Container[str] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.suppressed = suppressed
        self.capped = capped
        # The numbers with a recorded opt-in, when the campaign requires one (else None).
        self.consented = consented
        self.on_reject = on_reject
        self.preview = Preview(currency=config.pricing.currency)
        self.headers: list[str] = []

    def batches(self, batch_size: int = 10_000) -> Iterator[list[PlannedMessage]]:
        """Sendable messages in file order, `batch_size` at a time; fills `self.preview` as it goes."""
        return self._plan(batch_size)

    def run(self) -> Preview:
        """Plan every row for the totals only: `self.preview`, rejects to `on_reject`, no messages.

        What a preview with no list of sendable rows to write needs: the same checks and counts as
        `batches()`, without building a PlannedMessage (and a dict of its cells) for every row.
        """
        for _ in self._plan(None):
            pass
        return self.preview

    def _plan(self, batch_size: int | None) -> Iterator[list[PlannedMessage]]:
        """`batches(batch_size)`; None: no messages are made, nothing is yielded (see `run`)."""
        opts, cfg = self.options, self.config
        template = Template.parse(opts.message, opts.message_source)
        # Every recipient's short links differ: a message with links is personalised too.
        self.preview.personalised = bool(template.columns) or bool(template.links)
        links_cfg = cfg.links
        if template.links and not links_cfg.base_url:
            raise UserError(
                f"{opts.message_source}: the message has {{link:...}} but [links] base_url is not set "
                "(the branded domain its short links are made on)"
            )
        region = (opts.region if opts.region is not None else cfg.recipients.default_region).strip().upper()
        with RecipientsFile(
            opts.csv_path,
            encoding=opts.encoding or cfg.recipients.encoding,
            phone_column=opts.phone_column,
            phone_columns=cfg.recipients.phone_columns,
            strict=opts.strict,
        ) as source:
            template.check_columns(source.headers, str(opts.csv_path))
            self.headers = headers = source.headers
            links = LinkSet.of(template.links, opts.links, headers)
            spec = ChunkSpec(
                region=region or None,
                excluded_types=tuple(cfg.recipients.excluded_types),
                message=opts.message,
                headers=tuple(headers),
                phone_index=source.phone_index,
                empty_value=opts.empty_value or cfg.recipients.empty_value,
                smart_encoding=opts.smart_encoding,
                max_body_chars=cfg.provider.max_body_chars,
                max_segments=cfg.provider.max_message_parts
                if capabilities_of(cfg.provider.type).limits_parts
                else None,
                footer=opts.footer if opts.footer is not None else cfg.compliance.opt_out_footer,
                links=links.targets,
                link_base=links_cfg.base_url,
                code_length=links_cfg.code_length,
                show_scheme=links_cfg.show_scheme,
            )
            self.preview.footer = spec.footer
            if links:
                example = short_url(
                    links_cfg.base_url, "x" * links_cfg.code_length, show_scheme=links_cfg.show_scheme
                )
                self.preview.links = LinkSavings(
                    links=len(links.targets), example=example, short_chars=len(example)
                )
            preview = self.preview
            preview.file, preview.phone_column, preview.region = (
                str(opts.csv_path),
                source.phone_header,
                spec.region,
            )
            yield from self._merge(source, spec, batch_size)
            preview.warnings = [
                MergeWarning(first_line=m.first_line, last_line=m.last_line, column=m.column, detail=m.detail)
                for m in source.merged
            ]
            preview.warnings_total = source.merged_total
            preview.multiline_rows, preview.extra_lines = source.multiline_rows, source.extra_lines
        if preview.rows == 0:
            raise InputFileError(f"{opts.csv_path}: no recipient rows after the header")

    def _merge(
        self, source: RecipientsFile, spec: ChunkSpec, batch_size: int | None
    ) -> Iterator[list[PlannedMessage]]:
        preview, headers = self.preview, self.headers
        costs = CostTable(self.config.pricing)
        add_cost, price = costs.add, costs.price
        counts: Counter[str] = Counter()
        encodings: Counter[str] = Counter()
        histogram: Counter[int] = Counter()
        verdict = Admission(self.suppressed).verdict
        smart = SmartSavings(applied=spec.smart_encoding)
        shortened = preview.links
        provider = self.config.provider
        # A personalised text goes one number a request (see Campaign.one_per_request).
        per_request = 1 if self.preview.personalised else recipients_per_request(provider)
        requests = RequestCount(
            per_request,
            claim_size(
                per_request,
                provider.messages_per_second,
                provider.requests_per_minute,
                self.config.dispatcher.batch_size,
            ),
        )
        batch: list[PlannedMessage] = []
        rows = 0
        capped, at_cap = 0, self.capped
        consented = self.consented
        no_consent = 0
        # The longest target seen, kept in a local: a pydantic attribute set a row costs ~5% here.
        long_chars = shortened.long_chars
        for chunk, results in self._planned_chunks(source, spec):
            rows += len(chunk)
            for (line, cells), result in zip(chunk, results, strict=True):
                if len(result) == 2:
                    self._reject(line, cells, result[0], result[1], spec.phone_index)
                    counts[result[0]] += 1
                    continue
                e164, country, body, encoding, segments, saved, links, long_segments = result
                refused = verdict(e164)
                if refused is not None:
                    counts[refused[0]] += 1
                    self._reject(line, cells, refused[0], refused[1], spec.phone_index)
                    continue
                if consented is not None and e164 not in consented:
                    no_consent += 1
                cost = add_cost(country, segments)
                if e164 in at_cap:
                    capped += 1
                requests.add(body)
                encodings[encoding] += 1
                histogram[segments] += 1
                if saved:
                    smart.messages += 1
                    smart.segments += saved
                    smart.cost += saved * price(country)
                if links:
                    for link in links:
                        if len(link[2]) > long_chars:
                            long_chars = len(link[2])
                    if long_segments > segments:
                        shortened.messages += 1
                        shortened.segments += long_segments - segments
                        shortened.cost += (long_segments - segments) * price(country)
                if batch_size is None:
                    continue
                fields = dict(zip(headers, cells, strict=False))  # extra empty trailing cells dropped
                batch.append(
                    PlannedMessage(line, e164, country, body, encoding, segments, cost, fields, links)
                )
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch
        shortened.long_chars = long_chars
        preview.rows = rows
        preview.no_consent = no_consent if consented is not None else None
        for reason, field_name in _COUNT_FIELD.items():
            setattr(preview, field_name, counts[reason])
        preview.sendable = costs.total_recipients
        preview.segments_total = costs.total_segments
        preview.cost_total = costs.total_cost
        preview.currency = costs.currency
        preview.eta_seconds = eta_seconds(
            preview.sendable, preview.segments_total, provider, requests.requests
        )
        preview.capped = capped
        preview.valid_for_seconds = self.options.valid_for_seconds
        if self.options.valid_for_seconds is not None:
            preview.expiring = expiring_at_eta(
                preview.sendable, preview.eta_seconds, self.options.valid_for_seconds
            )
        preview.encodings = {"GSM-7": encodings["GSM-7"], "UCS-2": encodings["UCS-2"]}
        preview.by_country = [
            CountryLine(country=c.country, recipients=c.recipients, segments=c.segments, cost=c.cost)
            for c in costs.by_country()
        ]
        preview.segments_histogram = dict(sorted(histogram.items()))
        preview.smart_encoding = smart

    def _reject(self, line: int, cells: list[str], reason: str, detail: str, phone_index: int) -> None:
        raw = cells[phone_index] if phone_index < len(cells) else ""
        first = self.preview.first_rejects
        if len(first) < self.options.first_rejects:
            first.append(RejectLine(line=line, raw=raw, reason=reason, detail=detail))
        if self.on_reject is not None:
            self.on_reject(Rejected(line, raw, reason, detail, cells))

    def _planned_chunks(
        self, source: RecipientsFile, spec: ChunkSpec
    ) -> Iterator[tuple[list[tuple[int, list[str]]], list[RowResult]]]:
        """(chunk of (line, cells), results) in file order, planned here or by a process pool."""
        chunks = _chunked(source.rows(), CHUNK_ROWS)
        workers = self._worker_count()
        if workers == 0:
            planner = ChunkPlanner(spec)
            for chunk in chunks:
                yield chunk, planner.plan([cells for _, cells in chunk])
            return
        pool = ChunkPool(workers, spec)
        try:
            # Bounded look-ahead keeps memory flat: at most this many chunks are in flight (two a
            # worker: one it plans, one waiting in its pipe, so it never waits for the parent).
            in_flight: deque[list[tuple[int, list[str]]]] = deque()
            limit = workers * IN_FLIGHT_PER_WORKER
            for chunk in chunks:
                pool.submit([cells for _, cells in chunk])
                in_flight.append(chunk)
                if len(in_flight) >= limit:
                    yield in_flight.popleft(), pool.result()
            while in_flight:
                yield in_flight.popleft(), pool.result()
        except BaseException:
            pool.close(kill=True)
            raise
        pool.close()

    def _worker_count(self) -> int:
        wanted = self.options.workers
        if wanted is not None:
            return max(0, wanted)
        try:
            size = os.path.getsize(self.options.csv_path)
        except OSError:
            size = 0
        if size < POOL_MIN_BYTES:
            return 0
        return min(len(os.sched_getaffinity(0)), 4)


def _chunked(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
