"""Bad input is one clear error naming where it is (issue 14): encodings that are not text, NULs,
times out of range, absurdly wide headers, campaign ids beyond a bigint, escapes in names."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import click
import pytest

from campaigner.cli.commands.preview import read_message
from campaigner.cli.safe import CAMPAIGN_ID, printable
from campaigner.cli.source_options import parse_send_at
from campaigner.errors import InputFileError, UserError
from campaigner.planning.recipients import MAX_COLUMNS, RecipientsFile
from campaigner.text.listing import short_list


def _rows(path: Path, **options: str) -> list[tuple[int, list[str]]]:
    with RecipientsFile(path, **options) as source:  # type: ignore[arg-type]
        return list(source.rows())


def test_an_encoding_that_is_not_a_text_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("phone\n+31612345678\n", encoding="utf-8")
    for name in ("rot13", "base64", "zlib"):
        with pytest.raises(InputFileError, match=rf"r.csv: '{name}' is not a text encoding"):
            _rows(path, encoding=name)


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"name,phone\nA\x00b,+31612345678\n", "line 2, column 'name'"),
        (b"name,phone\nA,+3161234\x005678\n", "line 2, column 'phone'"),
        (b'name,phone\nA,+31612345678\n"B\nC\x00",+31612345679\n', "line 3, column 'name'"),
        (b"na\x00me,phone\nA,+31612345678\n", "line 1: the header"),
    ],
)
def test_a_nul_in_the_csv_names_its_line_and_column(tmp_path: Path, content: bytes, where: str) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=f"r.csv: {where}.*NUL"):
        _rows(path)


def test_a_nul_in_the_message_file_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "message.txt"
    path.write_bytes(b"Hello\nwo\x00rld\n")
    with pytest.raises(InputFileError, match=r"message.txt: line 2, column 3: .*NUL"):
        read_message(None, str(path))


def test_a_header_of_a_million_columns_is_refused_in_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\nx\n", encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(InputFileError) as caught:
            _rows(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"at most {MAX_COLUMNS:,}" in str(caught.value) and len(str(caught.value)) < 300
    assert peak < 40 << 20  # the 8.9 MB line, not a string per column (450 MB before)


def test_an_error_listing_headers_lists_a_few(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" * 50 for i in range(5_000)) + "\nx\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no phone column") as caught:
        _rows(path)
    assert len(str(caught.value)) < 1_500 and "and 4,980 more" in str(caught.value)
    assert short_list([]) == "(none)" and short_list(["a", "b"]) == "a, b"


@pytest.mark.parametrize("value", ["0001-01-01T00:00", "0001-01-01T00:30+01:00", "9999-12-31T23:00-05:00"])
def test_send_at_out_of_range_is_a_clear_error(value: str) -> None:
    with pytest.raises(UserError, match=r"--send-at: .* is out of range"):
        parse_send_at(value)


def test_campaign_ids_beyond_a_bigint_are_refused_by_the_argument() -> None:
    assert CAMPAIGN_ID.convert("9223372036854775807", None, None) == 2**63 - 1
    for value in ("9223372036854775808", "0", "-1"):
        with pytest.raises(click.BadParameter):
            CAMPAIGN_ID.convert(value, None, None)


def test_printable_escapes_terminal_controls() -> None:
    assert printable("spring sale") == "spring sale"
    assert printable("a\x1b[2Jb\x07\r\u202e") == "a\\x1b[2Jb\\x07\\r\\u202e"


STRAY_QUOTE = 'name,phone\n"abc\n+31632000001,d",+31612345678\nX,+31612345671\n'


def test_a_stray_quote_merging_the_next_recipient_is_noted_with_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(STRAY_QUOTE, encoding="utf-8")
    with RecipientsFile(path) as source:
        rows = list(source.rows())
    assert rows[0] == (2, ["abc\n+31632000001,d", "+31612345678"])  # read as the file says
    (merged,) = source.merged
    assert (merged.first_line, merged.last_line, merged.column) == (2, 3, "name")
    assert "'+31632000001,d'" in merged.detail and "stray quote" in merged.detail
    with pytest.raises(InputFileError, match=r"r.csv: lines 2-3: column 'name' holds a line break"):
        with RecipientsFile(path, strict=True) as strict:
            list(strict.rows())


@pytest.mark.parametrize(
    ("cells", "headers", "suspect"),
    [
        (["Main St 12\n3511 AB Utrecht", "+31612345678"], ["address", "phone"], False),
        (["Utrecht,\nNL", "+31612345678"], ["address", "phone"], False),
        (["x\nB,C,D", "+31612345678", "y"], ["a", "phone", "c"], True),
        (["x\n06 3200 0001", "+31612345678"], ["a", "phone"], True),
    ],
)
def test_only_line_breaks_followed_by_a_row_or_a_number_are_suspect(
    cells: list[str], headers: list[str], suspect: bool
) -> None:
    from campaigner.planning.merged_lines import suspect_merge

    assert (suspect_merge(2, 3, cells, headers, ",") is not None) == suspect


def test_a_nul_far_into_a_large_file_names_its_own_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [f"Name {i},+316{30_000_000 + i:08d}" for i in range(20_000)]
    rows[12_345] = "Na\x00me,+31612345678"  # far past the first block of lines read
    path.write_text("name,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"r.csv: line 12347, column 'name': holds a NUL"):
        _rows(path)
