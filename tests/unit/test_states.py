"""The state machines in campaigner.model.states are the ones the database's triggers enforce."""

from __future__ import annotations

import re
from importlib import resources

from campaigner.model.states import CAMPAIGN_TRANSITIONS, JOB_TRANSITIONS, CampaignState, JobState

MIGRATIONS = resources.files("campaigner") / "sql" / "migrations"


def pairs(table: dict) -> set[tuple[str, str]]:
    return {(str(source), str(target)) for source, targets in table.items() for target in targets}


def test_campaign_transitions_match_the_trigger() -> None:
    text = (MIGRATIONS / "0001_schema.sql").read_text(encoding="utf-8")
    body = text[text.index("campaigner_campaign_transition()") :]
    array = body[body.index("ARRAY[") : body.index("])")]
    found = {tuple(p.split(">")) for p in re.findall(r"'([a-z]+>[a-z]+)'", array)}
    assert found == pairs(CAMPAIGN_TRANSITIONS)


def test_job_transitions_match_the_trigger() -> None:
    # The newest definition of the check: 0014 replaced 0011's, which replaced 0005's and 0001's.
    text = (MIGRATIONS / "0014_caps_and_expiry.sql").read_text(encoding="utf-8")
    body = text[text.index("campaigner_check_job_transition") :]
    literal = body[body.index("'{") : body.index("}'")]
    found = {tuple(p.strip().split(">")) for p in literal.strip("'{").split(",")}
    assert found == pairs(JOB_TRANSITIONS)


def test_every_state_has_a_row() -> None:
    assert set(JOB_TRANSITIONS) == set(JobState)
    assert set(CAMPAIGN_TRANSITIONS) == set(CampaignState)
