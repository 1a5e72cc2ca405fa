"""Confirmation replies: which text answers a STOP, a START or a HELP, in which language, at what price.

The texts are `compliance.opt_out_reply`, `opt_in_reply` and `help_reply`: one text for every
language, or a table of language code -> text with `default` for the languages it does not name.
Empty (the default) means no reply of that kind. A config carries one provider account, so each
account has its own texts. The language is that of the keyword the person sent
(`inbound/stopwords.py`: "ARRET" is French, "STOP" English).

When a reply is owed (decided in the transaction that keeps the inbound message,
`store/inbound.py` record_replies): an opt-out confirmation only for the STOP that put the number
on the list (a second STOP of a listed number gets none), an opt-in confirmation only for the
START that took it off, and the HELP text for a HELP. A HELP or opt-in reply to a number that is
(still) opted out is never sent: the outbox row is skipped when claimed (`claim-replies`).
"""

from __future__ import annotations

from campaigner.config import ComplianceSettings, Config, ReplyText
from campaigner.inbound.stopwords import Keywords, Reply
from campaigner.model.inbound import ReplyDraft
from campaigner.text.segments import count_segments


def pick(text: ReplyText, language: str) -> str:
    """The text of `language` (else `default`, else English) from a reply setting; "" for none."""
    if isinstance(text, str):
        return text.strip()
    for key in (language, "default", "en"):
        if text.get(key, "").strip():
            return text[key].strip()
    return ""


class Confirmations:
    """The replies of one account's config."""

    def __init__(self, config: Config) -> None:
        self.settings: ComplianceSettings = config.compliance
        self._pricing = config.pricing
        self.keywords = Keywords(
            {
                "opt_out": self.settings.opt_out_keywords,
                "opt_in": self.settings.opt_in_keywords,
                "help": self.settings.help_keywords,
            },
            fuzzy=self.settings.fuzzy_keywords,
        )

    def text(self, kind: str, language: str) -> str:
        """The configured text answering `kind` in `language`; "" when that reply is off."""
        setting = {
            Reply.OPT_OUT: self.settings.opt_out_reply,
            Reply.OPT_IN: self.settings.opt_in_reply,
            Reply.HELP: self.settings.help_reply,
        }.get(Reply(kind))
        return "" if setting is None else pick(setting, language)

    def draft(self, kind: str, language: str, country: str | None) -> ReplyDraft | None:
        """The reply owed for `kind`, priced for `country`; None when that reply is off."""
        body = self.text(kind, language)
        if not body:
            return None
        segments = count_segments(body).segments
        cost = self._pricing.per_segment(country) * segments
        return ReplyDraft(kind, language, body, segments, country, cost)
