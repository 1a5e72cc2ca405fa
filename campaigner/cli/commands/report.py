"""`campaigner report ID [--format table|json|csv|html] [--out F]`: a campaign's outcome for a manager.

Totals, cost (estimated against reported), delivery latency p50/p95/p99, per country and per error
code; html adds the charts, in one file that opens offline. `--out` writes the file whole or not at
all (a temporary file renamed into place).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import format_option, to_json
from campaigner.cli.report_data import Report, read_report
from campaigner.cli.safe import CAMPAIGN_ID, printable
from campaigner.errors import UserError
from campaigner.store.store import Store, run_with_store

FORMATS = ("table", "json", "csv", "html")


@click.command("report")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@format_option(*FORMATS)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file (default: standard output).",
)
@pass_app
def report_command(app: AppContext, campaign_id: int, output_format: str, out: Path | None) -> None:
    """Totals, cost estimated vs reported, delivery latency, per country and per error code of
    CAMPAIGN_ID (html: with charts, one self-contained file)."""
    if out is not None and not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist; nothing written")
    config = app.config

    async def read(store: Store) -> Report:
        return await read_report(store, config, campaign_id)

    report = run_with_store(config, read)
    text = _render(report, output_format)
    if out is None:
        click.echo(text, nl=False)
        return
    _write_whole(out, text)
    click.echo(f"report of campaign {campaign_id} written to {out}", err=True)


def _render(report: Report, output_format: str) -> str:
    if output_format == "json":
        return to_json(report.to_json()) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("section", "item", "measure", "value"))
        writer.writerows(report.csv_rows())
        return buffer.getvalue()
    if output_format == "html":
        from campaigner.cli.report_html import render_html

        return render_html(report)
    return _table(report)


def _table(report: Report) -> str:
    from rich.console import Console
    from rich.table import Table

    data = report.to_json()
    campaign, totals, cost, latency = data["campaign"], data["totals"], data["cost"], data["latency_seconds"]
    currency = cost["currency"]
    console = Console(file=io.StringIO(), markup=False, highlight=False, width=110, color_system=None)

    def say(text: str) -> None:
        console.print(text, soft_wrap=True)  # one line, however long: it is read, not laid out

    say(f"campaign {campaign['id']} {printable(campaign['name'])!r}: {campaign['state']}")
    ratio = data["delivery_ratio"]
    say(
        "  " + ", ".join(f"{k} {v:,}" for k, v in totals.items() if v or k in ("recipients", "sent"))
        + ("" if ratio is None else f"; {ratio:.1%} of the final receipts delivered")
    )
    say(
        f"  cost: estimated {cost['estimated']:.2f} {currency} before sending, "
        f"{cost['estimated_of_sent']:.2f} for the messages sent; reported by the provider "
        f"{cost['reported']:.2f} for "
        f"{cost['reported_messages']:,} messages (estimated {cost['estimated_of_reported']:.2f})"
    )

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    say(
        f"  delivery latency of {latency['delivered']:,} delivered: p50 {seconds(latency['p50'])}, "
        f"p95 {seconds(latency['p95'])}, p99 {seconds(latency['p99'])}"
    )
    countries = Table("country", "sent", "delivered", "undelivered", "rejected", f"cost {currency}", box=None)
    for c in data["countries"]:
        countries.add_row(
            c["country"] or "unknown", f"{c['sent']:,}", f"{c['delivered']:,}", f"{c['undelivered']:,}",
            f"{c['rejected']:,}", f"{c['cost']:.2f}",
        )  # fmt: skip
    console.print(countries)
    clicks = data["clicks"]
    if clicks:
        rate = clicks["click_through_rate"]
        say(
            f"  short links: {clicks['links']:,}; clicks {clicks['clicks']:,} by "
            f"{clicks['unique_clickers']:,} recipients ({clicks['repeat_clicks']:,} repeats), "
            f"click-through {'-' if rate is None else f'{rate:.1%}'} of {clicks['delivered']:,} delivered; "
            f"{clicks['bot_clicks']:,} link-preview bots not counted"
        )
        if clicks["by_country"]:
            by_country = Table("country", "clicks", "clickers", "click-through", box=None)
            for c in clicks["by_country"]:
                ctr = c["click_through_rate"]
                by_country.add_row(
                    c["country"] or "unknown", f"{c['clicks']:,}", f"{c['unique_clickers']:,}",
                    "-" if ctr is None else f"{ctr:.1%}",
                )  # fmt: skip
            console.print(by_country)
    if data["errors"]:
        errors = Table("code", "state", "message", "jobs", box=None)
        for e in data["errors"]:
            errors.add_row(
                printable(e["code"] or e["error_class"] or ""), e["state"], printable(e["message"] or ""),
                f"{e['jobs']:,}",
            )  # fmt: skip
        console.print(errors)
    else:
        console.print("  no errors")
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def _write_whole(out: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(report_command)
