"""STOP-style replies: is an inbound SMS an opt-out, an opt-in, or just a message?

The rule is conservative, like Twilio's and Braze's: the *whole* reply must be one keyword (or one
of the few two-word forms such as "STOP ALL" or "OPT OUT"). "Stop", " stop! ", "STOP." and "Arrêt"
opt out; "Please don't stop", "stop sending me the wrong size" and "STOP PLEASE" do not, because a
sentence that merely contains the word is as likely a complaint, a question or a joke, and an opt-out
we invent loses a customer while one we miss is still handled by the provider's own STOP filter and
by a human reading the inbox. Matching ignores case, accents, surrounding whitespace, and
punctuation or emoji before and after the word.

Keywords (after folding to lower case without accents):

* English, as Twilio, Telnyx, Braze and AWS treat them: stop, stopall, stop all, unsubscribe,
  cancel, end, quit, optout, opt-out, opt out, remove, revoke; AWS's US "td".
* French: arret, arrete (ARRÊT/ARRÊTE, which Twilio also handles), arrett, desabonner, desinscrire.
* Dutch: afmelden, uitschrijven. German: stopp, abmelden, abbestellen.
* Spanish: baja, parar, cancelar. Italian: cancella, basta, disiscrivi. Portuguese: parar, sair,
  cancelar.

Opt-in: "start" and "unstop" (Twilio and the US toll-free carriers) take a number that opted out
*by a STOP reply* off the suppression list again. "yes" is deliberately not an opt-in here: it is
the answer to too many other questions. A manual or provider suppression is never lifted by a text.
"""

from __future__ import annotations

import enum
import re
import unicodedata

OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {
        # English (Twilio, Telnyx, Braze defaults; AWS's required list)
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt-out",
        "opt out",
        "remove",
        "revoke",
        "td",
        # French (Twilio also handles ARRET/ARRETE)
        "arret",
        "arrete",
        "arrett",
        "desabonner",
        "desinscrire",
        # Dutch
        "afmelden",
        "uitschrijven",
        # German
        "stopp",
        "abmelden",
        "abbestellen",
        # Spanish / Portuguese
        "baja",
        "parar",
        "cancelar",
        "sair",
        # Italian
        "cancella",
        "basta",
        "disiscrivi",
    }
)

OPT_IN_KEYWORDS: frozenset[str] = frozenset({"start", "unstop"})

# Anything that is not a letter, digit, hyphen or inner space at either end: punctuation, emoji,
# quotes, the full stop many phones add.
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


class Reply(enum.StrEnum):
    """What an inbound message asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    OTHER = "other"


def normalise(body: str) -> str:
    """`body` folded for matching: lower case, accents removed, edge punctuation and extra spaces gone."""
    decomposed = unicodedata.normalize("NFKD", body)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = _SPACES.sub(" ", plain.casefold()).strip()
    return _EDGES.sub("", text)


def classify(body: str) -> Reply:
    """OPT_OUT when the whole reply is an opt-out keyword, OPT_IN for start/unstop, else OTHER."""
    if len(body) > 40:  # a keyword reply is short; a long message is never one
        return Reply.OTHER
    word = normalise(body)
    if word in OPT_OUT_KEYWORDS:
        return Reply.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return Reply.OPT_IN
    return Reply.OTHER


def is_opt_out(body: str) -> bool:
    """Whether `body` is a STOP-style reply (see the module docstring for the exact rule)."""
    return classify(body) is Reply.OPT_OUT
