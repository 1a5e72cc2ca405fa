"""Sending windows per destination country: the shipped table, days off, holidays, zones, DST.

Every moment is fixed (no wall clock): a Paris, New York or Amsterdam local time turned into UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigner.compliance.windows import (
    DEFAULT,
    SendingWindows,
    country_of,
    inside,
    rules_from_mapping,
    shipped_rules,
    windows_from_settings,
    zones_for,
)
from campaigner.config import ComplianceSettings, config_from_mapping
from campaigner.config_env import ConfigProblems

PARIS, NEW_YORK, AMSTERDAM = (
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/Amsterdam"),
)
FR, US, NL, DE = "+33612345678", "+12125551234", "+31612345678", "+4915123456789"
TABLE = SendingWindows.build(None, table=True)
HOUR = 3600.0


def at(zone: ZoneInfo, *parts: int) -> datetime:
    """A local wall time in `zone`, as UTC."""
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def test_the_shipped_table_reads_and_every_rule_says_where_it_comes_from() -> None:
    rules = shipped_rules()
    assert {DEFAULT, "US", "FR", "DE"} <= set(rules)
    assert rules[DEFAULT].start == time(8) and rules[DEFAULT].end == time(21)
    assert rules["FR"].describe() == "08:00-20:00, not Sun, not public holidays"
    for rule in rules.values():
        assert rule.kind in ("legal", "convention") and rule.source, rule.country


def test_a_french_number_waits_on_sunday_until_monday_eight_paris_time() -> None:
    sunday_noon = at(PARIS, 2026, 11, 29, 12, 0)
    monday_eight = at(PARIS, 2026, 11, 30, 8, 0)
    assert TABLE.seconds_until_allowed(FR, sunday_noon) == (monday_eight - sunday_noon).total_seconds()
    assert TABLE.seconds_until_allowed(FR, at(PARIS, 2026, 11, 30, 9, 0)) == 0


def test_a_saturday_evening_in_france_skips_the_sunday() -> None:
    saturday_late = at(PARIS, 2026, 11, 28, 20, 30)  # after 20:00: Sunday is off, so Monday 08:00
    assert TABLE.seconds_until_allowed(FR, saturday_late) == pytest.approx(35.5 * HOUR)
    assert TABLE.seconds_until_allowed(FR, at(PARIS, 2026, 11, 28, 19, 59)) == 0


def test_a_public_holiday_is_off_where_the_table_says_so() -> None:
    bastille_day = at(PARIS, 2026, 7, 14, 10, 0)  # a Tuesday
    assert TABLE.seconds_until_allowed(FR, bastille_day) == pytest.approx(22 * HOUR)
    # The Netherlands are not listed: the default window, holidays not excluded (Christmas Day).
    assert TABLE.seconds_until_allowed(NL, at(AMSTERDAM, 2026, 12, 25, 10, 0)) == 0
    # Germany's national holidays are off (German Unity Day, a Saturday in 2026).
    assert TABLE.seconds_until_allowed(
        DE, at(ZoneInfo("Europe/Berlin"), 2026, 10, 3, 10, 0)
    ) == pytest.approx(46 * HOUR)


def test_us_numbers_keep_the_table_hours_in_their_own_zone() -> None:
    evening = at(NEW_YORK, 2026, 11, 24, 19, 30)
    assert TABLE.seconds_until_allowed(US, evening) == 0
    late = at(NEW_YORK, 2026, 11, 24, 20, 30)
    assert TABLE.seconds_until_allowed(US, late) == pytest.approx(12.5 * HOUR)


def test_a_number_across_zones_waits_until_every_zone_has_left_its_day_off() -> None:
    rules = rules_from_mapping(
        {
            "default": {"window": "08:00-21:00"},
            "countries": {"RU": {"window": "00:00-23:59", "days_off": ["sun"], "source": "test"}},
        }
    )
    windows = SendingWindows.build(None, table=True, rules=rules)
    zones = zones_for("+79161234567")  # Russian mobiles: from Europe/Bucharest to Asia/Anadyr
    sunday_evening = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # Monday in Anadyr, Sunday in Bucharest
    wait = windows.seconds_until_allowed("+79161234567", sunday_evening)
    assert wait == pytest.approx(2 * HOUR)  # Bucharest (UTC+2) reaches Monday at 22:00 UTC
    opening = sunday_evening + timedelta(seconds=wait or 0)
    assert all(opening.astimezone(zone).weekday() == 0 for zone in zones)


def test_dst_changes_move_the_opening_by_the_hour_gained_or_lost() -> None:
    # Autumn: Saturday 22:00 CEST to Sunday 08:00 CET is 11 hours.
    assert TABLE.seconds_until_allowed(NL, at(AMSTERDAM, 2026, 10, 24, 22, 0)) == pytest.approx(11 * HOUR)
    # Spring: Saturday 22:00 CET to Sunday 08:00 CEST is 9 hours.
    assert TABLE.seconds_until_allowed(NL, at(AMSTERDAM, 2026, 3, 28, 22, 0)) == pytest.approx(9 * HOUR)
    # The hours are wall-clock hours on either side: 07:59 waits a minute, 08:00 sends.
    after = datetime(2026, 10, 25, 6, 59, tzinfo=UTC)  # 07:59 CET, the first day after the change
    assert TABLE.seconds_until_allowed(NL, after) == pytest.approx(60)
    assert TABLE.seconds_until_allowed(NL, after + timedelta(minutes=1)) == 0


def test_a_campaigns_hours_replace_the_tables_hours_but_not_its_days() -> None:
    windows = SendingWindows.build((time(9), time(22)), table=True)
    assert windows.seconds_until_allowed(FR, at(PARIS, 2026, 11, 28, 21, 0)) == 0  # Saturday 21:00
    assert windows.seconds_until_allowed(FR, at(PARIS, 2026, 11, 29, 12, 0)) == pytest.approx(21 * HOUR)
    # With the table off, the campaign's hours hold every day alike, Sunday too.
    plain = SendingWindows.build((time(9), time(22)), table=False)
    assert plain.seconds_until_allowed(FR, at(PARIS, 2026, 11, 29, 12, 0)) == 0


def test_nothing_holds_messages_back_with_the_table_off_and_no_hours() -> None:
    windows = SendingWindows.build(None, table=False)
    assert not windows.active
    assert windows.seconds_until_allowed(FR, at(PARIS, 2026, 11, 29, 3, 0)) == 0
    assert windows.seconds_until_closed(FR, at(PARIS, 2026, 11, 29, 3, 0)) is None


def test_an_accounts_country_hours_replace_the_tables_for_that_country_only() -> None:
    settings = ComplianceSettings(quiet_hours="country", quiet_hours_countries={"FR": "09:00-19:00"})
    windows = windows_from_settings(None, settings)
    assert windows.seconds_until_allowed(FR, at(PARIS, 2026, 11, 30, 8, 30)) == pytest.approx(0.5 * HOUR)
    assert windows.seconds_until_allowed(FR, at(PARIS, 2026, 11, 30, 19, 0)) == pytest.approx(14 * HOUR)
    assert windows.seconds_until_allowed(NL, at(AMSTERDAM, 2026, 11, 30, 8, 30)) == 0
    assert not windows_from_settings(None, ComplianceSettings()).active  # the default: off


def test_the_time_left_in_a_window_ends_at_the_first_zone_to_close() -> None:
    assert TABLE.seconds_until_closed(FR, at(PARIS, 2026, 11, 28, 19, 0)) == pytest.approx(HOUR)
    assert TABLE.seconds_until_closed(US, at(NEW_YORK, 2026, 11, 24, 18, 0)) == pytest.approx(2 * HOUR)


def test_a_countrys_window_for_the_views() -> None:
    assert TABLE.country_opening("FR", at(PARIS, 2026, 11, 29, 12, 0)) == (
        False,
        at(PARIS, 2026, 11, 30, 8, 0),
    )
    now = at(PARIS, 2026, 11, 30, 12, 0)
    assert TABLE.country_opening("FR", now) == (True, now)
    # The US opens when its easternmost zone does (09:00 in New York), not all at once.
    is_open, opening = TABLE.country_opening("US", at(NEW_YORK, 2026, 11, 24, 7, 0))
    assert not is_open and opening == at(NEW_YORK, 2026, 11, 24, 9, 0)
    assert SendingWindows.build(None, table=False).country_opening("FR", now) == (True, None)


def test_countries_come_from_the_number() -> None:
    assert (country_of(FR), country_of(US), country_of("+4411")) == ("FR", "US", None)
    assert inside(time(23), time(21), time(9))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"default": {"window": "8-21"}}, "[default]: '8-21' is not a window"),
        ({"default": {"window": "08:00-21:00", "days_off": ["sunday"]}}, "days_off: ['sunday'] are not days"),
        ({"default": {"window": "08:00-08:00"}}, "is an empty window"),
        (
            {"default": {"window": "08:00-21:00"}, "countries": {"XX": {"window": "08:00-21:00"}}},
            "[countries.XX]",
        ),
        ({"countries": {}}, "[default]: missing"),
    ],
)
def test_a_bad_table_is_an_error_naming_its_entry(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        rules_from_mapping(raw)


def test_bad_compliance_settings_name_the_key() -> None:
    with pytest.raises(ConfigProblems) as caught:
        config_from_mapping(
            {
                "compliance": {
                    "quiet_hours": "on",
                    "quiet_hours_countries": {"fr": "08:00-20:00", "DE": "8-20", "XX": "08:00-20:00"},
                }
            }
        )
    text = str(caught.value)
    assert "compliance.quiet_hours:" in text
    assert "compliance.quiet_hours_countries: 'fr' is not a country code" in text
    assert "DE: '8-20' is not a window" in text
    assert "'XX' is not a country code" in text


def test_a_campaign_waiting_under_the_country_table_says_so() -> None:
    from campaigner.model.states import CampaignState
    from campaigner.observe.wait import wait_reason

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    common = {
        "campaign_id": 7,
        "state": CampaignState.RUNNING,
        "reason": None,
        "now": now,
        "send_at": None,
        "quiet_hours": None,
        "next_due": now + timedelta(hours=20),
        "booked_until": None,
        "live_workers": 1,
        "left": 10,
    }
    reason = wait_reason(**common, country_windows=True)  # type: ignore[arg-type]
    assert reason is not None and reason.code == "quiet_hours" and "country sending windows" in reason.text
    backoff = wait_reason(**common)  # type: ignore[arg-type]
    assert backoff is not None and backoff.code == "retry_backoff"
