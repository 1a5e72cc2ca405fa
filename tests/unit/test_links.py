"""Short links' pure logic: the placeholder, targets with escaped row values, codes."""

from __future__ import annotations

import pytest

from campaigner.errors import UserError
from campaigner.text.links import ALPHABET, CodeSource, LinkSet, is_code, parse_link_options, short_url
from campaigner.text.templates import Template


def test_link_placeholders_are_not_columns_and_render_after_them() -> None:
    template = Template.parse("Hi {name}: {link:https://a.example/x?y=1} {link:p} {link:p} {{ok}}")
    assert template.placeholders == ("name",) and template.links == ("https://a.example/x?y=1", "p")
    template.check_columns(["phone", "name"], "r.csv")
    assert template.render_row(["+31", "Ann"], links=["S1", "S2"]) == "Hi Ann: S1 S2 S2 {ok}"


def test_targets_escape_row_values_or_take_a_whole_cell_url() -> None:
    headers = ["phone", "sku", "url"]
    links = LinkSet.of(["p", "u"], {"p": "https://a.example/p/{sku}?q={SKU}", "u": "{url}"}, headers)
    p, u = links.targets
    assert p.target(["+31", "a b/&c", "x"]) == "https://a.example/p/a%20b%2F%26c?q=a%20b%2F%26c"
    assert u.target(["+31", "", " https://b.example/o?id=1 "]) == "https://b.example/o?id=1"
    assert u.target(["+31", "", "javascript:alert(1)"]) is None
    assert u.target(["+31", "", ""]) is None


@pytest.mark.parametrize(
    ("refs", "defined", "error"),
    [
        (["shop"], {}, "no --link shop=URL was given"),
        (["ftp://a.example/"], {}, "is not an http:// or https:// URL"),
        (["s"], {"s": "https://a.example/{missing}"}, "{missing} has no column"),
        (["s"], {"s": "mailto:{sku}"}, "is not an http:// or https:// URL"),
    ],
)
def test_link_mistakes_name_what_is_wrong(refs: list[str], defined: dict[str, str], error: str) -> None:
    with pytest.raises(UserError, match=error.replace("{", r"\{").replace("}", r"\}")):
        LinkSet.of(refs, defined, ["phone", "sku"])


def test_link_options() -> None:
    assert parse_link_options(["a=https://x.example/?q=1=2", "b-2={url}"]) == {
        "a": "https://x.example/?q=1=2",
        "b-2": "{url}",
    }
    for bad in ("noequals", "=https://x.example/", "a=", "a b=https://x.example/"):
        with pytest.raises(UserError, match="--link"):
            parse_link_options([bad])
    with pytest.raises(UserError, match="given twice"):
        parse_link_options(["a=https://x.example/", "a=https://y.example/"])


def test_codes_are_base62_of_the_length_and_do_not_repeat() -> None:
    source = CodeSource(8)
    codes = [source.next() for _ in range(50_000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in codes)
    assert set("".join(codes)) == set(ALPHABET)  # every character occurs
    assert is_code(codes[0], 8) and not is_code(codes[0][:7], 8) and not is_code("abc-defg", 8)
    with pytest.raises(ValueError):
        CodeSource(7)


def test_short_url() -> None:
    assert short_url("https://go.example.com/", "AbC12345") == "https://go.example.com/AbC12345"
    assert short_url("https://go.example.com", "AbC12345", show_scheme=False) == "go.example.com/AbC12345"
    assert short_url("http://127.0.0.1:8080/l", "AbC12345") == "http://127.0.0.1:8080/l/AbC12345"
