"""Message templates: placeholder syntax, column matching, the empty-value policy."""

from __future__ import annotations

import pytest

from campaigner.errors import UserError
from campaigner.text.templates import EmptyValue, Template


def test_placeholders_in_order_of_first_appearance_without_duplicates() -> None:
    template = Template.parse("Hi {first_name}, code {code}. Bye {first_name}")
    assert template.placeholders == ("first_name", "code")


def test_render_fills_placeholders_from_the_row() -> None:
    template = Template.parse("Hi {name}, your code is {code}.")
    template.check_columns(["phone", "name", "code"], "people.csv")
    assert template.render({"phone": "+31", "name": "Ann", "code": "X1"}) == "Hi Ann, your code is X1."
    assert template.render_row(["+31", "Bo", "Y2"]) == "Hi Bo, your code is Y2."


def test_double_braces_are_literal_braces() -> None:
    template = Template.parse("{{literal}} {name} }}{{")
    template.check_columns(["name"], "f.csv")
    assert template.placeholders == ("name",)
    assert template.render({"name": "Ann"}) == "{literal} Ann }{"


def test_template_without_placeholders_returns_its_text() -> None:
    template = Template.parse("Sale today {{50%}} off")
    assert template.placeholders == ()
    assert template.render({}) == "Sale today {50%} off"
    assert template.render_row([]) == "Sale today {50%} off"
    plain = "Just text"
    assert Template.parse(plain).render({}) is plain


def test_values_are_inserted_verbatim() -> None:
    template = Template.parse("{a}|{b}")
    template.check_columns(["a", "b"], "f.csv")
    # No recursive expansion, no format-spec interpretation of values.
    assert template.render({"a": "{b}", "b": " {0} %s "}) == "{b}| {0} %s "


def test_placeholder_names_with_format_syntax_are_plain_names() -> None:
    template = Template.parse("{price:.2f} {0} {a!r}")
    assert template.placeholders == ("price:.2f", "0", "a!r")
    template.check_columns(["price:.2f", "0", "a!r"], "f.csv")
    assert template.render({"price:.2f": "1", "0": "2", "a!r": "3"}) == "1 2 3"


def test_columns_match_case_insensitively_and_ignoring_spaces() -> None:
    template = Template.parse("Hi {First_Name} {city}")
    template.check_columns(["Phone", " first_name ", "CITY"], "f.csv")
    assert template.columns == (" first_name ", "CITY")
    assert template.render({" first_name ": "Ann", "CITY": "Oslo"}) == "Hi Ann Oslo"


def test_exact_spelling_wins_over_a_case_variant() -> None:
    template = Template.parse("{Name}")
    template.check_columns(["name", "Name"], "f.csv")
    assert template.render_row(["lower", "upper"]) == "upper"


def test_ambiguous_column_is_an_error() -> None:
    template = Template.parse("{NAME}")
    with pytest.raises(UserError, match=r"\{NAME\} matches several columns in f.csv: name, Name"):
        template.check_columns(["name", "Name"], "f.csv")


def test_missing_column_is_an_error_listing_the_columns() -> None:
    template = Template.parse("Hi {first_name}")
    with pytest.raises(UserError) as info:
        template.check_columns(["phone", "name"], "people.csv")
    assert (
        str(info.value)
        == "message placeholder {first_name} has no column in people.csv (columns: phone, name)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi } there", "single '}' at line 1, column 4"),
        ("Hi { there", "unclosed '{' at line 1, column 4"),
        ("Hi {name", "unclosed '{' at line 1, column 4"),
        ("Hi {}", "empty placeholder '{}' at line 1, column 4"),
        ("Hi {  }", "empty placeholder '{}' at line 1, column 4"),
        ("Hi {a{b}}", "'{' inside a placeholder at line 1, column 6"),
        ("line one\nHi {na\nme}", "unclosed '{' at line 2, column 4"),
        ("ok {{ fine }}\n}", "single '}' at line 2, column 1"),
    ],
)
def test_malformed_braces_name_the_position(text: str, message: str) -> None:
    with pytest.raises(UserError, match="^message.txt: " + message.replace("(", r"\(").replace("{", r"\{")):
        Template.parse(text, source="message.txt")


def test_empty_value_rejected_by_default() -> None:
    template = Template.parse("Hi {name}")
    template.check_columns(["phone", "name"], "f.csv")
    with pytest.raises(EmptyValue) as info:
        template.render({"phone": "1", "name": ""})
    assert info.value.column == "name"
    with pytest.raises(EmptyValue):
        template.render_row(["1", "   "])
    with pytest.raises(EmptyValue):
        template.render_row(["1"])  # a short row: the cell is missing, so empty


def test_empty_value_renders_empty_under_the_empty_policy() -> None:
    template = Template.parse("Hi {name}!")
    template.check_columns(["name"], "f.csv")
    assert template.render({"name": ""}, empty="empty") == "Hi !"
    assert template.render({"name": " \t"}, empty="empty") == "Hi !"
    assert template.render_row([""], empty="empty") == "Hi !"


def test_empty_value_is_a_plain_exception_not_a_user_error() -> None:
    # The preview sets the row aside; it must not be caught as a fatal user error.
    assert not issubclass(EmptyValue, UserError)


def test_render_row_before_check_columns_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        Template.parse("{a}").render_row(["x"])
