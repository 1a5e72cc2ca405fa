"""Loading a recipients CSV into a new campaign: plan it, then COPY it in one transaction.

`campaigner create` and `campaigner send` both load through here, so a campaign made either way is
the same: the suppression list applied, the preview stored with it, nothing left behind on an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from campaigner.config import Config
from campaigner.errors import UserError
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import FrequencyCap
from campaigner.planning.planner import Planner, PlanOptions, Preview
from campaigner.store.store import Store
from campaigner.text.links import CodeSource


class NothingToSend(UserError):
    """Every row of the file was set aside: no campaign is made. Carries the preview, which says why."""

    def __init__(self, preview: Preview) -> None:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in preview.rejection_counts().items())
        super().__init__(
            f"{preview.file}: nothing to send: "
            + (
                f"all {preview.rows:,} rows were set aside"
                if preview.rows != 1
                else "its one row was set aside"
            )
            + (f" ({reasons})" if reasons else "")
            + "; no campaign was created"
        )
        self.preview = preview


@dataclass(frozen=True, slots=True)
class CampaignSource:
    """What the user said a new campaign is made of."""

    recipients: Path
    message: str
    message_source: str
    name: str | None = None
    region: str | None = None
    phone_column: str | None = None
    encoding: str | None = None
    smart_encoding: bool = False
    send_at: datetime | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    strict: bool = False  # a row a stray quote may have merged is an error, not a warning
    footer: str | None = None  # the opt-out footer: None from [compliance], "" none (--no-footer)
    # Message validity (--valid-for / --valid-until; at most one of them): jobs not sent by then
    # expire. Neither: [dispatcher] valid_for, if set.
    valid_for: timedelta | None = None
    valid_until: datetime | None = None
    priority: int = 10  # --priority: its share under [dispatcher] fairness = "priority"

    def validity(self, config: Config) -> tuple[timedelta | None, datetime | None]:
        """(valid_for, valid_until) as the campaign stores them: this source's, else the config's."""
        if self.valid_for is not None or self.valid_until is not None:
            return self.valid_for, self.valid_until
        default = config.dispatcher.valid_for_seconds()
        return (timedelta(seconds=default) if default is not None else None), None

    def validity_seconds(self, config: Config) -> float | None:
        """How long the messages stay valid once sending starts (the send time, or now)."""
        valid_for, valid_until = self.validity(config)
        if valid_for is not None:
            return valid_for.total_seconds()
        if valid_until is not None:
            start = self.send_at or datetime.now(UTC)
            return max(0.0, (valid_until - start).total_seconds())
        return None

    # `--link NAME=URL`: the URLs `{link:NAME}` placeholders shorten.
    links: tuple[tuple[str, str], ...] = ()

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        """The send window (recipient-local), or None to send at any time."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end

    def plan_options(self, config: Config | None = None) -> PlanOptions:
        """How the planner reads this source (the preview and the load plan it alike); with
        `config`, the validity the preview warns about includes the config's default."""
        return PlanOptions(
            valid_for_seconds=self.validity_seconds(config) if config is not None else None,
            csv_path=self.recipients,
            message=self.message,
            message_source=self.message_source,
            region=self.region,
            phone_column=self.phone_column,
            encoding=self.encoding,
            smart_encoding=self.smart_encoding,
            strict=self.strict,
            footer=self.footer,
            links=dict(self.links),
        )


async def load_campaign(store: Store, config: Config, source: CampaignSource) -> tuple[int, Preview]:
    """Create the campaign (`draft`, or `scheduled` with a send time) and return its id and preview.

    NothingToSend, and no campaign, when no row of the file can be sent.
    """
    options = source.plan_options(config)
    valid_for, valid_until = source.validity(config)
    region = source.region if source.region is not None else config.recipients.default_region
    spec = NewCampaign(
        name=source.name or source.recipients.stem,
        message=source.message,
        provider_account=config.provider.account,
        sender=config.provider.sender,
        region=region.upper(),
        smart_encoding=source.smart_encoding,
        send_at=source.send_at,
        quiet_start=source.quiet_start,
        quiet_end=source.quiet_end,
        currency=config.pricing.currency,
        valid_for=valid_for,
        valid_until=valid_until,
        priority=source.priority,
    )
    sender = config.provider.sender
    consented = await store.consented_numbers(sender) if config.consent.require_opt_in else None
    cap = config.compliance.frequency_cap_limit()
    capped = (
        await store.capped_numbers(config.provider.account, FrequencyCap(*cap))
        if cap is not None
        else frozenset()
    )
    planner = Planner(
        config, options, await store.suppressed_numbers(sender), capped=capped, consented=consented
    )

    def totals() -> CampaignTotals:
        preview = planner.preview
        if preview.sendable == 0:
            raise NothingToSend(preview)  # inside the load's transaction: it rolls back
        return CampaignTotals(preview.sendable, preview.cost_total, preview.model_dump(mode="json"))

    campaign_id = await store.create_campaign(
        spec,
        planner.batches(),
        totals,
        scheduled=source.send_at is not None,
        require_opt_in=config.consent.require_opt_in,
        new_code=CodeSource(config.links.code_length).next,
    )
    return campaign_id, planner.preview
