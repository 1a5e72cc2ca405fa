"""The figures of `campaigner report`: a campaign's outcome for a manager, from `observe.facts`.

    report = await read_report(store, config, campaign_id)
    report.to_json()      # numbers as numbers, times ISO 8601 (the json format, and the others' source)
    report.csv_rows()     # (section, item, measure, value): one tidy table a spreadsheet can pivot

Totals, cost (the preview's estimate, the estimate of what was sent, and what the provider reported
for the messages it priced), delivery latency p50/p95/p99, and the per-country and per-error tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from campaigner.cli.formats import neutralise
from campaigner.config import Config
from campaigner.model.campaigns import ReportedCosts
from campaigner.model.states import SENT_STATES
from campaigner.observe.facts import CampaignFacts, campaign_facts
from campaigner.store.store import Store

# The totals a report lists, in this order.
TOTALS = (
    *("sent", "delivered", "undelivered", "rejected", "skipped", "cancelled", "expired"),
    *("pending", "sending"),
)
# The campaign's own facts a report repeats at its head.
_CAMPAIGN_KEYS = (
    *("id", "name", "state", "reason", "message", "sender", "region", "provider_account"),
    *("quiet_hours", "send_at", "created_at", "started_at", "finished_at"),
)


@dataclass(frozen=True, slots=True)
class Report:
    facts: CampaignFacts
    reported: ReportedCosts

    def totals(self) -> dict[str, int]:
        counts = self.facts.live.counts
        out = {"recipients": self.facts.live.total, "sent": sum(counts.get(s, 0) for s in SENT_STATES)}
        out.update({state: counts.get(state, 0) for state in TOTALS[1:]})
        return out

    def delivery_ratio(self) -> float | None:
        """Delivered of the sent messages whose receipt has come (None before any has)."""
        totals = self.totals()
        final = totals["delivered"] + totals["undelivered"]
        return round(totals["delivered"] / final, 4) if final else None

    def to_json(self) -> dict[str, Any]:
        facts, live = self.facts, self.facts.live
        every = facts.to_json()
        return {
            "campaign": {key: every[key] for key in _CAMPAIGN_KEYS},
            "totals": self.totals(),
            "delivery_ratio": self.delivery_ratio(),
            "cost": {
                "currency": live.currency,
                "estimated": float(live.estimated_cost),
                "estimated_of_sent": float(live.cost_so_far),
                "reported": float(self.reported.reported),
                "reported_messages": self.reported.messages,
                "estimated_of_reported": float(self.reported.estimated),
                "more_segments_than_estimated": self.reported.more_segments,
            },
            "latency_seconds": {
                "delivered": facts.latency.delivered,
                "p50": facts.latency.p50,
                "p95": facts.latency.p95,
                "p99": facts.latency.p99,
            },
            "countries": every["countries"],
            "errors": every["last_errors"],
            # The short links' clicks (None when the message has no links).
            "clicks": every["clicks"],
        }

    def csv_rows(self) -> Iterator[tuple[str, str, str, Any]]:
        """The report as (section, item, measure, value) rows; texts are made inert for
        spreadsheets (a name or message starting with = does not become a formula)."""
        for section, item, measure, value in self._rows():
            yield section, neutralise(item), measure, neutralise(value) if isinstance(value, str) else value

    def _rows(self) -> Iterator[tuple[str, str, str, Any]]:
        data = self.to_json()
        for key, value in data["campaign"].items():
            if key != "quiet_hours":
                yield "campaign", "", key, "" if value is None else value
        hours = data["campaign"]["quiet_hours"]
        yield "campaign", "", "quiet_hours", f"{hours['start']}-{hours['end']}" if hours else ""
        for key, value in data["totals"].items():
            yield "totals", "", key, value
        yield "totals", "", "delivery_ratio", "" if data["delivery_ratio"] is None else data["delivery_ratio"]
        for key, value in data["cost"].items():
            yield "cost", "", key, value
        for key, value in data["latency_seconds"].items():
            yield "latency_seconds", "", key, "" if value is None else value
        for line in data["countries"]:
            for key in ("sent", "delivered", "undelivered", "rejected", "cost"):
                yield "country", line["country"] or "unknown", key, line[key]
        for error in data["errors"]:
            item = error["code"] or error["error_class"] or ""
            yield "error", item, f"{error['state']}_jobs", error["jobs"]
        clicks = data["clicks"]
        if clicks:
            for key in ("links", "clicks", "unique_clickers", "repeat_clicks", "bot_clicks", "delivered"):
                yield "clicks", "", key, clicks[key]
            rate = clicks["click_through_rate"]
            yield "clicks", "", "click_through_rate", "" if rate is None else rate
            for line in clicks["by_country"]:
                for key in ("clicks", "unique_clickers", "click_through_rate"):
                    value = line[key]
                    yield "clicks_country", line["country"] or "unknown", key, "" if value is None else value
            for point in clicks["timeline"]:
                yield "clicks_minute", point["minute"], "clicks", point["clicks"]


async def read_report(store: Store, config: Config, campaign_id: int) -> Report:
    """Everything `report` shows of one campaign (a handful of queries, one scan for the reported
    costs); NotFoundError for an unknown id."""
    facts = await campaign_facts(store, config, campaign_id)
    return Report(facts, await store.reported_costs(campaign_id))
