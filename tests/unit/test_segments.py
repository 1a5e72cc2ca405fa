"""Segment counting and smart encoding against the standard, published vectors and constructed edges."""

from __future__ import annotations

import copy
import json
import pickle
import random
from dataclasses import asdict

import pytest

from campaigner.text.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    count_segments,
    is_gsm7,
    non_gsm_chars,
    smart_encode,
    smart_encode_report,
    smart_replacements,
)
from campaigner.text.smart_encoding import SMART_ENCODING_TABLE


def reference_count(text: str) -> tuple[str, int, int, list[int]]:
    """A deliberately naive char-by-char implementation of the rules, to check the fast one."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding, single, multi = "GSM-7", 160, 153
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        encoding, single, multi = "UCS-2", 70, 67
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(costs)
    if units <= single:
        return encoding, 1, units, [units]
    parts, current = [], 0
    for cost in costs:
        if current + cost > multi:
            parts.append(current)
            current = 0
        current += cost
    parts.append(current)
    return encoding, len(parts), units, parts


def as_tuple(text: str) -> tuple[str, int, int, list[int]]:
    result = count_segments(text)
    return result.encoding, result.segments, result.units, list(result.parts)


# --- the alphabet itself -------------------------------------------------------------------------


def test_default_alphabet_has_the_127_characters_of_ts_23038() -> None:
    # 128 code points, minus 0x1B (the escape to the extension table).
    assert len(GSM7_BASIC) == 127
    assert len(set(GSM7_BASIC)) == 127
    assert set("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r") <= set(GSM7_BASIC)
    assert set(GSM7_EXTENSION) == set("\f^{}\\[~]|€")


def test_c_cedilla_small_is_not_gsm_but_capital_is() -> None:
    assert count_segments("Ç").encoding == "GSM-7"
    assert count_segments("ç").encoding == "UCS-2"
    assert non_gsm_chars("Garçon Ç") == ["ç"]


def test_greek_capitals_are_gsm_but_look_alike_symbols_are_not() -> None:
    assert as_tuple("ΔΦΓΛΩΠΨΣΘΞ") == ("GSM-7", 1, 10, [10])
    assert count_segments("\u2206").encoding == "UCS-2"  # INCREMENT, not GREEK CAPITAL DELTA
    assert count_segments("\u2126").encoding == "UCS-2"  # OHM SIGN
    assert count_segments("α").encoding == "UCS-2"  # Greek small letters are not in it


def test_newline_and_carriage_return_are_one_septet_each() -> None:
    assert as_tuple("a\nb\r\n") == ("GSM-7", 1, 5, [5])


def test_backtick_and_tab_are_not_gsm() -> None:
    assert count_segments("a`b").encoding == "UCS-2"
    assert count_segments("a\tb").encoding == "UCS-2"
    assert count_segments("a\x00b").encoding == "UCS-2"


@pytest.mark.parametrize("char", list("\f^{}\\[~]|€"))
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert as_tuple(char) == ("GSM-7", 1, 2, [2])
    assert as_tuple("x" * 158 + char) == ("GSM-7", 1, 160, [160])
    assert as_tuple("x" * 159 + char) == ("GSM-7", 2, 161, [153, 8])


def test_euro_sign() -> None:
    assert as_tuple("Only €5") == ("GSM-7", 1, 8, [8])


# --- exact limits --------------------------------------------------------------------------------


def test_empty_message_is_one_gsm_segment_of_zero_units() -> None:
    assert as_tuple("") == ("GSM-7", 1, 0, [0])


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (1, (1, [1])),
        (160, (1, [160])),
        (161, (2, [153, 8])),
        (306, (2, [153, 153])),
        (307, (3, [153, 153, 1])),
        (459, (3, [153, 153, 153])),
        (1600, (11, [153] * 10 + [70])),
    ],
)
def test_gsm_limits_160_and_153(length: int, expected: tuple[int, list[int]]) -> None:
    result = count_segments("a" * length)
    assert (result.encoding, result.segments, list(result.parts)) == ("GSM-7", *expected)
    assert result.units == length


@pytest.mark.parametrize(
    ("length", "expected"),
    [(70, (1, [70])), (71, (2, [67, 4])), (134, (2, [67, 67])), (135, (3, [67, 67, 1]))],
)
def test_ucs2_limits_70_and_67(length: int, expected: tuple[int, list[int]]) -> None:
    result = count_segments("ж" * length)
    assert (result.encoding, result.segments, list(result.parts)) == ("UCS-2", *expected)


def test_gsm_characters_in_a_ucs2_message_cost_one_unit_each() -> None:
    assert as_tuple("€{}" + "ç") == ("UCS-2", 1, 4, [4])


# --- pairs at part boundaries --------------------------------------------------------------------


def test_extension_char_at_the_boundary_moves_to_the_next_part() -> None:
    # 152 plain septets, then € (2): it does not fit in 153, the first part closes at 152.
    assert as_tuple("a" * 152 + "€" + "a" * 10) == ("GSM-7", 2, 164, [152, 12])
    # Within a single segment the same text is not split at all.
    assert as_tuple("a" * 152 + "€" + "a") == ("GSM-7", 1, 155, [155])
    # 151 plain + € = 153 exactly: fits.
    assert as_tuple("a" * 151 + "€" + "a" * 10) == ("GSM-7", 2, 163, [153, 10])


def test_extension_chars_at_every_boundary() -> None:
    text = ("a" * 152 + "{") * 3
    assert as_tuple(text) == reference_count(text)
    assert count_segments(text).parts == [152, 153, 153, 4]


def test_only_extension_chars() -> None:
    assert as_tuple("€" * 80) == ("GSM-7", 1, 160, [160])
    assert as_tuple("€" * 81) == ("GSM-7", 2, 162, [152, 10])


def test_emoji_is_a_surrogate_pair_of_two_units() -> None:
    assert as_tuple("😀") == ("UCS-2", 1, 2, [2])
    assert as_tuple("😀" * 35) == ("UCS-2", 1, 70, [70])
    assert as_tuple("😀" * 36) == ("UCS-2", 2, 72, [66, 6])


def test_emoji_at_the_67_unit_boundary_moves_to_the_next_part() -> None:
    assert as_tuple("ж" * 66 + "😀" + "ж" * 10) == ("UCS-2", 2, 78, [66, 12])
    assert as_tuple("ж" * 65 + "😀" + "ж" * 10) == ("UCS-2", 2, 77, [67, 10])


def test_published_vectors() -> None:
    # Twilio's segment calculator examples: a plain sentence, smart quotes, an emoji.
    assert as_tuple("Hello world!") == ("GSM-7", 1, 12, [12])
    assert count_segments("“Hello”").encoding == "UCS-2"
    assert as_tuple("Emoji 😊😊😊") == ("UCS-2", 1, 12, [12])
    assert as_tuple("Hej med æøå") == ("GSM-7", 1, 11, [11])  # Danish letters are all in the alphabet
    assert as_tuple("Żółć") == ("UCS-2", 1, 4, [4])  # Polish ones are not


def test_long_mixed_message() -> None:
    text = ("Dear Zoë, your order #123 ships {today}; total €42 — thanks! 😀\n" * 8).strip()
    assert as_tuple(text) == reference_count(text)
    assert count_segments(text).encoding == "UCS-2"


def test_random_strings_match_the_reference_and_keep_the_invariants() -> None:
    rng = random.Random(2024)
    alphabets = [
        list("abc XYZ019.,!"),
        list("abc XYZ.,!€{}[]^~|\\\féÇ£\n\rΔΩ"),
        [*"abc €{}éÇ😀ç—`\x01中ж", "\U0001f468"],
    ]
    for i in range(3000):
        alphabet = alphabets[i % 3]
        text = "".join(
            rng.choice(alphabet) if rng.random() < 0.4 else "a" for _ in range(rng.randint(0, 500))
        )
        result = count_segments(text)
        assert as_tuple(text) == reference_count(text), text
        assert sum(result.parts) == result.units
        assert result.segments == len(result.parts)
        limit = (160 if result.encoding == "GSM-7" else 70) if result.segments == 1 else None
        multi = 153 if result.encoding == "GSM-7" else 67
        assert all(part <= (limit or multi) for part in result.parts)


# --- the result object ---------------------------------------------------------------------------


def test_result_is_frozen_and_its_parts_read_only() -> None:
    result = count_segments("a" * 200)
    with pytest.raises(AttributeError):
        result.segments = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.parts.append(1)
    with pytest.raises(TypeError):
        result.parts[0] = 1
    assert count_segments("a" * 200).parts == [153, 47]


def test_result_serialises_copies_and_pickles() -> None:
    result = count_segments("x" * 170 + "€")
    assert json.loads(json.dumps(asdict(result))) == {
        "encoding": "GSM-7",
        "segments": 2,
        "units": 172,
        "parts": [153, 19],
    }
    assert copy.deepcopy(result) == result
    assert pickle.loads(pickle.dumps(result)) == result


def test_is_gsm7_and_non_gsm_chars() -> None:
    assert is_gsm7("Hello {name} €")
    assert not is_gsm7("Hi 😀")
    assert non_gsm_chars("a😀b“c😀”") == ["😀", "“", "”"]
    assert non_gsm_chars("plain") == []


# --- smart encoding ------------------------------------------------------------------------------


def test_smart_encode_replaces_quotes_dashes_ellipsis_and_spaces() -> None:
    original = "“Hi” ‘there’ — it’s… 5–6 «ok»\u00a0now\u2009please\u3000x\u200b."
    assert smart_encode(original) == '"Hi" \'there\' - it\'s... 5-6 "ok" now please x.'
    assert count_segments(smart_encode(original)).encoding == "GSM-7"


def test_smart_encode_changes_nothing_else() -> None:
    text = "Zoë, ça va? Ünïcödé 😀 中文 €{} ç"
    assert smart_encode(text) == text
    plain = "Hello world"
    assert smart_encode(plain) is plain


def test_every_replacement_is_gsm7_and_shorter_or_equal_in_spirit() -> None:
    for char, replacement in SMART_ENCODING_TABLE.items():
        assert not is_gsm7(char) or char == "\u0060" or char.isspace() or ord(char) < 0x20, char
        assert is_gsm7(replacement), (char, replacement)
        assert len(replacement) <= 3


def test_dashes_primes_and_odd_spaces_are_covered() -> None:
    for char in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212":
        assert smart_encode(char) == "-", hex(ord(char))
    assert smart_encode("5′ 6″") == "5' 6\""
    for code in [0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000]:
        assert smart_encode(f"a{chr(code)}b") == "a b", hex(code)
    assert smart_encode("a\u200b\u2060\ufeffb") == "ab"
    assert smart_encode("‹a›") == "<a>"


def test_zero_width_joiner_in_emoji_is_kept() -> None:
    family = "👨\u200d👩\u200d👧"
    assert smart_encode(family) == family


def test_smart_replacements_lists_what_changed() -> None:
    changes = smart_replacements("“a” “b” …")
    assert [(r.char, r.replacement, r.count) for r in changes] == [
        ("“", '"', 2),
        ("”", '"', 2),
        ("…", "...", 1),
    ]
    assert changes[0].codepoint == "U+201C"
    assert changes[0].name == "LEFT DOUBLE QUOTATION MARK"


def test_smart_encode_report_counts_before_and_after() -> None:
    text = "It’s " + "a" * 100
    report = smart_encode_report(text)
    assert report.before.encoding == "UCS-2"
    assert report.before.segments == 2
    assert report.after.encoding == "GSM-7"
    assert report.after.segments == 1
    assert report.saved_segments == 1
    assert report.text == "It's " + "a" * 100


def test_smart_encoding_can_cost_more_and_says_so() -> None:
    report = smart_encode_report("…" * 70)
    assert report.before.segments == 1
    assert report.after.segments == 2
    assert report.saved_segments == -1
