"""Keyword replies: is an inbound SMS an opt-out, an opt-in, a request for HELP, or just a message?

The rule is conservative, like Twilio's and Braze's: the *whole* reply must be one keyword (or one
of the few two-word forms such as "STOP ALL" or "OPT OUT"). "Stop", " stop! ", "STOP." and "Arrêt"
opt out; "Please don't stop", "stop sending me the wrong size" and "STOP PLEASE" do not, because a
sentence that merely contains the word is as likely a complaint, a question or a joke. Matching
ignores case, accents, surrounding whitespace, and punctuation or emoji before and after the word.

`compliance.fuzzy_keywords = true` also takes an opt-out *word* inside a short sentence ("please
stop texting me") as an opt-out; such a match is marked `fuzzy` and reported apart (verdict
`opt_out_fuzzy`), so an operator sees how many opt-outs only the loose rule found. Fuzzy mode
applies to opt-outs only: an opt-in or a HELP is never guessed from a sentence.

Keywords come per market (a language code): `DEFAULT_KEYWORDS` below, which
`compliance.opt_out_keywords` / `opt_in_keywords` / `help_keywords` replace language by language.
The language of the matched keyword picks the language of the confirmation reply; a word that
several languages share ("stop", "cancelar") belongs to the first in `LANGUAGE_ORDER`.

Opt-in: START, UNSTOP and YES (and their local forms) take a number that opted out *by a reply*
off the suppression list again, and record an opt-in. YES is here because issue 16 asks for it
and because it is what people answer to "reply YES to subscribe"; but it answers many other
questions too, so it does exactly what START does and no more: it never lifts a manual, imported
or provider-reported suppression, and only a message that is nothing but "yes" counts. Remove it
from `compliance.opt_in_keywords.en` where a YES must not count as consent.
"""

from __future__ import annotations

import enum
import itertools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Languages in the order a word shared by several is attributed (English first: "stop" is English).
LANGUAGE_ORDER: tuple[str, ...] = ("en", "fr", "nl", "de", "es", "pt", "it")

DEFAULT_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "opt_out": {
        # Twilio, Telnyx, Braze defaults; AWS's required list; AWS's US "td"
        "en": ("stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
               "optout", "opt-out", "opt out", "remove", "td"),
        "fr": ("arret", "arrete", "arrett", "desabonner", "desinscrire"),
        "nl": ("afmelden", "uitschrijven"),
        "de": ("stopp", "abmelden", "abbestellen"),
        "es": ("baja", "parar", "cancelar"),
        "pt": ("parar", "sair", "cancelar"),
        "it": ("cancella", "basta", "disiscrivi"),
    },
    "opt_in": {
        "en": ("start", "unstop", "yes"),
        "fr": ("oui", "commencer"),
        "nl": ("ja", "aanmelden"),
        "de": ("ja", "anmelden"),
        "es": ("si", "alta"),
        "pt": ("sim",),
        "it": ("si", "iscrivi"),
    },
    "help": {
        "en": ("help", "info"),
        "fr": ("aide",),
        "nl": ("hulp",),
        "de": ("hilfe",),
        "es": ("ayuda",),
        "pt": ("ajuda",),
        "it": ("aiuto",),
    },
}  # fmt: skip

# A keyword reply is short; a long message is never one. Fuzzy mode looks at sentences up to:
MAX_KEYWORD_CHARS = 40
MAX_FUZZY_CHARS = 160

# Anything that is not a letter, digit, hyphen or inner space at either end: punctuation, emoji,
# quotes, the full stop many phones add.
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"[\w-]+")


class Reply(enum.StrEnum):
    """What an inbound message asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Match:
    """A classified message: its kind, the language of the keyword, and whether only fuzzy mode
    found it (an opt-out word inside a sentence)."""

    kind: Reply
    language: str = ""
    fuzzy: bool = False


class Keywords:
    """The keyword sets of one account: kind → language → folded keywords."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        *,
        fuzzy: bool = False,
    ) -> None:
        self.fuzzy = fuzzy
        self._by_word: dict[str, dict[str, str]] = {}  # kind -> word -> language
        for kind, defaults in DEFAULT_KEYWORDS.items():
            sets = {**defaults, **{k.lower(): tuple(v) for k, v in (overrides or {}).get(kind, {}).items()}}
            ordered = sorted(sets, key=lambda lang: (LANGUAGE_ORDER.index(lang) if lang in LANGUAGE_ORDER
                                                      else len(LANGUAGE_ORDER), lang))  # fmt: skip
            words: dict[str, str] = {}
            for language in ordered:
                for word in sets[language]:
                    words.setdefault(normalise(word), language)
            words.pop("", None)
            self._by_word[kind] = words

    def words(self, kind: Reply) -> dict[str, str]:
        """The folded keywords of `kind`, each with its language."""
        return dict(self._by_word.get(str(kind), {}))

    def match(self, body: str) -> Match:
        """What `body` asks for (see the module docstring for the exact rule)."""
        if len(body) <= MAX_KEYWORD_CHARS:
            word = normalise(body)
            # Opt-out first: a word in both sets (a misconfiguration) must never keep sending.
            for kind in (Reply.OPT_OUT, Reply.OPT_IN, Reply.HELP):
                language = self._by_word[str(kind)].get(word)
                if language is not None:
                    return Match(kind, language)
        if self.fuzzy and len(body) <= MAX_FUZZY_CHARS:
            text = normalise(body)
            tokens = _WORDS.findall(text)
            pairs = [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
            opt_outs = self._by_word[str(Reply.OPT_OUT)]
            for token in pairs + tokens:
                if token in opt_outs:
                    return Match(Reply.OPT_OUT, opt_outs[token], fuzzy=True)
        return Match(Reply.OTHER)



def normalise(body: str) -> str:
    """`body` folded for matching: lower case, accents removed, edge punctuation and extra spaces gone."""
    decomposed = unicodedata.normalize("NFKD", body)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = _SPACES.sub(" ", plain.casefold()).strip()
    return _EDGES.sub("", text)


def classify(body: str, keywords: Keywords | None = None) -> Reply:
    """OPT_OUT, OPT_IN or HELP when the whole reply is such a keyword (the default sets unless
    `keywords` is given), else OTHER."""
    return (keywords or DEFAULT).match(body).kind


def is_opt_out(body: str, keywords: Keywords | None = None) -> bool:
    """Whether `body` is a STOP-style reply (see the module docstring for the exact rule)."""
    return classify(body, keywords) is Reply.OPT_OUT


DEFAULT = Keywords()
