"""A reply's sender is read as the loader reads a recipient.

Every number below is one person, +31 6 1234 5678, written as providers and phones really write
it; the inbound path used to strip only spaces, dashes, dots and brackets, which turned the first
into +310612345678 (another number) and dropped most of the rest.
"""

from __future__ import annotations

import pytest

from campaigner.inbound.numbers import ReplyNumbers
from campaigner.planning.phones import PhoneClassifier

PERSON = "+31612345678"
OUR_NUMBER = "+3197010203040"  # a Dutch number of ours: national senders are read as Dutch

FORMATS = [
    "+31 (0)6 1234 5678",
    "+31612345678",
    "06 1234 5678",
    "06-12345678",
    "tel:+31612345678",
    "sms:+31-6-1234-5678",
    "＋３１ ６ １２３４ ５６７８",  # full-width
    "+٣١٦١٢٣٤٥٦٧٨",  # Arabic-Indic digits
    "+31\u200b612345678",  # a zero-width space
    "\u202a+31 6 12345678\u202c",  # bidirectional marks
    "'+31612345678",  # a spreadsheet's leading apostrophe
    "0031612345678",  # Clickatell and others: the international prefix
    "+0031612345678",  # Clickatell's client puts a '+' before it
    "31612345678",  # MSISDN: international without '+'
    "+0612345678",  # a '+' before a national number
]


@pytest.mark.parametrize("raw", FORMATS)
def test_every_way_of_writing_the_number_is_the_loaders_e164(raw: str) -> None:
    numbers = ReplyNumbers(None)
    assert numbers.sender(raw, OUR_NUMBER).e164 == PERSON
    # The same E.164 the loader gave this person's jobs.
    assert PhoneClassifier("NL", ()).classify("06 1234 5678").e164 == PERSON


def test_a_national_number_is_read_in_the_receiving_numbers_region_before_the_default() -> None:
    # A provider writes a sender nationally only when it is local to the network that received it.
    assert ReplyNumbers("DE").sender("06 1234 5678", OUR_NUMBER).e164 == PERSON
    assert ReplyNumbers("US").sender("(202) 555-0123", "+12025550100").e164 == "+12025550123"
    # No receiving number (or one that is not a phone number, a short code): the default region.
    assert ReplyNumbers("NL").sender("06 1234 5678", "").e164 == PERSON
    assert ReplyNumbers("NL").sender("06 1234 5678", "4455").e164 == PERSON


def test_00_is_the_international_prefix_even_where_the_regions_own_is_another() -> None:
    assert ReplyNumbers("US").sender("0031612345678", "").e164 == PERSON
    assert ReplyNumbers("US").sender("011 31 6 12345678", "").e164 == PERSON


@pytest.mark.parametrize(
    "raw", ["", "   ", "hello", "12", "+999 1234", "06 1234 5678", "3.16123E+10", "+31 6 1234"]
)
def test_a_number_that_does_not_parse_is_none_with_the_reason(raw: str) -> None:
    # "06 1234 5678" without any region (no default, no receiving number) cannot be read.
    sender = ReplyNumbers(None).sender(raw, "")
    assert sender.e164 is None
    assert sender.problem


def test_any_valid_number_counts_whatever_its_type() -> None:
    # The loader sets fixed lines aside by default; a STOP from one is still honoured.
    assert ReplyNumbers(None).sender("+31 20 123 4567", "").e164 == "+31201234567"
