"""Recipients CSV → rows with line numbers, read as a stream, and each recipient's classification.

`RecipientsFile` opens and checks the file (encoding, delimiter, header, phone column) and yields
its data rows in bounded memory, whatever the file size. `Recipients` classifies each row, first
match wins: `invalid`, `not_sms_capable` (see campaigner.planning.phones), `duplicate` (same E.164 as an
earlier sendable row; the first one is kept), `suppressed` (in the suppression set the caller
passes), else sendable. Anything wrong with the file itself is an `InputFileError` naming the file
and the line; anything wrong with one row is a rejection with its line, raw value and reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import sys
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from campaigner.config import RecipientsConfig
from campaigner.errors import InputFileError
from campaigner.planning.merged_lines import MergedLines, suspect_merge
from campaigner.planning.phones import INVALID, NOT_SMS_CAPABLE, OK, PhoneClassifier
from campaigner.planning.ragged import MALFORMED, ragged_reason
from campaigner.planning.seen_numbers import SeenNumbers
from campaigner.text.listing import clip, short_list

DUPLICATE: Final = "duplicate"
SUPPRESSED: Final = "suppressed"

# A recipients file legitimately has long free-text columns; a multi-megabyte cell is a broken
# quote, which csv reports as an error we turn into a clear message.
csv.field_size_limit(min(sys.maxsize, 1 << 24))
# No recipients file has this many columns; a wider header is a broken or hostile file, and every
# planned row would carry a dict of that many fields.
MAX_COLUMNS: Final = 10_000
# Suspected merges kept for the preview (all are counted).
MERGED_KEPT: Final = 20


@dataclass(slots=True)
class Rejected:
    """A row that will not be sent: its line, the raw phone value, why, and the cells as read."""

    line: int
    raw: str
    reason: str  # invalid | not_sms_capable | duplicate | suppressed | empty_value | too_long | malformed
    detail: str = ""
    values: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Recipient:
    """A sendable row: its line, the number in E.164, the ISO region (None if non-geographic), the cells."""

    line: int
    e164: str
    country: str | None
    values: list[str]


def resolve_encoding(encoding: str | None, source: str) -> str:
    """The codec to read with: UTF-8 (with or without BOM) by default, else the named one."""
    name = (encoding or "utf-8").strip()
    where = "(--encoding or recipients.encoding)"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputFileError(f"{source}: unknown encoding {clip(name)!r} {where}") from None
    try:
        # Some codecs are not text encodings (rot13, base64, zlib): open() would refuse them with
        # a LookupError of its own; str.encode makes the same check here, before the file.
        "".encode(info.name)
    except LookupError:
        raise InputFileError(f"{source}: {clip(name)!r} is not a text encoding {where}") from None
    # utf-8-sig reads UTF-8 with or without a BOM and drops the BOM from the first header.
    return "utf-8-sig" if info.name in ("utf-8", "utf-8-sig") else info.name


class RecipientsFile:
    """An open recipients CSV: `headers`, `phone_index`, and `rows()` yielding `(line, cells)`.

    Use as a context manager. The header is read and checked on `__enter__`, so every problem
    with the file's shape is raised before any row is processed. `line` is the physical line
    where the row starts (1 is the header); blank lines are skipped. A row that spans lines and
    looks like a stray quote merged the next rows into it is noted in `merged` (an InputFileError
    when `strict`). A NUL anywhere is an InputFileError naming its line and column.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        encoding: str | None = None,
        phone_column: str | None = None,
        phone_columns: Iterable[str] = RecipientsConfig().phone_columns,
        strict: bool = False,
    ) -> None:
        self.path = Path(path)
        self.encoding = resolve_encoding(encoding, str(self.path))
        self.requested_column = phone_column
        self.phone_columns = list(phone_columns)
        self.headers: list[str] = []
        self.phone_index = -1
        self.delimiter = ","
        self._file: io.TextIOWrapper | None = None
        self._reader: Iterator[list[str]] | None = None
        self._pending_error: InputFileError | None = None
        self._nul_seen = False
        # Rows that span lines and look like a stray quote merged others into them (see
        # merged_lines): kept for the preview, or an error at the first one when `strict`.
        self.strict = strict
        self.merged: list[MergedLines] = []
        self.merged_total = 0
        # Rows read from more than one line, and the lines they took beyond one each: with a stray
        # quote the file's row count drops by that many.
        self.multiline_rows = 0
        self.extra_lines = 0

    def __enter__(self) -> RecipientsFile:
        try:
            self._file = open(self.path, encoding=self.encoding, newline="")
        except FileNotFoundError:
            raise InputFileError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise InputFileError(f"{self.path}: is a directory, not a CSV file") from None
        except OSError as exc:
            raise InputFileError(f"{self.path}: cannot open ({exc.strerror})") from None
        try:
            self._read_header()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def phone_header(self) -> str:
        """The name of the phone column as written in the file."""
        return self.headers[self.phone_index]

    def _read_header(self) -> None:
        assert self._file is not None
        try:
            first = self._file.readline()
        except UnicodeError:  # also "UTF-16 stream does not start with BOM", not a decode error
            # The text layer decodes ahead: a bad byte on a later line fails the header read.
            # Report it when the rows are read, so header and template errors come first.
            error = self._decode_error()
            if " line 1:" in str(error) or "UTF-16" in str(error):
                raise error from None
            first = self._first_line_only()
            self._pending_error = error
        if not first.strip():
            raise InputFileError(f"{self.path}: file is empty (expected a header line)")
        self.delimiter = _guess_delimiter(first)
        if first.count(self.delimiter) >= MAX_COLUMNS:
            # Refused before the CSV reader makes a string of every one (a million columns: 80 MB).
            raise self._too_wide(first.count(self.delimiter) + 1)
        if self._pending_error is None:
            self._file.seek(0)  # also re-arms utf-8-sig's BOM check
            self._reader = csv.reader(self._watched(self._file), delimiter=self.delimiter, strict=False)
        else:
            self._reader = csv.reader(self._watched([first]), delimiter=self.delimiter, strict=False)
        header = self._next_record()
        if header is None:
            raise InputFileError(f"{self.path}: file is empty (expected a header line)")
        if self._nul_seen and self._nul_in(header):
            raise InputFileError(f"{self.path}: line 1: the header holds a NUL character; {_NUL_HINT}")
        if len(header) > MAX_COLUMNS:
            raise self._too_wide(len(header))
        self.headers = [h.strip() for h in header]
        seen: set[str] = set()
        for name in self.headers:
            if name and name in seen:
                raise InputFileError(
                    f"{self.path}: line 1: column {clip(name)!r} appears twice in the header"
                )
            seen.add(name)
        self.phone_index = self._find_phone_column()

    def _too_wide(self, columns: int) -> InputFileError:
        return InputFileError(
            f"{self.path}: line 1: the header has {columns:,} columns; at most {MAX_COLUMNS:,} are supported"
        )

    def _find_phone_column(self) -> int:
        lowered = [h.lower() for h in self.headers]
        if self.requested_column:
            wanted = self.requested_column.strip().lower()
            if wanted in lowered:
                return lowered.index(wanted)
            raise InputFileError(
                f"{self.path}: no column {clip(self.requested_column)!r} (--phone-column); "
                f"headers seen: {short_list(self.headers)}"
            )
        for candidate in self.phone_columns:
            if candidate.lower() in lowered:
                return lowered.index(candidate.lower())
        raise InputFileError(
            f"{self.path}: no phone column (looked for {short_list(self.phone_columns)}; "
            f"headers seen: {short_list(self.headers)}); name it with --phone-column"
        )

    def _next_record(self) -> list[str] | None:
        assert self._reader is not None
        reader = self._reader
        try:
            return next(reader)
        except StopIteration:
            return None
        except UnicodeError:
            raise self._decode_error() from None
        except csv.Error as exc:
            line = getattr(reader, "line_num", 0)
            raise InputFileError(f"{self.path}: line {line}: malformed CSV ({exc})") from None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows in file order as `(line, cells)`; blank lines skipped; stream, bounded memory."""
        if self._reader is None:
            raise RuntimeError("RecipientsFile.rows() outside its `with` block")
        if self._pending_error is not None:
            raise self._pending_error
        reader = self._reader
        line_num = getattr(reader, "line_num", 1)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeError:
                raise self._decode_error() from None
            except csv.Error as exc:
                raise InputFileError(f"{self.path}: line {line_num + 1}: malformed CSV ({exc})") from None
            start = line_num + 1
            line_num = reader.line_num  # type: ignore[attr-defined]
            if self._nul_seen and self._nul_in(row):
                raise self._nul_error(start, row)
            if line_num > start:
                self.multiline_rows += 1
                self.extra_lines += line_num - start
                self._check_merge(start, line_num, row)
            if row and (len(row) > 1 or row[0].strip()):
                yield start, row

    def _check_merge(self, first: int, last: int, cells: list[str]) -> None:
        suspect = suspect_merge(first, last, cells, self.headers, self.delimiter)
        if suspect is None:
            return
        if self.strict:
            raise InputFileError(f"{self.path}: {suspect.describe()} (an error with --strict)")
        self.merged_total += 1
        if len(self.merged) < MERGED_KEPT:
            self.merged.append(suspect)

    def _watched(self, source: io.TextIOWrapper | list[str]) -> Iterator[str]:
        """The lines of `source` as they are, noting a NUL: csv reads it as an ordinary character,
        but no PostgreSQL text can hold one (and it is most often a binary or UTF-16 file).

        Lines are checked a block at a time and handed on by `chain` without a Python step per line
        (a generator per line cost 0.4 µs a row). Once a block held a NUL, every row read from then
        on is checked cell by cell (`_nul_in`), so the error still names the row and the column.
        """

        def blocks() -> Iterator[list[str]]:
            if isinstance(source, list):
                batches: Iterator[list[str]] = iter([source])
            else:
                batches = iter(lambda: source.readlines(_BLOCK_CHARS), [])
            for batch in batches:
                if not self._nul_seen and "\x00" in "".join(batch):
                    self._nul_seen = True
                yield batch

        return itertools.chain.from_iterable(blocks())

    @staticmethod
    def _nul_in(cells: list[str]) -> bool:
        return any("\x00" in cell for cell in cells)

    def _nul_error(self, line: int, cells: list[str]) -> InputFileError:
        column = next((i for i, cell in enumerate(cells) if "\x00" in cell), 0)
        name = self.headers[column] if column < len(self.headers) else f"#{column + 1}"
        return InputFileError(
            f"{self.path}: line {line}, column {clip(name)!r}: holds a NUL character; {_NUL_HINT}"
        )

    def _first_line_only(self) -> str:
        with open(self.path, "rb") as raw:
            return raw.readline().decode(self.encoding)

    def _decode_error(self) -> InputFileError:
        """Find the first line that does not decode: the text layer decodes ahead, so re-scan."""
        decoder_name = self.encoding
        line_no = 0
        with open(self.path, "rb") as raw:
            head = raw.read(4)
            raw.seek(0)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and decoder_name == "utf-8-sig":
                return InputFileError(f"{self.path}: the file is UTF-16; pass --encoding utf-16")
            decoder = codecs.getincrementaldecoder(decoder_name)()
            for line_no, chunk in enumerate(raw, start=1):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return InputFileError(
                        f"{self.path}: line {line_no}: not valid {_label(decoder_name)} "
                        f"(byte 0x{chunk[exc.start]:02x}); pass --encoding (e.g. --encoding cp1252)"
                    )
                except UnicodeError as exc:  # utf-16 without a byte order mark
                    return InputFileError(
                        f"{self.path}: not {_label(decoder_name)}: {exc}; pass the file's --encoding"
                    )
        return InputFileError(f"{self.path}: line {line_no}: not valid {_label(decoder_name)}")


# Characters of lines read (and checked for NUL) at a time.
_BLOCK_CHARS = 1 << 16
_NUL_HINT = "a NUL cannot be stored (is the file binary, or UTF-16? pass its --encoding)"


def _label(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8-sig" else encoding


def _guess_delimiter(header_line: str) -> str:
    # European spreadsheets export with ';'. Guess from the header line only: it has no quoting
    # surprises in practice and is where a wrong guess would show at once (no phone column).
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


class Admission:
    """Duplicate and suppression checks for valid numbers, in file order.

    `verdict(e164)` returns `(reason, detail)` for a duplicate (same number as an earlier
    admitted one) or a suppressed number, else None, and then remembers the number as sent.
    """

    def __init__(self, suppressed: Container[str] = frozenset()) -> None:
        self.suppressed = suppressed
        # An empty set (the common case before the store exists) is not worth a lookup a row.
        self._check_suppressed = not isinstance(suppressed, (set, frozenset)) or bool(suppressed)
        self._seen = SeenNumbers()  # about 6 bytes a number: see seen_numbers

    def verdict(self, e164: str) -> tuple[str, str] | None:
        """Why this valid number is not sent, or None (and it now counts as sent)."""
        # A suppressed number is never remembered, so each of its rows is reported as suppressed.
        if self._check_suppressed and e164 in self.suppressed:
            return SUPPRESSED, f"{e164} is on the suppression list"
        if not self._seen.add(int(e164[1:])):
            return DUPLICATE, f"same number as an earlier row ({e164})"
        return None


class Recipients:
    """Classifies rows of one file in order: malformed, invalid, not_sms_capable, duplicate, suppressed.

    `check(line, cells)` returns a `Recipient` or a `Rejected`. Duplicates are judged against the
    numbers already returned as sendable, so the first sendable row of a number is the one kept.
    (The planner does the same with its own per-row message checks in between.)
    """

    def __init__(
        self,
        classifier: PhoneClassifier,
        phone_index: int,
        width: int,
        suppressed: Container[str] = frozenset(),
    ) -> None:
        self.classifier = classifier
        self.phone_index = phone_index
        self.width = width
        self.admission = Admission(suppressed)

    def check(self, line: int, cells: list[str]) -> Recipient | Rejected:
        """The verdict on one data row (see the class docstring for the order of the rules)."""
        ragged = ragged_reason(cells, self.width)
        raw = cells[self.phone_index] if self.phone_index < len(cells) else ""
        if ragged:
            return Rejected(line, raw, MALFORMED, ragged, cells)
        result = self.classifier.classify(raw)
        if result.status != OK:
            return Rejected(line, raw, result.status, result.detail, cells)
        assert result.e164 is not None
        refused = self.admission.verdict(result.e164)
        if refused is not None:
            return Rejected(line, raw, refused[0], refused[1], cells)
        return Recipient(line, result.e164, result.country, cells)


REASONS: Final = (INVALID, NOT_SMS_CAPABLE, DUPLICATE, SUPPRESSED, MALFORMED)
