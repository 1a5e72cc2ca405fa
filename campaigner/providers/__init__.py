"""Provider clients behind one interface (`base.Provider`): build one with `make_provider`.

provider = make_provider(config.provider, status_callback_url="https://me.example/webhooks/status")
try:
    await check_sender(provider, config.provider)   # before a campaign starts
    results = await provider.send([OutboundMessage(ref=1, to="+31612345678", body="Hi")])
finally:
    await provider.close()
"""

from __future__ import annotations

from campaigner.config import ProviderConfig
from campaigner.dispatch.request_sizing import provider_batch
from campaigner.errors import ProviderError
from campaigner.providers.base import Provider, SenderNumber


def make_provider(config: ProviderConfig, *, status_callback_url: str | None = None) -> Provider:
    """The client for `config.type`; reads its API key from the environment (ConfigError if unset).

    Nothing touches the network until the first call. `status_callback_url` is sent with each
    message where the provider takes one (Cliqtel). Clickatell batches up to
    min(provider.recipients_per_request, 500) numbers per request, 500 when the setting is not given.
    """
    if config.type == "cliqtel":
        from campaigner.providers.cliqtel import CliqtelProvider

        return CliqtelProvider(config, status_callback_url=status_callback_url)
    if config.type == "clickatell":
        from campaigner.providers.clickatell import ClickatellProvider

        return ClickatellProvider(
            config, status_callback_url=status_callback_url, max_recipients=provider_batch(config)
        )
    if config.type == "clicksend":
        from campaigner.providers.clicksend import ClickSendProvider

        return ClickSendProvider(config, status_callback_url=status_callback_url)
    raise ProviderError(f"provider.type: unknown provider {config.type!r}")


def _listing(numbers: list[SenderNumber]) -> str:
    usable = [n.number for n in numbers if n.sms_enabled]
    shown = ", ".join(usable[:10]) + (f", … ({len(usable)} in all)" if len(usable) > 10 else "")
    return shown or "none"


async def check_sender(provider: Provider, config: ProviderConfig) -> SenderNumber:
    """The configured sender, checked against the account's SMS-enabled numbers before anything is sent.

    Raises ProviderError naming the sender and the numbers the account does have. A provider that
    cannot list numbers (Clickatell: `lists_numbers = False`) gets the sender back unchecked; its
    sends then fail as ACCOUNT if the sender is wrong.
    """
    sender, sender_id = config.sender.strip(), config.sender_number_id
    if not getattr(provider, "lists_numbers", True):
        return SenderNumber(id=str(sender_id or ""), number=sender, sms_enabled=True)
    if not sender and sender_id is None:
        raise ProviderError("no sender configured: set provider.sender (E.164) or provider.sender_number_id")
    numbers = await provider.numbers()
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


__all__ = ["check_sender", "make_provider"]
