"""STOP-style reply detection: the whole reply is one keyword, in any case, accents or punctuation."""

from __future__ import annotations

import pytest

from campaigner.inbound.stopwords import Reply, classify, is_opt_out, normalise


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
        "yes",
        "stop " * 20,
    ],
)
def test_a_sentence_or_another_word_is_not_an_opt_out(body: str) -> None:
    assert not is_opt_out(body)


@pytest.mark.parametrize("body", ["START", "start.", "Unstop"])
def test_start_and_unstop_are_opt_ins(body: str) -> None:
    assert classify(body) is Reply.OPT_IN


def test_yes_is_neither_opt_in_nor_opt_out() -> None:
    assert classify("YES") is Reply.OTHER


def test_normalise_folds_case_accents_spaces_and_edge_punctuation() -> None:
    assert normalise("  ¡ARRÊTE   Tout!! ") == "arrete tout"
