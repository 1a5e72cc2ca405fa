"""STOP-style reply detection: the whole reply is one keyword, in any case, accents or punctuation."""

from __future__ import annotations

import pytest

from campaigner.inbound.stopwords import DEFAULT, Keywords, Match, Reply, classify, is_opt_out, normalise


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop ",
        "stop!",
        "STOP.",
        "«stop»",
        "stop 🛑",
        "\tSTOP\n",
        "STOPALL",
        "stop all",
        "Unsubscribe",
        "CANCEL",
        "end",
        "Quit",
        "opt-out",
        "Opt Out",
        "ARRÊT",
        "arrete",
        "Afmelden",
        "STOPP",
        "abmelden",
        "désabonner",
        "Baja",
        "PARAR",
        "sair",
        "cancella",
        "Basta!",
    ],
)
def test_a_keyword_alone_is_an_opt_out(body: str) -> None:
    assert classify(body) is Reply.OPT_OUT
    assert is_opt_out(body)


@pytest.mark.parametrize(
    "body",
    [
        "Please don't stop",
        "STOP PLEASE",
        "stop sending me the wrong size",
        "Can I cancel my order?",
        "the end",
        "stopping by later",
        "unstoppable",
        "ST OP",
        "",
        "   ",
        "stop " * 20,
    ],
)
def test_a_sentence_or_another_word_is_not_an_opt_out(body: str) -> None:
    assert not is_opt_out(body)


@pytest.mark.parametrize("body", ["START", "start.", "Unstop", "YES", "yes!", "Oui", "JA"])
def test_start_unstop_yes_and_local_forms_are_opt_ins(body: str) -> None:
    assert classify(body) is Reply.OPT_IN


def test_yes_inside_a_sentence_is_not_an_opt_in_even_in_fuzzy_mode() -> None:
    assert classify("yes, but not now") is Reply.OTHER
    assert Keywords(fuzzy=True).match("yes please, start again") == Match(Reply.OTHER)


@pytest.mark.parametrize("body", ["HELP", "info", " Help? ", "AIDE", "Hilfe", "ayuda"])
def test_help_and_info_and_local_forms_are_help(body: str) -> None:
    assert classify(body) is Reply.HELP


@pytest.mark.parametrize(
    ("body", "language"),
    [("STOP", "en"), ("ARRÊT", "fr"), ("afmelden", "nl"), ("stopp", "de"), ("baja", "es"),
     ("sair", "pt"), ("basta", "it"), ("aide", "fr"), ("OUI", "fr")],
)  # fmt: skip
def test_the_keyword_names_its_market(body: str, language: str) -> None:
    assert DEFAULT.match(body).language == language


def test_fuzzy_mode_finds_an_opt_out_word_in_a_sentence_and_marks_it() -> None:
    fuzzy = Keywords(fuzzy=True)
    assert fuzzy.match("Please STOP texting me!") == Match(Reply.OPT_OUT, "en", fuzzy=True)
    assert fuzzy.match("je veux arrêter, arret svp") == Match(Reply.OPT_OUT, "fr", fuzzy=True)
    assert fuzzy.match("please opt out of this") == Match(Reply.OPT_OUT, "en", fuzzy=True)
    assert fuzzy.match("STOP") == Match(Reply.OPT_OUT, "en")  # a plain keyword is not fuzzy
    assert fuzzy.match("what a lovely day") == Match(Reply.OTHER)
    assert fuzzy.match("x" * 200 + " stop") == Match(Reply.OTHER)  # too long to be one


def test_fuzzy_mode_is_off_by_default() -> None:
    assert DEFAULT.match("Please STOP texting me!") == Match(Reply.OTHER)


def test_a_configured_language_replaces_its_defaults_and_keeps_the_others() -> None:
    keywords = Keywords({"opt_out": {"en": ["STOP", "Halt"]}, "opt_in": {"en": ["START"]}})
    assert keywords.match("halt") == Match(Reply.OPT_OUT, "en")
    assert keywords.match("unsubscribe") == Match(Reply.OTHER)  # English defaults replaced
    assert keywords.match("arret") == Match(Reply.OPT_OUT, "fr")  # French kept
    assert keywords.match("yes") == Match(Reply.OTHER)  # YES removed from the English opt-ins
    assert keywords.match("Élan") == Match(Reply.OTHER)
    added = Keywords({"help": {"sv": ["hjälp"]}})
    assert added.match("HJALP") == Match(Reply.HELP, "sv")


def test_an_opt_out_wins_over_an_opt_in_when_a_word_is_in_both() -> None:
    keywords = Keywords({"opt_in": {"en": ["start", "stop"]}})
    assert keywords.match("stop").kind is Reply.OPT_OUT


def test_normalise_folds_case_accents_spaces_and_edge_punctuation() -> None:
    assert normalise("  ¡ARRÊTE   Tout!! ") == "arrete tout"
