"""When a number may be messaged: hours of day, days of the week and public holidays, in its own time.

    windows = SendingWindows.build(campaign_hours, table=True, overrides={"FR": (t(9), t(19))})
    windows.seconds_until_allowed("+33612345678", now)   # 0.0: now; 3600.0: in an hour; None: never

The rule for a number comes from its country (`country_windows.toml`, shipped, or `[default]` for
a country it does not list): the hours (a campaign's `--quiet-hours` replaces them for every
country, an account's per-country override for its country), the days it never allows and whether
its public holidays are excluded. With the table off only a campaign's hours apply, every day.

A number's time zones come from phonenumbers; where a prefix spans several zones the number may be
messaged only when every one of them allows it (the strictest reading), for the hours, the day and
the holiday alike. A number with no known zone is never held back: there is no local time to keep.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from campaigner.config import ComplianceSettings

UNKNOWN_ZONE = "Etc/Unknown"
DEFAULT = "*"  # the table's rule for a country it does not list
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Look this far ahead for an allowed moment: a Sunday next to two holidays still opens within it.
HORIZON = timedelta(days=14)
TABLE_FILE = "country_windows.toml"


@dataclass(frozen=True, slots=True)
class CountryRule:
    """When one country allows messages: local hours, days never allowed, whether holidays are off."""

    country: str  # ISO 3166 alpha-2, or DEFAULT
    start: time
    end: time
    days_off: frozenset[int] = frozenset()  # 0 = Monday, as date.weekday()
    holidays: bool = False
    kind: str = "convention"  # legal | convention (see the table's header)
    source: str = ""

    def describe(self) -> str:
        """The rule in a few words: "08:00-20:00, not Sun, not public holidays"."""
        parts = [f"{self.start:%H:%M}-{self.end:%H:%M}"]
        if self.days_off:
            parts.append("not " + "/".join(DAYS[d].capitalize() for d in sorted(self.days_off)))
        if self.holidays:
            parts.append("not public holidays")
        return ", ".join(parts)

    def allows_day(self, local: date) -> bool:
        """Whether messages may be sent on this local date at all."""
        if local.weekday() in self.days_off:
            return False
        return not (self.holidays and is_holiday(self.country, local))


def parse_window(text: str) -> tuple[time, time]:
    """ "08:00-20:00" as two times; ValueError with the reason otherwise."""
    start_text, sep, end_text = text.strip().partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a window: expected HH:MM-HH:MM, e.g. 08:00-20:00")
    try:
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a window: expected HH:MM-HH:MM, e.g. 08:00-20:00") from None
    if start == end:
        raise ValueError(f"{text!r} is an empty window: its start and end are the same time")
    return start, end


def rules_from_mapping(raw: Mapping[str, Any], where: str = TABLE_FILE) -> dict[str, CountryRule]:
    """The table's rules by country (DEFAULT for `[default]`); ValueError naming the entry."""
    rules = {DEFAULT: _rule(DEFAULT, raw.get("default"), f"{where}: [default]")}
    countries = raw.get("countries", {})
    if not isinstance(countries, Mapping):
        raise ValueError(f"{where}: [countries] must be a table of countries")
    for code, entry in countries.items():
        if code != code.upper() or code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{where}: [countries.{code}]: not a region code (ISO 3166 alpha-2)")
        rules[code] = _rule(code, entry, f"{where}: [countries.{code}]")
    return rules


def _rule(country: str, entry: Any, where: str) -> CountryRule:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: missing, or not a table")
    try:
        start, end = parse_window(str(entry["window"]))
        days = entry.get("days_off", [])
        unknown = [d for d in days if d not in DAYS]
        if unknown:
            raise ValueError(f"days_off: {unknown} are not days ({' '.join(DAYS)})")
        kind = entry.get("kind", "convention")
        if kind not in ("legal", "convention"):
            raise ValueError(f"kind: {kind!r} is neither 'legal' nor 'convention'")
        return CountryRule(
            country,
            start,
            end,
            frozenset(DAYS.index(d) for d in days),
            bool(entry.get("holidays", False)),
            kind,
            str(entry.get("source", "")).strip(),
        )
    except KeyError as exc:
        raise ValueError(f"{where}: {exc.args[0]} is missing") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


@lru_cache(maxsize=1)
def shipped_rules() -> dict[str, CountryRule]:
    """The table shipped in the package (country_windows.toml)."""
    text = (resources.files("campaigner.compliance") / TABLE_FILE).read_text(encoding="utf-8")
    return rules_from_mapping(tomllib.loads(text))


@lru_cache(maxsize=512)
def _holidays_of(country: str, year: int) -> frozenset[date]:
    import holidays  # only when a rule excludes holidays: it is slow to import

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:  # a country the package does not know: no holidays known
        return frozenset()


def is_holiday(country: str, local: date) -> bool:
    """Whether `local` is a national public holiday of `country` (False when none are known)."""
    return country != DEFAULT and local in _holidays_of(country, local.year)


@lru_cache(maxsize=65536)
def zones_for(e164: str) -> tuple[ZoneInfo, ...]:
    """The time zones of a number; empty when phonenumbers does not know them."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in phone_timezone.time_zones_for_number(number):
        if name == UNKNOWN_ZONE:
            continue
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)


@lru_cache(maxsize=65536)
def country_of(e164: str) -> str | None:
    """The region code of a number (FR, US, …), None when phonenumbers cannot tell."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def inside(local: time, start: time, end: time) -> bool:
    """Whether `local` lies in [start, end); a window past midnight (21:00-09:00) wraps."""
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def allowed(moment: datetime, zones: Iterable[ZoneInfo], rule: CountryRule) -> bool:
    """Whether `rule` allows `moment` in every one of `zones` (the strictest reading)."""
    for zone in zones:
        local = moment.astimezone(zone)
        if not inside(local.time().replace(tzinfo=None), rule.start, rule.end):
            return False
        if (rule.days_off or rule.holidays) and not rule.allows_day(local.date()):
            return False
    return True


def next_allowed(moment: datetime, zones: tuple[ZoneInfo, ...], rule: CountryRule) -> datetime | None:
    """The first moment from `moment` on that `rule` allows in every zone; None within HORIZON.

    Only a window's opening or a local midnight (a day off ending) can start an allowed stretch,
    so those are the moments to try, in order: the next three local days first (the usual case,
    and cheap: this runs for every job put back to wait), then the whole horizon.
    """
    if allowed(moment, zones, rule):
        return moment
    found = _first_allowed(moment, zones, rule, 3)
    # Anything on a fourth local day or later is at least two days away: the first pass had it all.
    if found is not None and found - moment < timedelta(days=2):
        return found
    return _first_allowed(moment, zones, rule, HORIZON.days + 1)


def _first_allowed(
    moment: datetime, zones: tuple[ZoneInfo, ...], rule: CountryRule, days: int
) -> datetime | None:
    candidates: set[datetime] = set()
    for zone in zones:
        today = moment.astimezone(zone).date()
        for ahead in range(days):
            day = today + timedelta(days=ahead)
            for at in (rule.start, time(0)):
                candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
                if moment < candidate <= moment + HORIZON:
                    candidates.add(candidate)
    for candidate in sorted(candidates):
        if allowed(candidate, zones, rule):
            return candidate
    return None


def closing(moment: datetime, zones: tuple[ZoneInfo, ...], rule: CountryRule) -> datetime:
    """When the allowed stretch that contains `moment` ends: the first zone to reach the window's
    end (a day off or holiday starts at a midnight, which is never inside a window ending later)."""
    ends = []
    for zone in zones:
        local = moment.astimezone(zone)
        end = datetime.combine(local.date(), rule.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), rule.end, tzinfo=zone)
        if rule.start <= rule.end or not (rule.days_off or rule.holidays):
            ends.append(end.astimezone(UTC))
            continue
        # A window past midnight (21:00-09:00) may run into a day off at midnight.
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
        blocked = not rule.allows_day(local.date() + timedelta(days=1))
        ends.append(min(end, midnight).astimezone(UTC) if blocked and midnight < end else end.astimezone(UTC))
    return min(ends)


@dataclass(frozen=True, slots=True)
class SendingWindows:
    """The windows one campaign sends in (see the module docstring for how a rule is chosen)."""

    hours: tuple[time, time] | None = None  # the campaign's --quiet-hours
    table: bool = False  # the shipped country table applies
    overrides: Mapping[str, tuple[time, time]] = field(default_factory=dict)  # account, per country
    rules: Mapping[str, CountryRule] = field(default_factory=dict)  # the table (shipped unless given)
    # rule_for's answers by country: it runs for every claimed job.
    _chosen: dict[str | None, CountryRule | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        hours: tuple[time, time] | None,
        *,
        table: bool,
        overrides: Mapping[str, tuple[time, time]] | None = None,
        rules: Mapping[str, CountryRule] | None = None,
    ) -> SendingWindows:
        """The windows of a campaign: its own hours (or None), and the account's table settings."""
        chosen = dict(rules) if rules is not None else (shipped_rules() if table else {})
        return cls(hours, table, dict(overrides or {}), chosen, {})

    def warm(self) -> None:
        """Import the holidays package now, if a rule needs it (a quarter second, better spent in a
        thread before the first claim than inside the dispatcher's loop)."""
        if self.table and any(rule.holidays for rule in self.rules.values()):
            import holidays  # noqa: F401

    @property
    def active(self) -> bool:
        """Whether anything holds a message back (False: send at any time)."""
        return self.hours is not None or self.table

    def rule_for(self, country: str | None) -> CountryRule | None:
        """The rule for numbers of `country` (None: no window at all)."""
        if country in self._chosen:
            return self._chosen[country]
        rule = self._choose(country)
        self._chosen[country] = rule
        return rule

    def _choose(self, country: str | None) -> CountryRule | None:
        if not self.table:
            if self.hours is None:
                return None
            return CountryRule(country or DEFAULT, *self.hours)
        base = self.rules.get(country or DEFAULT) or self.rules[DEFAULT]
        if country and base.country == DEFAULT:
            base = replace(base, country=country)  # its holidays are the country's own
        hours = self.hours or (self.overrides.get(country) if country else None)
        if hours is None:
            return base
        return replace(base, start=hours[0], end=hours[1])

    def seconds_until_allowed(self, e164: str, now: datetime | None = None) -> float | None:
        """0 when `e164` may be messaged now; else the seconds until it may; None if not within
        HORIZON (a rule that allows no day, or no moment common to its zones)."""
        now = now or datetime.now(UTC)
        rule = self.rule_for(country_of(e164))
        zones = zones_for(e164)
        if rule is None or not zones:
            return 0.0
        opening = next_allowed(now, zones, rule)
        return None if opening is None else (opening - now).total_seconds()

    def seconds_until_closed(self, e164: str, now: datetime | None = None) -> float | None:
        """Seconds left in `e164`'s window now (until the first of its zones leaves it); None when
        nothing holds it back (no rule, or no known zone)."""
        now = now or datetime.now(UTC)
        rule = self.rule_for(country_of(e164))
        zones = zones_for(e164)
        if rule is None or not zones or rule.start == rule.end:
            return None
        return max(0.0, (closing(now, zones, rule) - now).total_seconds())

    def country_opening(self, country: str, now: datetime) -> tuple[bool, datetime | None]:
        """(open now for some of its numbers, when it opens next) for a whole country, read in the
        zones of its numbers (`country_zones`): open when any zone allows now; else the first zone's
        opening. (False, None) when it never opens within HORIZON; (True, None) when no rule holds
        it back."""
        rule = self.rule_for(country or None)
        zones = country_zones(country) if country else ()
        if rule is None or not zones:
            return True, None
        openings = [next_allowed(now, (zone,), rule) for zone in zones]
        if any(at == now for at in openings):
            return True, now
        found = [at for at in openings if at is not None]
        return False, min(found) if found else None


def windows_from_settings(hours: tuple[time, time] | None, settings: ComplianceSettings) -> SendingWindows:
    """A campaign's windows: its own `hours` (or None) under the account's `[compliance]`."""
    overrides = {country: parse_window(text) for country, text in settings.quiet_hours_countries.items()}
    return SendingWindows.build(hours, table=settings.quiet_hours == "country", overrides=overrides)


@lru_cache(maxsize=512)
def country_zones(country: str) -> tuple[ZoneInfo, ...]:
    """The time zones phonenumbers gives the numbers of a country (from its mobile example number
    when the country has one zone; all zones of its prefixes' data otherwise)."""
    names: set[str] = set()
    code = phonenumbers.country_code_for_region(country)
    if not code:
        return ()
    prefix = str(code)
    data: dict[str, tuple[str, ...]] = getattr(phone_timezone, "TIMEZONE_DATA", {})
    for key, value in data.items():
        if not key.startswith(prefix):
            continue
        # A shared calling code (+1, +7): keep only the prefixes of this country.
        if len(phonenumbers.region_codes_for_country_code(code)) > 1:
            try:
                number = phonenumbers.parse("+" + key.ljust(len(prefix) + 10, "0"), None)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.region_code_for_number(number) != country:
                continue
        names.update(value)
    zones = []
    for name in sorted(names - {UNKNOWN_ZONE}):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)


@dataclass(frozen=True, slots=True)
class CountryWindow:
    """One country's window as the views show it: is it open, when it opens, how much waits."""

    country: str  # '' when unknown
    window: str  # the rule in words ("08:00-20:00, not Sun, not public holidays"; "any time")
    open_now: bool  # open now for at least some of its numbers (a country across zones)
    opens_at: datetime | None  # when it opens next (while closed; None: not within HORIZON)
    waiting: int  # messages left for the country that wait for its window (0 while it is open)


def country_windows(
    windows: SendingWindows, left_by_country: Mapping[str, int], now: datetime
) -> tuple[CountryWindow, ...]:
    """Per country with messages left: its window now; empty when no window holds anything back.
    Closed countries first (soonest opening first), then the open ones, by messages left."""
    if not windows.active:
        return ()
    lines = []
    for country, left in left_by_country.items():
        if left <= 0:
            continue
        rule = windows.rule_for(country or None)
        is_open, opens_at = windows.country_opening(country, now)
        described = (
            "any time" if rule is None or (country and not country_zones(country)) else rule.describe()
        )
        if not country:
            described = "any time (no known time zone)"
        lines.append(
            CountryWindow(country, described, is_open, None if is_open else opens_at, 0 if is_open else left)
        )
    far = now + HORIZON + timedelta(days=1)
    return tuple(
        sorted(
            lines, key=lambda c: (c.open_now, c.opens_at or far, -c.waiting if c.waiting else 0, c.country)
        )
    )
