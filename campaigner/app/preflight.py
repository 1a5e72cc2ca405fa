"""What is checked before a campaign sends anything: the sender belongs to the account, and the
balance covers what is left to send. `run`, `send`, `retry` and the daemon all check the same way.
"""

from __future__ import annotations

from decimal import Decimal

from campaigner.app.credits import CoverageSource, CreditPricer
from campaigner.config import ProviderConfig
from campaigner.errors import ProviderError, UserError
from campaigner.model.provider import SenderNumber
from campaigner.planning.pricing import format_money
from campaigner.providers.base import Provider
from campaigner.store.store import Store


def _listing(numbers: list[SenderNumber]) -> str:
    usable = [n.number for n in numbers if n.sms_enabled]
    shown = ", ".join(usable[:10]) + (f", … ({len(usable)} in all)" if len(usable) > 10 else "")
    return shown or "none"


async def check_sender(provider: Provider, config: ProviderConfig) -> SenderNumber:
    """The configured sender, checked against the account's SMS-enabled numbers before anything is sent.

    Raises ProviderError naming the sender and the numbers the account does have. A client that
    cannot list numbers (`capabilities.lists_numbers` false: Clickatell) gets the sender back
    unchecked; its sends then fail as ACCOUNT if the sender is wrong.
    """
    sender, sender_id = config.sender.strip(), config.sender_number_id
    if not provider.capabilities.lists_numbers:
        return SenderNumber(id=str(sender_id or ""), number=sender, sms_enabled=True)
    if not sender and sender_id is None:
        raise ProviderError("no sender configured: set provider.sender (E.164) or provider.sender_number_id")
    try:
        numbers = await provider.numbers()
    except ProviderError as exc:
        if "HTTP 403" in str(exc):
            # Say what the missing scope is for, before anything is sent (the API Reference's
            # least-privilege keys answer 403 insufficient_scope for any endpoint not covered).
            raise ProviderError(
                "the API key may not list the account's numbers (403 insufficient_scope), which is how "
                "the sender is checked before anything is sent: give the key the SMS read scope (the "
                "portal's Read-only preset has every *:read scope) besides the one to send"
            ) from None
        raise
    found = None
    for number in numbers:
        if (sender and number.number == sender) or (sender_id is not None and number.id == str(sender_id)):
            found = number
            break
    name = sender or f"number id {sender_id}"
    if found is None or not found.sms_enabled:
        raise ProviderError(
            f"sender {name} is not an SMS-enabled number of this account (numbers: {_listing(numbers)})"
        )
    if sender and sender_id is not None and (found.number != sender or found.id != str(sender_id)):
        raise ProviderError(
            f"provider.sender {sender} and provider.sender_number_id {sender_id} name different numbers"
        )
    return found


async def check_balance(
    provider: Provider, store: Store, campaign_id: int, allow_partial: bool
) -> str | None:
    """Refuse to start when the estimate of what is left to send is above the account's balance.

    Compares like with like: an account charged in credits (Clickatell) against the credits its
    coverage says the rest needs at least, any other against the estimate in the pricing currency.
    Returns a note for the user when the balance cannot be known or compared (then nothing is
    refused).
    """
    balance = await provider.balance()
    if balance is None:
        return "the account's balance is unknown (see provider.balance_path): not checked"
    campaign = await store.get_campaign(campaign_id)
    if provider.capabilities.prices_in_credits and isinstance(provider, CoverageSource):
        return await _check_credits(provider, store, campaign_id, balance.amount, allow_partial)
    left = campaign.estimated_cost - await store.cost_so_far(campaign_id)
    if balance.amount < left and not allow_partial:
        raise UserError(
            f"campaign {campaign_id} needs about {format_money(left, campaign.currency)} but the "
            f"balance is {format_money(balance.amount, balance.currency)}; top up, or pass --allow-partial "
            "to send until it runs out (the campaign then pauses)"
        )
    return None


async def _check_credits(
    provider: CoverageSource, store: Store, campaign_id: int, credits: Decimal, allow_partial: bool
) -> str | None:
    estimate = await CreditPricer(provider).estimate(await store.pending_segments_by_country(campaign_id))
    if credits < estimate.total and not allow_partial:
        raise UserError(
            f"campaign {campaign_id} needs at least {estimate.total:,.2f} credits (the minimum charge "
            f"coverage gives, per part) but the balance is {credits:,.2f} credits; top up, or pass "
            "--allow-partial to send until it runs out (the campaign then pauses)"
        )
    if estimate.unpriced:
        reasons = "; ".join(f"{country}: {why}" for country, why in sorted(estimate.unpriced.items()))
        return f"credits not estimated for some countries, the balance check covers the others ({reasons})"
    return None


__all__ = ["check_balance", "check_sender"]
