"""Cliqtel's errors as its documents show them, mapped onto the taxonomy.

The reference ("SMS API Reference", Error Handling) lists 401 unauthenticated, 404 not_found,
422 number_not_found, 422 validation_error, 429 rate_limited and 500 send_failed "Carrier rejected
the message"; the guide's troubleshooting table adds the portal's texts. Only an error about the
job's own message rejects the job; anything shared by every job pauses the campaign.
"""

from __future__ import annotations

import pytest

from campaigner.model.provider import Outcome
from campaigner.providers.errors import cliqtel_verdict

A, R, F, T, AM, TH = (
    Outcome.ACCOUNT, Outcome.RECIPIENT, Outcome.FUNDS, Outcome.TRANSIENT, Outcome.AMBIGUOUS, Outcome.THROTTLED
)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "code", "fields", "text", "outcome", "if_absent"),
    [
        (401, "unauthenticated", (), "Missing or invalid API key", A, None),
        (403, "insufficient_scope", (), None, A, None),
        (404, "not_found", (), "Message or number not found", A, None),
        (422, "number_not_found", (), "From number not found, inactive, or SMS not enabled", A, None),
        (422, "validation_error", ("to",), "The to field must be E.164", R, None),
        (422, "validation_error", ("body",), "The body may not be greater than 1600", R, None),
        (422, "validation_error", ("to", "body"), None, R, None),
        # A field every job shares: the campaign's problem, not one job's.
        (422, "validation_error", ("status_callback_url",), None, A, None),
        (422, "validation_error", ("from",), None, A, None),
        (422, "validation_error", ("to", "from_number_id"), None, A, None),
        (422, "validation_error", (), "Missing or invalid request parameters", A, None),
        (422, "something_new", (), None, A, None),
        (400, "bad_request", (), None, A, None),
        (429, "rate_limited", (), None, TH, None),
        (402, "insufficient_balance", (), None, F, None),
        # May have been stored, or refused: looked up, and rejected only when absent.
        (500, "send_failed", (), "Carrier rejected the message", AM, R),
        (500, None, (), "Server Error", AM, None),
        (502, None, (), None, AM, None),
        (504, None, (), None, AM, None),
        (503, "service_unavailable", (), None, T, None),
        (503, None, (), None, T, None),
        # The portal envelope: {"success": false, "message": ...} inside a 2xx has no code.
        (422, None, (), "Insufficient wallet balance", F, None),
        (422, None, (), "Failed to send SMS", AM, R),
        (422, None, (), "SMS not available for this number type", A, None),
    ],
)
def test_documented_errors(
    status: int,
    code: str | None,
    fields: tuple[str, ...],
    text: str | None,
    outcome: Outcome,
    if_absent: Outcome | None,
) -> None:
    verdict = cliqtel_verdict(status, code, fields, text)
    assert (verdict.outcome, verdict.if_absent) == (outcome, if_absent)
