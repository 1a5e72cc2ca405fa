"""`campaigner segments`: how one message would be encoded and split, and what smart encoding does to it."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import click

from campaigner.cli.formats import echo_json, format_option
from campaigner.errors import UserError
from campaigner.text.segments import SegmentCount, count_segments, non_gsm_chars, smart_encode_report


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise UserError("give the message as TEXT, or pipe it on stdin")
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"stdin: line {line}: the message is not valid UTF-8") from None
    # `echo` and editors end the input with a newline; it is not part of the message.
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def _counts(result: SegmentCount) -> dict[str, Any]:
    return {
        "encoding": result.encoding,
        "segments": result.segments,
        "units": result.units,
        "parts": list(result.parts),
    }


def _describe(char: str) -> dict[str, str]:
    codepoint = f"U+{ord(char):04X}"
    return {"char": char, "codepoint": codepoint, "name": unicodedata.name(char, codepoint)}


def segments_report(text: str, smart_encoding: bool) -> dict[str, Any]:
    """The JSON object `campaigner segments --format json` prints, for `text`.

    The top-level counts are those of the message as it would be sent (after smart encoding when
    it is on); `ucs2_characters` lists the characters that force UCS-2 in that message.
    """
    if not smart_encoding:
        result = count_segments(text)
        report = _counts(result)
        report["characters"] = len(text)
        report["ucs2_characters"] = [_describe(c) for c in non_gsm_chars(text)]
        return report
    smart = smart_encode_report(text)
    report = _counts(smart.after)
    report["characters"] = len(smart.text)
    report["ucs2_characters"] = [_describe(c) for c in non_gsm_chars(smart.text)]
    report["smart_encoding"] = {
        "text": smart.text,
        "original": {**_counts(smart.before), "characters": len(text)},
        "saved_segments": smart.saved_segments,
        "replacements": [
            {**_describe(r.char), "replacement": r.replacement, "count": r.count} for r in smart.replacements
        ],
    }
    return report


def _shown(char: str) -> str:
    # Invisible characters (spaces, controls, zero-width) are shown escaped, never as themselves.
    if char == " ":
        return "(space)"
    return repr(char)[1:-1] if not char.isprintable() or char.isspace() else char


def _render_table(report: dict[str, Any], text: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Console(highlight=False)
    unit = "septets" if report["encoding"] == "GSM-7" else "UTF-16 units"
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("encoding", report["encoding"])
    table.add_row("segments", str(report["segments"]))
    table.add_row("units", f"{report['units']} {unit} ({report['characters']} characters)")
    table.add_row("parts", " + ".join(str(p) for p in report["parts"]))
    smart = report.get("smart_encoding")
    if smart is not None:
        before = smart["original"]
        table.add_row(
            "before smart encoding",
            f"{before['encoding']}, {before['segments']} segment(s), {before['units']} units",
        )
        table.add_row("saved", f"{smart['saved_segments']} segment(s)")
    out.print(table)
    if report["ucs2_characters"]:
        forced = Table(title="characters that force UCS-2", box=box.SIMPLE, title_justify="left")
        for column in ("char", "code point", "name"):
            forced.add_column(column)
        for c in report["ucs2_characters"]:
            forced.add_row(escape(_shown(c["char"])), c["codepoint"], c["name"])
        out.print(forced)
    if smart is not None and smart["replacements"]:
        replaced = Table(title="smart encoding replaced", box=box.SIMPLE, title_justify="left")
        for column in ("char", "code point", "name", "by", "times"):
            replaced.add_column(column)
        for r in smart["replacements"]:
            by = escape(_shown(r["replacement"])) if r["replacement"] else "(removed)"
            replaced.add_row(escape(_shown(r["char"])), r["codepoint"], r["name"], by, str(r["count"]))
        out.print(replaced)
    if smart is None and report["encoding"] == "UCS-2":
        saved = smart_encode_report(text).saved_segments
        if saved > 0:
            out.print(f"[dim]--smart-encoding would save {saved} segment(s) per message.[/]")


@click.command("segments")
@click.argument("text", required=False)
@click.option(
    "--smart-encoding/--no-smart-encoding",
    envvar="CAMPAIGNER_SMART_ENCODING",
    show_envvar=True,
    default=False,
    help="Replace look-alike characters (curly quotes, long dashes, …) with GSM-7 ones first.",
)
@format_option("table", "json")
def segments_command(text: str | None, smart_encoding: bool, output_format: str) -> None:
    """Show how TEXT (or the message on stdin) is encoded and split into SMS segments."""
    message = _read_stdin() if text is None else text
    report = segments_report(message, smart_encoding)
    if output_format == "json":
        echo_json(report)
    else:
        _render_table(report, message)


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(segments_command)
