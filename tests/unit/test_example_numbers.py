"""The bundled example uses numbers reserved for fiction where a country has them (issue 14), and
they still parse as valid, sendable (US) or landline (UK) numbers, so the example's mix holds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType

import campaigner
from campaigner.examples import messy
from campaigner.planning.phones import PhoneClassifier

EXAMPLE = Path(campaigner.__file__).parent / "examples" / "recipients.csv"


def test_the_bundled_file_is_the_generators_output() -> None:
    out = io.StringIO()
    messy.write_csv(out, 300, 7)
    assert EXAMPLE.read_text(encoding="utf-8") == out.getvalue()


def test_us_and_uk_landline_numbers_are_from_the_fiction_ranges() -> None:
    classifier = PhoneClassifier("NL", ())
    seen = {"US": 0, "GB landline": 0}
    for row in messy.rows(3_000, seed=11):
        result = classifier.classify(row[2])
        if result.e164 is None:
            continue
        number = phonenumbers.parse(result.e164)
        national = str(number.national_number)
        if number.country_code == 1 and not national.startswith("800"):
            assert national[3:8] == "55501", result.e164  # 555-0100..0199
            assert phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE_OR_MOBILE
            seen["US"] += 1
        if number.country_code == 44 and national.startswith("20"):
            assert national.startswith("2079460"), result.e164  # 020 7946 0xxx
            assert phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE
            seen["GB landline"] += 1
    assert all(seen.values()), seen
    with EXAMPLE.open(encoding="utf-8", newline="") as handle:
        assert any("555" in row["phone"] for row in csv.DictReader(handle))
