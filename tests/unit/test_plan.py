"""The planner: recipients + template + segments + pricing, in file order, in one process or several."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest

from campaigner.config import Config, config_from_mapping
from campaigner.errors import InputFileError, UserError
from campaigner.examples.messy import HEADER, write_csv
from campaigner.planning.planner import PlannedMessage, Planner, PlanOptions, Rejected
from campaigner.text.segments import count_segments

EXAMPLE_MESSAGE = "Hi {first_name}, our {city} store has 20% off this weekend. Reply STOP to opt out."


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _plan(
    path: Path,
    message: str,
    config: Config | None = None,
    suppressed: frozenset[str] = frozenset(),
    **kw: object,
) -> tuple[Planner, list[PlannedMessage], list[Rejected]]:
    rejects: list[Rejected] = []
    planner = Planner(
        config or Config(),
        PlanOptions(csv_path=path, message=message, **kw),  # type: ignore[arg-type]
        suppressed,
        on_reject=rejects.append,
    )
    messages = [m for batch in planner.batches() for m in batch]
    return planner, messages, rejects


def test_constructor_does_nothing_and_placeholder_errors_come_first(tmp_path: Path) -> None:
    # Line 3 cannot be decoded, but the unknown placeholder is reported before any row is read.
    path = tmp_path / "r.csv"
    path.write_bytes(b"phone,name\n+31612345678,a\n+31612345679,\xff\n")
    planner = Planner(Config(), PlanOptions(csv_path=tmp_path / "missing.csv", message="{nope}"))
    assert planner.preview.rows == 0  # nothing happened yet
    with pytest.raises(UserError, match=r"placeholder \{city\} has no column .*columns: phone, name"):
        _plan(path, "Hi {city}")
    with pytest.raises(InputFileError, match="line 3: not valid UTF-8"):
        _plan(path, "Hi {name}")


def test_header_only_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no recipient rows"):
        _plan(_csv(tmp_path, "phone,name\n"), "Hi")


def test_counts_reasons_and_file_order(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "phone,name\n"
        "+31612345678,Anna\n"  # 2 sendable
        "06 1234 5678,Anna again\n"  # 3 duplicate
        "+31 20 123 4567,Office\n"  # 4 not_sms_capable
        "3.16123E+10,Excel\n"  # 5 invalid
        "+31687654321,Opted out\n"  # 6 suppressed
        "+31611111111,\n"  # 7 empty_value
        "+31611111111,Later\n"  # 8 sendable: the earlier row of this number was not sent
        "+31622222222\n"  # 9 malformed
        "+49 151 23456789,Bernd\n",  # 10 sendable
    )
    planner, messages, rejects = _plan(path, "Hi {name}", suppressed=frozenset({"+31687654321"}), region="NL")
    assert [(m.line, m.e164, m.country) for m in messages] == [
        (2, "+31612345678", "NL"),
        (8, "+31611111111", "NL"),
        (10, "+4915123456789", "DE"),
    ]
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "duplicate"),
        (4, "not_sms_capable"),
        (5, "invalid"),
        (6, "suppressed"),
        (7, "empty_value"),
        (9, "malformed"),
    ]
    p = planner.preview
    assert (p.rows, p.sendable, p.duplicates, p.not_sms_capable, p.invalid) == (9, 3, 1, 1, 1)
    assert (p.suppressed, p.empty_value, p.malformed, p.too_long) == (1, 1, 1, 0)
    assert messages[0].fields == {"phone": "+31612345678", "name": "Anna"}
    assert [r.line for r in p.first_rejects] == [3, 4, 5, 6, 7, 9]


def test_empty_value_policy_render_empty(tmp_path: Path) -> None:
    path = _csv(tmp_path, "phone,name\n+31612345678,\n")
    _, messages, _ = _plan(path, "Hi {name}!", empty_value="empty")
    assert messages[0].body == "Hi !"


def test_segments_are_counted_per_rendered_message(tmp_path: Path) -> None:
    path = _csv(tmp_path, "phone,name\n+31612345678,Anna\n+31612345679,Zoë\n+31612345670," + "x" * 160 + "\n")
    planner, messages, _ = _plan(path, "Hi {name}")
    assert [(m.encoding, m.segments) for m in messages] == [("GSM-7", 1), ("UCS-2", 1), ("GSM-7", 2)]
    for m in messages:
        assert m.segments == count_segments(m.body).segments
    assert planner.preview.encodings == {"GSM-7": 2, "UCS-2": 1}
    assert planner.preview.segments_histogram == {1: 2, 2: 1}
    assert planner.preview.segments_total == 4


def test_too_long_bodies_are_rejected(tmp_path: Path) -> None:
    config = config_from_mapping({"provider": {"max_body_chars": 20}})
    path = _csv(tmp_path, "phone,name\n+31612345678,Al\n+31612345679,Bartholomew the Great\n")
    planner, messages, rejects = _plan(path, "Hello {name}!", config)
    assert [m.line for m in messages] == [2]
    assert rejects[0].reason == "too_long" and "28 characters" in rejects[0].detail
    assert planner.preview.too_long == 1


def test_smart_encoding_applied_and_potential_savings(tmp_path: Path) -> None:
    path = _csv(tmp_path, "phone,name\n+31612345678,D’Angelo\n+31612345679,Anna\n")
    message = "Hi {name}, " + "x" * 60  # 72 characters: 2 UCS-2 segments, 1 GSM-7 segment
    planner, messages, _ = _plan(path, message)
    assert (messages[0].encoding, messages[0].segments) == ("UCS-2", 2)
    saved = planner.preview.smart_encoding
    assert (saved.applied, saved.messages, saved.segments) == (False, 1, 1)
    planner, messages, _ = _plan(path, message, smart_encoding=True)
    assert messages[0].body.startswith("Hi D'Angelo") and (messages[0].encoding, messages[0].segments) == (
        "GSM-7",
        1,
    )
    saved = planner.preview.smart_encoding
    assert (saved.applied, saved.messages, saved.segments, saved.cost) == (True, 1, 1, Decimal("0.008"))
    assert planner.preview.segments_total == 2


def test_cost_by_country_and_eta_from_config(tmp_path: Path) -> None:
    config = config_from_mapping(
        {
            "pricing": {"currency": "USD", "default_per_segment": 0.01, "countries": {"US": 0.005}},
            "provider": {"requests_per_minute": 60, "messages_per_second": 10, "recipients_per_request": 1},
        }
    )
    path = _csv(tmp_path, "phone\n+1 212 555 0123\n+1 415 555 0123\n+31612345678\n")
    planner, messages, _ = _plan(path, "x" * 200, config)  # 2 segments each
    p = planner.preview
    assert [m.cost for m in messages] == [Decimal("0.01"), Decimal("0.01"), Decimal("0.02")]
    assert p.currency == "USD" and p.cost_total == Decimal("0.04")
    assert {(c.country, c.recipients, c.segments, c.cost) for c in p.by_country} == {
        ("US", 2, 4, Decimal("0.02")),
        ("NL", 1, 2, Decimal("0.02")),
    }
    assert p.eta_seconds == pytest.approx(3.0)  # 1 request a second, 1 recipient a request


def test_batches_have_the_asked_size(tmp_path: Path) -> None:
    path = _csv(tmp_path, "phone\n" + "".join(f"+3161234{i:04d}\n" for i in range(25)))
    planner = Planner(Config(), PlanOptions(csv_path=path, message="hi"))
    assert [len(b) for b in planner.batches(batch_size=10)] == [10, 10, 5]


def _reference_counts(path: Path, region: str) -> dict[str, int]:
    """Counts by the public phonenumbers API, row by row, to check the planner against."""
    import csv
    import re

    from campaigner.planning.phones import clean

    excluded = set(Config().recipients.excluded_types)
    counts = {"sendable": 0, "invalid": 0, "not_sms_capable": 0, "duplicates": 0, "empty_value": 0}
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        phone, first = header.index("phone"), header.index("first_name")
        for row in reader:
            text = clean(row[phone])
            try:
                number = phonenumbers.parse(text, region)
                # Excel's scientific notation is refused even where its digits happen to be valid.
                valid = phonenumbers.is_valid_number(number) and not re.fullmatch(
                    r"[0-9.,]+[eE]\+?[0-9]+", text
                )
            except phonenumbers.NumberParseException:
                valid = False
            if not valid:
                counts["invalid"] += 1
                continue
            kind = phonenumbers.PhoneNumberType.to_string(phonenumbers.number_type(number))
            if kind in excluded:
                counts["not_sms_capable"] += 1
                continue
            if not row[first].strip():
                counts["empty_value"] += 1
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 in seen:
                counts["duplicates"] += 1
                continue
            seen.add(e164)
            counts["sendable"] += 1
    return counts


@pytest.mark.slow
def test_20k_generated_rows_in_one_process_and_in_two_workers(tmp_path: Path) -> None:
    path = tmp_path / "20k.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        write_csv(out, 20_000, seed=5)
    expected = _reference_counts(path, "NL")
    results = []
    for workers in (0, 2):
        planner, messages, rejects = _plan(path, EXAMPLE_MESSAGE, region="NL", workers=workers)
        p = planner.preview
        got = {k: getattr(p, k) for k in expected}
        assert got == expected, f"workers={workers}"
        assert p.rows == 20_000 == len(messages) + len(rejects)
        assert p.segments_total == sum(m.segments for m in messages)
        assert [m.line for m in messages] == sorted(m.line for m in messages)
        results.append(
            ([(m.line, m.e164, m.body, m.segments) for m in messages], [(r.line, r.reason) for r in rejects])
        )
    assert results[0] == results[1]
    assert HEADER == ["first_name", "last_name", "phone", "city", "customer_id"]


def test_the_opt_out_footer_is_sent_counted_and_priced(tmp_path: Path) -> None:
    footer = "Reply STOP to opt out"
    config = config_from_mapping({"compliance": {"opt_out_footer": footer}})
    path = _csv(tmp_path, "phone,name\n+31612345678,Anna\n+31612345679," + "x" * 140 + "\n")
    planner, messages, _ = _plan(path, "Hi {name}", config)
    assert [m.body for m in messages] == [f"Hi Anna\n{footer}", f"Hi {'x' * 140}\n{footer}"]
    # The long one fits one segment alone (143 characters), not with the footer's line (165).
    assert [m.segments for m in messages] == [1, 2]
    assert planner.preview.footer == footer
    assert planner.preview.segments_total == 3
    without, _, _ = _plan(path, "Hi {name}", config, footer="")  # --no-footer
    assert without.preview.segments_total == 2 and without.preview.footer == ""
    assert without.preview.cost_total < planner.preview.cost_total
    # A campaign's own footer replaces the account's; a footer in a UCS-2 text makes it UCS-2.
    _, own, _ = _plan(path, "Hi {name}", config, footer="Stop? Répondez STOP")
    assert own[0].body == "Hi Anna\nStop? Répondez STOP" and own[0].encoding == "GSM-7"
    _, ucs, _ = _plan(path, "Hi {name}", config, footer="Ответьте STOP")
    assert ucs[0].encoding == "UCS-2"
    # Too long is judged with the footer: it is part of what is sent.
    short = config_from_mapping(
        {"compliance": {"opt_out_footer": footer}, "provider": {"max_body_chars": 20}}
    )
    _, kept, rejects = _plan(path, "Hi {name}", short)
    assert kept == [] and {r.reason for r in rejects} == {"too_long"}
