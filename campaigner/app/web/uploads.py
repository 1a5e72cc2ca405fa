"""A new campaign's form as the API takes it: multipart/form-data with the CSV and the options.

    async with received_campaign(request, limit) as form:
        form.source(...)    # a CampaignSource, checked as the CLI checks its options

The CSV is streamed to a file of a private temporary folder under its own (base) name, so the
planner's errors name it as the user knows it ("people.csv: line 3, column 2: ..."); the folder is
removed afterwards. Every problem is a FieldError naming the field.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import BodyPartReader, web

from campaigner.app.loading import CampaignSource
from campaigner.app.source_checks import checked_message, parse_quiet_hours, parse_send_at, parse_validity
from campaigner.config import Config, region_problem
from campaigner.dispatch.fair_share import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from campaigner.errors import UserError
from campaigner.text.links import parse_link_options

FILE_FIELD = "recipients"
# Repeatable, as `--link NAME=URL` is: one field a link.
LINK_FIELD = "link"
_MAX_LINKS = 100
TEXT_FIELDS = (
    "message",
    "name",
    "region",
    "phone_column",
    "encoding",
    "smart_encoding",
    "strict",
    "send_at",
    "quiet_hours",
    "footer",
    "no_footer",
    "valid_for",
    "valid_until",
    "account",
    "priority",
)
_MAX_FIELD = 64 * 1024  # a message or option: far more than any SMS
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FieldError(UserError):
    """A request field is missing or wrong; `field` names it (as the API documents it)."""

    def __init__(self, field_name: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field_name
        self.status = status


@dataclass
class CampaignForm:
    """The fields of one request, and the CSV saved to `path`."""

    folder: Path
    fields: dict[str, str] = field(default_factory=dict)
    # `link` fields, as many as given: NAME=URL, the URL a {link:NAME} of the message shortens.
    links: list[str] = field(default_factory=list)
    path: Path | None = None
    file_digest: str = ""

    def tidy(self, text: str) -> str:
        """`text` naming the CSV as it was sent (people.csv), not where it was saved."""
        return text.replace(f"{self.folder}/", "")

    def input_error(self, error: UserError) -> FieldError:
        """A planning or loading error as a FieldError: the message's or the CSV's."""
        text = self.tidy(str(error))
        return FieldError("message" if text.startswith("message") else FILE_FIELD, text)

    def flag(self, name: str) -> bool:
        value = self.fields.get(name, "false").strip().lower()
        if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise FieldError(name, f"{name}: {value!r} is not true or false")
        return value in ("true", "1", "yes", "on")

    def account_config(self, config: Config) -> Config:
        """`config` as the provider account the `account` field names sees it (absent: the default)."""
        name = (self.fields.get("account") or "").strip()
        if not name or name == config.provider.account:
            return config
        if name not in config.account_names():
            known = ", ".join(config.account_names())
            raise FieldError("account", f"account: {name!r} is not a provider account here ({known})")
        return config.for_account(name)

    def source(self) -> CampaignSource:
        """A CampaignSource, every option checked with the CLI's checks and words."""
        if self.path is None:
            raise FieldError(FILE_FIELD, f"{FILE_FIELD}: the CSV file is missing (a multipart file field)")
        if "message" not in self.fields:
            raise FieldError("message", "message: the message text is missing")
        try:
            message = checked_message(self.fields["message"], "message")
        except UserError as exc:
            raise FieldError("message", str(exc)) from None
        region = self.fields.get("region") or None
        if region is not None and (problem := region_problem(region)):
            raise FieldError("region", f"region: {problem}")
        try:
            send_at = parse_send_at(self.fields.get("send_at") or None, "send_at")
        except UserError as exc:
            raise FieldError("send_at", str(exc)) from None
        try:
            quiet_start, quiet_end = parse_quiet_hours(self.fields.get("quiet_hours") or None, "quiet_hours")
        except UserError as exc:
            raise FieldError("quiet_hours", str(exc)) from None
        valid_for_text, valid_until_text = (
            self.fields.get("valid_for") or None,
            self.fields.get("valid_until") or None,
        )
        try:
            valid_for, valid_until = parse_validity(
                valid_for_text, valid_until_text, send_at, ("valid_for", "valid_until")
            )
        except UserError as exc:
            raise FieldError("valid_for" if valid_for_text else "valid_until", str(exc)) from None
        try:
            links = tuple(parse_link_options(self.links).items())
        except UserError as exc:
            raise FieldError(LINK_FIELD, str(exc).replace("--link", LINK_FIELD, 1)) from None
        return CampaignSource(
            recipients=self.path,
            links=links,
            message=message,
            message_source="message",
            name=self.fields.get("name") or None,
            region=region,
            phone_column=self.fields.get("phone_column") or None,
            encoding=self.fields.get("encoding") or None,
            smart_encoding=self.flag("smart_encoding"),
            send_at=send_at,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            strict=self.flag("strict"),
            footer=self.footer(),
            valid_for=valid_for,
            valid_until=valid_until,
            priority=self.priority(),
        )

    def priority(self) -> int:
        """The `priority` field (as --priority): its share of the account's rate, 1-100."""
        text = (self.fields.get("priority") or "").strip()
        if not text:
            return DEFAULT_PRIORITY
        if not text.isdecimal() or not MIN_PRIORITY <= int(text) <= MAX_PRIORITY:
            raise FieldError(
                "priority", f"priority: {text!r} is not a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}"
            )
        return int(text)

    def footer(self) -> str | None:
        """The campaign's opt-out footer: None (the account's), "" (no_footer) or the text."""
        text = self.fields.get("footer")
        if self.flag("no_footer"):
            if text:
                raise FieldError("footer", "footer: give either footer or no_footer, not both")
            return ""
        if text is None:
            return None
        if any(ord(c) < 32 and c != "\n" for c in text):
            raise FieldError(
                "footer", "footer: must not contain control characters (a line break is allowed)"
            )
        if not text.strip():
            raise FieldError("footer", "footer: is empty (to send no footer, say no_footer=true)")
        return text.strip()

    def fingerprint_parts(self) -> list[str]:
        """What identifies this request's content, for its idempotency key."""
        fields = [f"{k}={v}" for k, v in sorted(self.fields.items())]
        return fields + [f"link={link}" for link in self.links] + [f"file={self.file_digest}"]


@asynccontextmanager
async def received_campaign(request: web.Request, limit: int) -> AsyncIterator[CampaignForm]:
    """The request's form, the CSV in a temporary folder removed on exit."""
    if not request.content_type.startswith("multipart/form-data"):
        raise FieldError(
            "body", "the request body must be multipart/form-data (the CSV as field 'recipients')", 415
        )
    folder = Path(tempfile.mkdtemp(prefix="campaigner-upload-"))
    try:
        form = CampaignForm(folder)
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise FieldError("body", "nested multipart bodies are not accepted")
            name = part.name or ""
            if name == FILE_FIELD:
                form.path, form.file_digest = await _save(part, folder, limit)
            elif name in TEXT_FIELDS or name == LINK_FIELD:
                data = await part.read(decode=False)
                if len(data) > _MAX_FIELD:
                    raise FieldError(name, f"{name}: longer than {_MAX_FIELD} bytes")
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise FieldError(name, f"{name}: not valid UTF-8") from None
                if name == LINK_FIELD:
                    if len(form.links) >= _MAX_LINKS:
                        raise FieldError(name, f"{name}: at most {_MAX_LINKS} link fields")
                    form.links.append(text)
                else:
                    form.fields[name] = text
            else:
                known = ", ".join((FILE_FIELD, *TEXT_FIELDS, LINK_FIELD))
                raise FieldError(name or "body", f"{name!r} is not a field of this request (fields: {known})")
        yield form
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _save(part: BodyPartReader, folder: Path, limit: int) -> tuple[Path, str]:
    name = _SAFE_NAME.sub("_", Path(part.filename or "recipients.csv").name).strip("._") or "recipients.csv"
    path = folder / name
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > limit:
                raise FieldError(
                    FILE_FIELD, f"{FILE_FIELD}: larger than api.max_upload_bytes ({limit:,} bytes)", 413
                )
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest()
