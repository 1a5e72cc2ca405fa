"""`campaigner report` as a manager gets it: a campaign sent through the real sandbox, its receipts
settled, then the report in every format (html: one file that opens offline)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.acceptance.test_send_cli import campaigner, write_config
from tests.dispatch_helpers import wait_for
from tests.fixtures.sandbox import MakeSandbox

UNREACHABLE = "+31640000003"


@pytest.fixture
async def sent_campaign(database_url: str, make_sandbox: MakeSandbox, tmp_path: Path) -> Path:
    """Campaign 1: 8 Dutch and 2 German numbers sent, receipts settled; one Dutch one undelivered."""
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100, unreachable={UNREACHABLE}
    )
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    recipients = tmp_path / "r.csv"
    rows = [f"P{i},+3164000000{i}" for i in range(8)] + ["D0,+4915112345670", "D1,+4915112345671"]
    recipients.write_text("name,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await campaigner(
        config, database_url, "send", str(recipients), "-m", "=Hi {name}", "--name", "=spring", "-y"
    )

    async def final_at_the_provider() -> bool:
        return all(m.status in ("delivered", "failed") for m in sandbox.state.store.messages)

    await wait_for(final_at_the_provider, 30, "the sandbox to deliver")
    await campaigner(config, database_url, "sync", "1")
    return config


async def test_report_in_every_format(sent_campaign: Path, database_url: str, tmp_path: Path) -> None:
    # One campaign for all formats: sending and settling it is most of the time.
    await check_json(sent_campaign, database_url)
    await check_csv_and_table(sent_campaign, database_url)
    await check_html(sent_campaign, database_url, tmp_path)


async def check_json(sent_campaign: Path, database_url: str) -> None:
    """Totals, countries, errors, cost (estimated and reported) and latency, numbers as numbers."""
    report = json.loads(await campaigner(sent_campaign, database_url, "report", "1", "--format", "json"))
    assert report["campaign"]["name"] == "=spring" and report["campaign"]["state"] == "completed"
    assert report["totals"] == {
        "recipients": 10, "sent": 10, "delivered": 9, "undelivered": 1, "rejected": 0, "skipped": 0,
        "cancelled": 0, "expired": 0, "pending": 0, "sending": 0,
    }  # fmt: skip
    assert report["delivery_ratio"] == 0.9
    by_country = {c["country"]: c for c in report["countries"]}
    assert by_country["NL"]["sent"] == 8 and by_country["NL"]["undelivered"] == 1
    assert by_country["DE"]["delivered"] == 2
    assert sum(e["jobs"] for e in report["errors"] if e["state"] == "undelivered") == 1
    cost = report["cost"]
    assert cost["reported_messages"] == 10
    assert cost["reported"] == pytest.approx(cost["estimated_of_reported"])
    assert isinstance(cost["estimated"], float)  # numbers as numbers
    latency = report["latency_seconds"]
    assert latency["delivered"] == 9
    assert latency["p50"] is not None and latency["p50"] <= latency["p95"] <= latency["p99"]


async def check_csv_and_table(sent_campaign: Path, database_url: str) -> None:
    """A tidy CSV a spreadsheet can pivot, with texts made inert; the table for a terminal."""
    text = await campaigner(sent_campaign, database_url, "report", "1", "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "item", "measure", "value"]
    assert ["campaign", "", "name", "'=spring"] in rows  # never a formula in a spreadsheet
    assert ["totals", "", "delivered", "9"] in rows and ["country", "NL", "sent", "8"] in rows
    table = await campaigner(sent_campaign, database_url, "report", "1")
    assert table.startswith("campaign 1 '=spring': completed")
    totals = "recipients 10, sent 10, delivered 9, undelivered 1; 90.0% of the final receipts delivered"
    assert totals in table
    assert re.search(r"delivery latency of 9 delivered: p50 [\d.]+ s, p95 [\d.]+ s, p99 [\d.]+ s", table)


async def check_html(sent_campaign: Path, database_url: str, tmp_path: Path) -> None:
    """One file, written whole, that opens offline: inline CSS and SVG, nothing fetched."""
    out = tmp_path / "report.html"
    said = await campaigner(sent_campaign, database_url, "report", "1", "--format", "html", "--out", str(out))
    assert f"report of campaign 1 written to {out}" in said
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 3  # over time, latency, per country
    # Nothing is fetched: no script, no external stylesheet, image or font.
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(http" not in page
    assert "Campaign 1: =spring" in page and "<td>NL</td>" in page
    missing = await campaigner(
        sent_campaign, database_url, "report", "1", "--out", str(tmp_path / "no" / "r.html"), expect=2
    )
    assert "folder" in missing and "does not exist" in missing and "Traceback" not in missing
