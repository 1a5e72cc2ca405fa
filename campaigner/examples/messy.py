"""Deterministic generator of realistic, messy recipient lists (for the example, tests and benchmarks).

Numbers are written the way people paste them: national and international formats, spaces,
dashes, dots, brackets, `(0)`, `00`, `tel:`, non-breaking spaces, apostrophes, full-width and
Arabic-Indic digits, Excel's scientific notation; with landlines, toll-free numbers, junk and
duplicates among them. Names and cities include non-GSM characters (so some messages need
UCS-2) and curly apostrophes (which smart encoding fixes).

    python -m campaigner.examples.messy ROWS [SEED] > recipients.csv

The bundled `recipients.csv` is `python -m campaigner.examples.messy 300 7` (national numbers
are Dutch: preview it with `--region NL`).

Where a country reserves numbers for fiction and libphonenumber still takes them as valid, the
numbers come from there: US mobiles are 555-0100 to 555-0199 (NANPA), UK landlines 020 7946 0xxx
(Ofcom's drama range). Ofcom's mobile drama range (07700 900000-900999) is not valid to
libphonenumber, so UK mobiles, like those of the other countries, are random numbers of real
mobile ranges: the demo sends them only to its in-process sandbox, never to a provider.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterator
from typing import TextIO

HEADER = ["first_name", "last_name", "phone", "city", "customer_id"]

FIRST_NAMES = [
    "Anna",
    "Daan",
    "Sanne",
    "Lars",
    "Emma",
    "Noah",
    "Julia",
    "Finn",
    "Lotte",
    "Sem",
    "Jan",
    "Mia",
    "Lukas",
    "Hannah",
    "Leon",
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
    "Jack",
    "Emily",
    "Liam",
    "Olivia",
    "Lucas",
    "Chloé",
    "Hugo",
    "Inès",
    "Léa",
    "Sofía",
    "Pablo",
    "Lucía",
    "Mateo",
    "Ana",
    "João",
    "Priya",
    "Arjun",
    "Ananya",
    "Rahul",
    "Søren",
    "Ægir",
    "Müller",
    "José",
    "Ömer",
    # Not in the GSM-7 alphabet: these rows are sent as UCS-2.
    "Zoë",
    "Łukasz",
    "Ştefan",
    "François",
    "李",
    "Dvořák",
    "Ñusta",
    "Şule",
    "Đorđe",
    # A curly apostrophe: UCS-2 unless smart encoding turns it into '.
    "D’Angelo",
    "O’Brien",
]
LAST_NAMES = [
    "de Vries",
    "Jansen",
    "Müller",
    "Schmidt",
    "Smith",
    "Jones",
    "Martin",
    "Dubois",
    "Peeters",
    "García",
    "López",
    "Sharma",
    "Patel",
    "Silva",
    "Santos",
    "Nowak",
    "Popescu",
    "Wang",
]
CITIES = {
    "NL": ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "'s-Hertogenbosch"],
    "DE": ["Berlin", "München", "Köln", "Hamburg", "Düsseldorf"],
    "GB": ["London", "Manchester", "Bristol", "Leeds"],
    "US": ["New York", "Chicago", "San Francisco", "Austin"],
    "FR": ["Paris", "Lyon", "Marseille", "Nantes"],
    "BE": ["Brussel", "Antwerpen", "Liège", "Gent"],
    "ES": ["Madrid", "Barcelona", "Sevilla", "A Coruña"],
    "IN": ["Mumbai", "Bengaluru", "Delhi", "Pune"],
    "BR": ["São Paulo", "Rio de Janeiro", "Curitiba"],
}
# Country weights: a Dutch shop with customers across Europe and some further away.
WEIGHTS = {"NL": 40, "DE": 14, "GB": 10, "US": 8, "FR": 8, "BE": 7, "ES": 5, "IN": 4, "BR": 4}

NBSP = "\u00a0"
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _mobile(rng: random.Random, country: str) -> tuple[str, str]:
    """(country code, national significant number) of a valid mobile number."""
    d = _digits
    if country == "NL":
        return "31", "6" + rng.choice("12345") + d(rng, 7)
    if country == "DE":
        return "49", rng.choice(["151", "152", "160", "170", "171", "176"]) + d(rng, 8)
    if country == "GB":
        return "44", "74" + rng.choice("0123456") + d(rng, 7)
    if country == "US":
        area = rng.choice(["212", "415", "646", "312", "512", "617"])
        drawn = rng.choice("23456789") + d(rng, 6)  # drawn as before, so the other rows stay the same
        return "1", area + "55501" + drawn[-2:]  # 555-0100..0199: reserved for fiction (NANPA)
    if country == "FR":
        return "33", rng.choice("67") + rng.choice("12345") + d(rng, 7)
    if country == "BE":
        return "32", "4" + rng.choice(
            ["70", "71", "72", "75", "77", "78", "79", "84", "85", "86", "87", "88"]
        ) + d(rng, 6)
    if country == "ES":
        return "34", "6" + d(rng, 8)
    if country == "IN":
        return "91", rng.choice("6789") + d(rng, 9)
    return "55", rng.choice(["11", "21", "41"]) + "9" + rng.choice("6789") + d(rng, 7)


def _not_mobile(rng: random.Random, country: str) -> tuple[str, str]:
    """A valid landline or toll-free number (not SMS-capable)."""
    d = _digits
    choices = {
        "NL": [("31", "20" + rng.choice("3456") + d(rng, 6)), ("31", "800" + d(rng, 4))],
        "DE": [("49", "30" + rng.choice("2345678") + d(rng, 7))],
        # 020 7946 0000..0999: Ofcom's range for drama (drawn as before: the other rows stay the same).
        "GB": [("44", "2079460" + d(rng, 4)[1:]), ("44", "800" + rng.choice("2345") + d(rng, 6))],
        "FR": [("33", "1" + rng.choice("2345") + d(rng, 7)), ("33", "80" + rng.choice("05") + d(rng, 6))],
        "BE": [("32", "2" + rng.choice("2345") + d(rng, 6))],
        "ES": [("34", "91" + rng.choice("2345") + d(rng, 6))],
        "US": [("1", "800" + rng.choice("23456789") + d(rng, 6))],
    }
    return rng.choice(choices.get(country, choices["NL"]))


def _group(nsn: str, rng: random.Random) -> str:
    sep = rng.choice([" ", " ", "-", ".", NBSP, ""])
    parts, i = [], 0
    while i < len(nsn):
        step = rng.choice([2, 3, 4])
        parts.append(nsn[i : i + step])
        i += step
    return sep.join(parts)


def write_number(rng: random.Random, cc: str, nsn: str, national_region: str = "NL") -> str:
    """`+cc nsn` written one of the many ways people write numbers."""
    trunk = "" if cc in ("1", "34") else "0"
    national_ok = {"31": "NL"}.get(cc) == national_region
    style = rng.randrange(14)
    if style == 0 and national_ok:
        text = trunk + _group(nsn, rng)
    elif style == 1:
        text = f"+{cc} ({trunk}){_group(nsn, rng)}" if trunk else f"+{cc} {_group(nsn, rng)}"
    elif style == 2:
        text = f"00{cc}{_group(nsn, rng)}"
    elif style == 3:
        text = f"tel:+{cc}-{_group(nsn, rng).replace(' ', '-')}"
    elif style == 4:
        text = f"'+{cc}{nsn}"
    elif style == 5 and cc == "1":
        text = f"+1 ({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
    elif style == 6:
        text = f"+{cc}{NBSP}{_group(nsn, rng)}"
    elif style == 7 and rng.random() < 0.3:
        text = f"+{cc}{nsn}".translate(_FULL_WIDTH if rng.random() < 0.5 else _ARABIC_INDIC)
    elif style == 8 and national_ok:
        text = f"({trunk}{nsn[:2]}) {nsn[2:]}"
    elif style == 9:
        text = f" +{cc} {_group(nsn, rng)} "
    else:
        text = f"+{cc}{nsn}" if rng.random() < 0.5 else f"+{cc} {_group(nsn, rng)}"
    return text


def _junk(rng: random.Random) -> str:
    return rng.choice(
        [
            "",
            "n/a",
            "unknown",
            "0612",
            "+31 6 1234",
            "3.16123E+10",
            "4.47911E+11",
            "+999 123 456 789",
            "12345678901234567",
            "call me",
            "06-1234-567",
            "+44 7911 12345 67 89",
        ]
    )


def rows(count: int, seed: int = 7, national_region: str = "NL") -> Iterator[list[str]]:
    """`count` data rows (no header) in HEADER's order, the same for the same seed."""
    rng = random.Random(seed)
    countries = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    recent: list[tuple[str, str]] = []
    for i in range(count):
        country = rng.choices(countries, weights)[0]
        roll = rng.random()
        if roll < 0.04:
            phone = _junk(rng)
        else:
            if roll < 0.10 and recent:
                cc, nsn = rng.choice(recent)  # the same person twice, often written differently
            elif roll < 0.16:
                cc, nsn = _not_mobile(rng, country)
            else:
                cc, nsn = _mobile(rng, country)
                recent.append((cc, nsn))
                if len(recent) > 50:
                    recent.pop(0)
            phone = write_number(rng, cc, nsn, national_region)
        first = "" if rng.random() < 0.01 else rng.choice(FIRST_NAMES)
        yield [first, rng.choice(LAST_NAMES), phone, rng.choice(CITIES[country]), f"C{100000 + i}"]


def write_csv(out: TextIO, count: int, seed: int = 7) -> None:
    """Write a header and `count` rows as CSV to `out`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(count, seed))


if __name__ == "__main__":
    write_csv(sys.stdout, int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 7)
