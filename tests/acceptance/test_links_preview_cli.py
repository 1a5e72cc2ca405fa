"""`campaigner preview` of a message with a short link: segments and cost count the short form,
and the preview says what shortening saved; bad links are clear errors that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_preview_cli import _run

URL = "https://shop.example.com/spring-sale/shoes?utm_source=sms&utm_medium=text&utm_campaign=s24"
TEXT = "Spring sale at Shop: 30% off all shoes this weekend only, in store and online. See {link:" + URL + "}"


def _files(tmp_path: Path, links: str) -> tuple[Path, Path]:
    config = tmp_path / "campaigner.toml"
    config.write_text(f"[links]\n{links}\n")
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone,url\n+31640000001,https://a.example/x\n+31640000002,not a url\n")
    return config, recipients


def test_a_90_character_url_previews_as_one_segment_with_a_23_character_link(tmp_path: Path) -> None:
    assert len(URL) == 90
    assert len(TEXT.replace("{link:" + URL + "}", URL)) > 160  # long, it would be 2 segments
    config, recipients = _files(tmp_path, 'base_url = "https://go.example.com"\nshow_scheme = false')
    done = _run("--config", str(config), str(recipients), "-m", TEXT, "--format", "json")
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    assert preview["segments_histogram"] == {"1": 2} and preview["segments_total"] == 2
    links = preview["links"]
    assert (links["links"], links["short_chars"], links["long_chars"]) == (1, 23, 90)
    assert links["example"] == "go.example.com/xxxxxxxx"
    assert (links["messages"], links["segments"]) == (2, 2) and links["cost"] > 0
    table = _run("--config", str(config), str(recipients), "-m", TEXT)
    assert "Short links" in table.stdout and "saved 2 segments" in table.stdout


def test_a_per_recipient_url_that_is_not_one_sets_the_row_aside(tmp_path: Path) -> None:
    config, recipients = _files(tmp_path, 'base_url = "http://127.0.0.1:8080/l"')
    done = _run(
        "--config", str(config), str(recipients), "-m", "Go {link:u}", "--link", "u={url}", "--format", "json"
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    assert preview["sendable"] == 1 and preview["bad_link"] == 1
    assert preview["first_rejects"][0]["reason"] == "bad_link"


def test_link_mistakes_are_clear_errors(tmp_path: Path) -> None:
    config, recipients = _files(tmp_path, 'base_url = "https://go.example.com"')
    unknown = _run("--config", str(config), str(recipients), "-m", "Go {link:shop}")
    assert unknown.returncode == 2 and "no --link shop=URL was given" in unknown.stderr
    column = _run(
        "--config", str(config), str(recipients), "-m", "Go {link:s}", "--link", "s=https://a.example/{nope}"
    )
    assert column.returncode == 2 and "{nope}" in column.stderr and "Traceback" not in column.stderr
    malformed = _run("--config", str(config), str(recipients), "-m", "Go {link:s}", "--link", "s")
    assert malformed.returncode == 2 and "--link 's': write NAME=URL" in malformed.stderr
    scheme = _run("--config", str(config), str(recipients), "-m", "Go {link:ftp://a.example/}")
    assert scheme.returncode == 2 and "is not an http:// or https:// URL" in scheme.stderr
    unset = tmp_path / "none.toml"
    unset.write_text("")
    no_base = _run("--config", str(unset), str(recipients), "-m", "Go {link:https://a.example/}")
    assert no_base.returncode == 2 and "[links] base_url is not set" in no_base.stderr
