"""Recipients: phone parsing and classification, and the CSV reader's handling of real-world files."""

from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
import pytest

from campaigner.errors import InputFileError
from campaigner.planning.phones import INVALID, NOT_SMS_CAPABLE, OK, PhoneClassifier, _region_and_type
from campaigner.planning.recipients import Admission, Recipient, Recipients, RecipientsFile, Rejected

EXCLUDED = ["FIXED_LINE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "UAN", "VOICEMAIL", "PAGER"]


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+31612345678", None),
        ("+31 6 1234 5678", None),
        ("+31-6-1234-5678", None),
        ("+31.6.12.34.56.78", None),
        ("+31 (0)6 1234 5678", None),
        ("0031 6 12345678", None),
        ("0031612345678", "NL"),
        ("06-12345678", "NL"),
        ("(06) 1234 5678", "NL"),
        ("tel:+31-6-1234-5678", None),
        ("TEL:+31612345678", None),
        ("+31\u00a06\u00a01234\u00a05678", None),
        ("\u200b+31 6 1234 5678\u200e", None),
        ("'+31612345678", None),
        ("'0612345678", "NL"),
        ("  +31612345678  ", None),
        ("٠٦١٢٣٤٥٦٧٨", "NL"),
        ("+٣١٦١٢٣٤٥٦٧٨", None),
        ("０６１２３４５６７８", "NL"),
        ("＋３１６１２３４５６７８", None),
    ],
)
def test_pasted_formats_normalise_to_e164(raw: str, region: str | None) -> None:
    result = PhoneClassifier(region, EXCLUDED).classify(raw)
    assert (result.status, result.e164, result.country) == (OK, "+31612345678", "NL")


@pytest.mark.parametrize(
    ("raw", "region", "detail_part"),
    [
        ("3.16123E+10", "NL", "scientific notation"),
        ("3,16123E+10", None, "scientific notation"),
        ("4.47911E11", "GB", "scientific notation"),
        ("", "NL", "empty"),
        ("   ", "NL", "empty"),
        ("call me", "NL", "cannot parse"),
        ("0612345678", None, "no country code"),
        ("+31 6 1234 567", None, "not a valid number for +31 (NL)"),
        ("+999 123 456 789", None, "cannot parse"),
        ("12345678901234567890", "NL", "cannot parse"),
    ],
)
def test_unusable_values_are_invalid_with_a_reason(raw: str, region: str | None, detail_part: str) -> None:
    result = PhoneClassifier(region, EXCLUDED).classify(raw)
    assert result.status == INVALID
    assert detail_part in result.detail


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("+31 20 123 4567", "FIXED_LINE"),
        ("+31 800 1234", "TOLL_FREE"),
        ("+44 800 123 4567", "TOLL_FREE"),
        ("+49 30 1234567", "FIXED_LINE"),
        ("+31 900 1234567", "PREMIUM_RATE"),
    ],
)
def test_landline_and_service_numbers_are_not_sms_capable(raw: str, kind: str) -> None:
    result = PhoneClassifier(None, EXCLUDED).classify(raw)
    assert (result.status, result.number_type) == (NOT_SMS_CAPABLE, kind)


def test_sendable_types_and_configurable_exclusions() -> None:
    default = PhoneClassifier(None, EXCLUDED)
    assert default.classify("+1 212 555 0123").number_type == "FIXED_LINE_OR_MOBILE"
    assert default.classify("+1 212 555 0123").status == OK
    assert default.classify("+44 7400 123456").number_type == "MOBILE"
    nothing_excluded = PhoneClassifier(None, [])
    assert nothing_excluded.classify("+31 20 123 4567").status == OK
    mobiles_excluded = PhoneClassifier(None, ["MOBILE"])
    assert mobiles_excluded.classify("+31612345678").status == NOT_SMS_CAPABLE


def test_region_and_type_match_the_public_api_on_random_numbers() -> None:
    # The one-pass helper must agree with region_code_for_number, number_type and is_valid_number.
    rng = random.Random(11)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    checked = 0
    for _ in range(6000):
        code = rng.choice([*codes, 1, 1, 44, 44, 7, 31, 49])
        try:
            number = phonenumbers.parse(f"+{code}{rng.randrange(10 ** rng.randint(5, 11))}", None)
        except phonenumbers.NumberParseException:
            continue
        region, kind = _region_and_type(number)
        valid = phonenumbers.is_valid_number(number)
        assert kind == phonenumbers.number_type(number)
        assert (kind != phonenumbers.PhoneNumberType.UNKNOWN) == valid
        if valid:
            assert region == phonenumbers.region_code_for_number(number)
        checked += 1
    assert checked > 5000


def test_classification_order_duplicates_and_suppression() -> None:
    recipients = Recipients(PhoneClassifier("NL", EXCLUDED), 0, 2, suppressed={"+31687654321"})
    verdicts = [
        recipients.check(2, ["+31612345678", "a"]),
        recipients.check(3, ["06 1234 5678", "b"]),  # same number, other format: duplicate
        recipients.check(4, ["+31687654321", "c"]),  # suppressed
        recipients.check(5, ["+31687654321", "d"]),  # suppressed again, not a "duplicate"
        recipients.check(6, ["+31 20 123 4567", "e"]),
        recipients.check(7, ["nope", "f"]),
        recipients.check(8, ["+31611111111"]),  # ragged
    ]
    assert isinstance(verdicts[0], Recipient) and verdicts[0].e164 == "+31612345678"
    reasons = [v.reason for v in verdicts[1:] if isinstance(v, Rejected)]
    assert reasons == ["duplicate", "suppressed", "suppressed", "not_sms_capable", "invalid", "malformed"]
    dup = verdicts[1]
    assert isinstance(dup, Rejected) and (dup.line, dup.raw) == (3, "06 1234 5678")


def test_admission_keeps_the_first_number_only() -> None:
    admission = Admission()
    assert admission.verdict("+31612345678") is None
    refused = admission.verdict("+31612345678")
    assert refused is not None and refused[0] == "duplicate"


def _write(tmp_path: Path, content: bytes, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _read(path: Path, **kwargs: str) -> tuple[list[str], str, list[tuple[int, list[str]]]]:
    with RecipientsFile(path, **kwargs) as source:  # type: ignore[arg-type]
        return source.headers, source.phone_header, list(source.rows())


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    body = "Phone,name\n+31612345678,Zoë\n".encode()
    for content in (body, b"\xef\xbb\xbf" + body):
        headers, phone, rows = _read(_write(tmp_path, content))
        assert headers == ["Phone", "name"] and phone == "Phone"
        assert rows == [(2, ["+31612345678", "Zoë"])]


def test_other_encoding_only_with_encoding_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,name\n+31612345678,ok\n+31612345679,Zo\xeb\n".encode("cp1252"))
    with pytest.raises(InputFileError, match=r"r\.csv: line 3: not valid UTF-8"):
        _read(path)
    assert _read(path, encoding="cp1252")[2][1] == (3, ["+31612345679", "Zoë"])
    with pytest.raises(InputFileError, match="unknown encoding"):
        _read(path, encoding="klingon")


def test_utf16_file_gets_a_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "phone\n+31612345678\n".encode("utf-16"))
    with pytest.raises(InputFileError, match="UTF-16"):
        _read(path)
    assert _read(path, encoding="utf-16")[2] == [(2, ["+31612345678"])]
    plain = _write(tmp_path, b"phone\n+31612345678\n")  # --encoding utf-16 on a file without a BOM
    with pytest.raises(InputFileError, match=r"r\.csv: not utf-16: .*BOM"):
        _read(plain, encoding="utf-16")


def test_phone_column_detection(tmp_path: Path) -> None:
    assert _read(_write(tmp_path, b"name,MSISDN,mobile\nx,1,2\n"))[1] == "mobile"  # config order wins
    assert _read(_write(tmp_path, b"name,Tel\nx,1\n"), phone_column="tel")[1] == "Tel"
    with pytest.raises(InputFileError, match=r"no phone column .*headers seen: name, cell"):
        _read(_write(tmp_path, b"name,cell\nx,1\n"))
    with pytest.raises(InputFileError, match=r"no column 'gsm' \(--phone-column\)"):
        _read(_write(tmp_path, b"name,phone\nx,1\n"), phone_column="gsm")


def test_empty_missing_and_duplicate_header_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file is empty"):
        _read(_write(tmp_path, b""))
    with pytest.raises(InputFileError, match="file is empty"):
        _read(_write(tmp_path, b"\n\n"))
    with pytest.raises(InputFileError, match="file not found"):
        _read(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a directory"):
        _read(tmp_path)
    with pytest.raises(InputFileError, match="'phone' appears twice"):
        _read(_write(tmp_path, b"phone,phone\n1,2\n"))
    assert _read(_write(tmp_path, b"phone,name\n"))[2] == []


def test_line_numbers_blank_lines_quoted_newlines_and_semicolons(tmp_path: Path) -> None:
    content = b'phone;note\n+31612345678;"two\nlines"\n\n+31612345679;x\n'
    headers, _, rows = _read(_write(tmp_path, content))
    assert headers == ["phone", "note"]
    assert rows == [(2, ["+31612345678", "two\nlines"]), (5, ["+31612345679", "x"])]


def test_broken_quoting_is_a_clear_error(tmp_path: Path) -> None:
    huge = b'phone,note\n+31612345678,"' + b"x" * (1 << 24) + b"\n"
    with pytest.raises(InputFileError, match=r"line \d+: malformed CSV"):
        _read(_write(tmp_path, huge))


def test_fast_plus_digits_parse_matches_phonenumbers_parse() -> None:
    from campaigner.planning.phones import _parse_plus_digits

    rng = random.Random(5)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    compared = 0
    for _ in range(20000):
        code = rng.choice([*codes, 39, 39, 7, 1, 44, 55, 54, 52, 31])
        text = f"+{code}{rng.choice(['', '0', '00', '9', '15'])}{rng.randrange(10 ** rng.randint(1, 14))}"
        fast = _parse_plus_digits(text)
        if fast is None:
            continue  # the caller falls back to phonenumbers.parse itself
        assert fast == phonenumbers.parse(text, None), text
        compared += 1
    assert compared > 15000
