"""Loading a recipients CSV into a new campaign: plan it, then COPY it in one transaction.

`campaigner create` and `campaigner send` both load through here, so a campaign made either way is
the same: the suppression list applied, the preview stored with it, nothing left behind on an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from campaigner.config import Config
from campaigner.errors import UserError
from campaigner.model.campaigns import CampaignTotals, NewCampaign
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
    # `--link NAME=URL`: the URLs `{link:NAME}` placeholders shorten.
    links: tuple[tuple[str, str], ...] = ()

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        """The send window (recipient-local), or None to send at any time."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end

    def plan_options(self) -> PlanOptions:
        """How the planner reads this source (the preview and the load plan it alike)."""
        return PlanOptions(
            csv_path=self.recipients,
            message=self.message,
            message_source=self.message_source,
            region=self.region,
            phone_column=self.phone_column,
            encoding=self.encoding,
            smart_encoding=self.smart_encoding,
            strict=self.strict,
            links=dict(self.links),
        )


async def load_campaign(store: Store, config: Config, source: CampaignSource) -> tuple[int, Preview]:
    """Create the campaign (`draft`, or `scheduled` with a send time) and return its id and preview.

    NothingToSend, and no campaign, when no row of the file can be sent.
    """
    options = source.plan_options()
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
    )
    planner = Planner(config, options, await store.suppressed_numbers())

    def totals() -> CampaignTotals:
        preview = planner.preview
        if preview.sendable == 0:
            raise NothingToSend(preview)  # inside the load's transaction: it rolls back
        return CampaignTotals(
            preview.sendable, preview.cost_total, preview.model_dump(mode="json")
        )

    campaign_id = await store.create_campaign(
        spec,
        planner.batches(),
        totals,
        scheduled=source.send_at is not None,
        new_code=CodeSource(config.links.code_length).next,
    )
    return campaign_id, planner.preview
