"""One phone number as people paste it → E.164, its country and whether it can take an SMS.

`PhoneClassifier.classify(raw)` is the only entry point. It accepts what spreadsheets and CRMs
really contain (spaces, dashes, dots, brackets, `(0)`, `00` and `+` prefixes, `tel:` URIs,
non-breaking and zero-width spaces, non-ASCII digits, a leading apostrophe) and promises:

- `invalid` when libphonenumber cannot parse the number or does not consider it valid
  (Excel's scientific notation such as `3.16123E+10` included);
- `not_sms_capable` when the number's type is in the excluded set;
- otherwise `ok`, with the E.164 form and the ISO region (None for non-geographic numbers).

Speed matters (a 10-million-row list is normal), so the classifier does each piece of
libphonenumber work once: a number's type is `UNKNOWN` exactly when `is_valid_number` is false
(both run the same `_number_type_helper` against the metadata of `region_code_for_number`), so
validity is not checked separately; and results are cached by the raw string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType, phonenumberutil

OK: Final = "ok"
INVALID: Final = "invalid"
NOT_SMS_CAPABLE: Final = "not_sms_capable"

# Characters that are only formatting, including the invisible ones spreadsheets and web forms add.
_JUNK = "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000\u200b\u200c\u200d\u2060\ufeff\u200e\u200f"
_JUNK += '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\t\r\n"“”‘’'
_TRANSLATE: Final = {ord(c): None for c in _JUNK} | {ord("＋"): "+", ord("‐"): "-", ord("–"): "-"}
_SCIENTIFIC: Final = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+")
_URI_PREFIX: Final = re.compile(r"(?i)^(?:tel|sms|callto):/{0,2}")
_TYPE_NAMES: Final = {value: name for name, value in vars(PhoneNumberType).items() if name.isupper()}
_NON_GEO: Final = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
_CACHE_LIMIT: Final = 50_000
_PLAIN: Final = re.compile(r"\+?[0-9(][0-9 ().\-/]*")
_NOT_DIGIT: Final = re.compile(r"[^0-9]")


class PhoneResult(NamedTuple):
    """The verdict on one raw value. `e164`/`country`/`type` are set when libphonenumber parsed it."""

    status: str  # ok | invalid | not_sms_capable
    e164: str | None
    country: str | None
    number_type: str | None
    detail: str


def clean(raw: str) -> str:
    """The raw value without formatting junk: invisible characters, quotes, `tel:`, non-ASCII digits."""
    text = raw.translate(_TRANSLATE).strip()
    while text.startswith("'"):
        # A leading apostrophe is how spreadsheets keep a number as text (and keep its '+').
        text = text[1:].lstrip()
    if text[:3].lower() in ("tel", "sms", "cal"):
        text = _URI_PREFIX.sub("", text)
    if not text.isascii():
        text = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)
    return text


class PhoneClassifier:
    """Classifies raw phone values for one default region and one set of excluded number types.

    Not thread-safe (it keeps a cache); make one per process. `default_region` None or "" means
    only international formats (`+31…`, `0031…`) are accepted.
    """

    def __init__(self, default_region: str | None, excluded_types: Iterable[str]) -> None:
        self.region = (default_region or "").upper() or None
        self.excluded = frozenset(excluded_types)
        self._cache: dict[str, PhoneResult] = {}
        # Keep parse's compiled metadata patterns instead of re-compiling through re's small cache.
        phonenumbers.enable_pattern_cache()
        self._canonical: dict[str, PhoneResult] = {}

    def classify(self, raw: str) -> PhoneResult:
        """The verdict on `raw` (cached: the same raw string always gets the same answer)."""
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        result = self._classify(raw)
        if len(self._cache) >= _CACHE_LIMIT:
            # Bounded memory: a crude reset is enough, duplicates cluster in real lists.
            self._cache.clear()
        self._cache[raw] = result
        return result

    def _classify(self, raw: str) -> PhoneResult:
        text = clean(raw)
        if not text:
            return PhoneResult(INVALID, None, None, None, "empty")
        if _SCIENTIFIC.fullmatch(text):
            return PhoneResult(
                INVALID, None, None, None, "number mangled by a spreadsheet (scientific notation)"
            )
        if _PLAIN.fullmatch(text):
            # Only digits and separators: parse ignores the separators, so parse the bare digits
            # (less work for it) and let differently written copies of a number share a cache entry.
            text = ("+" if text.startswith("+") else "") + _NOT_DIGIT.sub("", text)
            cached = self._canonical.get(text)
            if cached is not None:
                return cached
            number = _parse_plus_digits(text) if text.startswith("+") else None
            result = self._parse(text) if number is None else self._judge(number)
            if len(self._canonical) >= _CACHE_LIMIT:
                self._canonical.clear()
            self._canonical[text] = result
            return result
        return self._parse(text)

    def _parse(self, text: str) -> PhoneResult:
        if text.startswith("00") and self.region is None:
            # "00" is the international prefix almost everywhere; without a default region it is
            # the only way to read such a number at all.
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
                if text.startswith("+"):
                    return PhoneResult(INVALID, None, None, None, "cannot parse: unknown country code")
                if not self.region:
                    return PhoneResult(INVALID, None, None, None, "no country code (and no default region)")
            return PhoneResult(INVALID, None, None, None, f"cannot parse: {_parse_error(exc)}")
        return self._judge(number)

    def _judge(self, number: phonenumbers.PhoneNumber) -> PhoneResult:
        region, type_value = _region_and_type(number)
        e164 = f"+{number.country_code}{phonenumberutil.national_significant_number(number)}"
        country = None if region in (None, _NON_GEO) else region
        if type_value == PhoneNumberType.UNKNOWN:
            where = f"+{number.country_code}" + (f" ({region})" if region and region != _NON_GEO else "")
            return PhoneResult(INVALID, e164, country, None, f"not a valid number for {where}")
        type_name = _TYPE_NAMES.get(type_value, "UNKNOWN")
        if type_name in self.excluded:
            return PhoneResult(NOT_SMS_CAPABLE, e164, country, type_name, type_name.lower().replace("_", " "))
        return PhoneResult(OK, e164, country, type_name, "")


def _parse_error(exc: phonenumbers.NumberParseException) -> str:
    names = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return names.get(exc.error_type, "not a phone number")


def _region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """`region_code_for_number` and `number_type` in one pass.

    Both public functions find the region first; for a calling code shared by several regions
    (+1, +44, +7, …) that search itself runs the full type check, and `number_type` would then
    run it again. This does the same search once and keeps the type it found. It reads the same
    metadata the public functions read, so its answers are theirs (tests/unit/test_recipients.py
    checks that on thousands of numbers).
    """
    country_code = number.country_code or 0
    regions = phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None, PhoneNumberType.UNKNOWN
    nsn = phonenumberutil.national_significant_number(number)
    if len(regions) == 1:
        region = regions[0]
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None:
            return region, PhoneNumberType.UNKNOWN
        return region, _type_of(nsn, metadata)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, nsn):
                return region, _type_of(nsn, metadata)
        else:
            found = _type_of(nsn, metadata)
            if found != PhoneNumberType.UNKNOWN:
                return region, found
    return None, PhoneNumberType.UNKNOWN


# A PhoneNumberDesc reduced to what matching needs: its possible lengths (empty: any) and its
# national-number pattern compiled once (None: matches nothing).
_Desc = tuple[frozenset[int], "re.Pattern[str] | None"]
_TYPE_ORDER: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_COMPILED: dict[int, tuple[_Desc, list[tuple[_Desc, int]], _Desc, _Desc, bool]] = {}


def _desc(desc: object) -> _Desc:
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    lengths = frozenset(getattr(desc, "possible_length", None) or ()) if desc is not None else frozenset()
    return lengths, (re.compile(pattern) if pattern else None)


def _matches(nsn: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    if pattern is None or (lengths and len(nsn) not in lengths):
        return False
    return pattern.fullmatch(nsn) is not None


def _type_of(nsn: str, metadata: PhoneMetadata) -> int:
    """phonenumbers' `_number_type_helper`, same rules in the same order, patterns compiled once.

    (The library compiles each pattern string through a cache on every call, which is a third of
    the cost of `number_type`.)
    """
    compiled = _COMPILED.get(id(metadata))
    if compiled is None:
        compiled = (
            _desc(metadata.general_desc),
            [(_desc(getattr(metadata, name)), kind) for name, kind in _TYPE_ORDER],
            _desc(metadata.fixed_line),
            _desc(metadata.mobile),
            bool(metadata.same_mobile_and_fixed_line_pattern),
        )
        # Metadata objects are module-level singletons, so their id is a stable key.
        _COMPILED[id(metadata)] = compiled
    general, ordered, fixed_line, mobile, same_pattern = compiled
    # A desc without possible lengths of its own inherits the general ones, checked here.
    if not _matches(nsn, general):
        return PhoneNumberType.UNKNOWN
    for desc, kind in ordered:
        if _matches(nsn, desc):
            return kind
    if _matches(nsn, fixed_line):
        if same_pattern or _matches(nsn, mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not same_pattern and _matches(nsn, mobile):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


_SHORT_LENGTHS: Final = (
    phonenumberutil.ValidationResult.TOO_SHORT,
    phonenumberutil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumberutil.ValidationResult.INVALID_LENGTH,
)


def _parse_plus_digits(text: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(text)` for `text` = "+" and ASCII digits only, or None to use parse itself.

    This is parse's own path for that input, step for step (country code, national prefix
    stripped only if the rest still has a possible length, length limits, Italian leading
    zero), without the generic extraction and normalisation that cost two thirds of parse.
    Anything unusual (no known country code, too short or too long) returns None, and the
    caller runs the real parse, which raises the real error.
    """
    country_code, national = phonenumberutil._extract_country_code(text[1:])
    if country_code == 0:
        return None
    region = phonenumberutil.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None or len(national) < 2:
        return None
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if phonenumberutil._test_number_length(stripped, metadata) not in _SHORT_LENGTHS:
        national = stripped
    if not 2 <= len(national) <= 17:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    return number
