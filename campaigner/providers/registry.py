"""Provider types → client classes, and what follows from a type's capabilities alone.

    provider = make_provider(config.provider, status_callback_url=...)
    capabilities_of(config.provider.type).lists_numbers

The only place that names the provider types; everywhere else asks a client's `capabilities`.
Client modules are imported on first use, so asking about one type loads no other.
"""

from __future__ import annotations

import importlib
from typing import Any

from campaigner.config import ProviderConfig
from campaigner.errors import ProviderError
from campaigner.providers.base import Capabilities, Provider

# type → (module, class)
CLIENTS: dict[str, tuple[str, str]] = {
    "cliqtel": ("campaigner.providers.cliqtel", "CliqtelProvider"),
    "clickatell": ("campaigner.providers.clickatell", "ClickatellProvider"),
    "clicksend": ("campaigner.providers.clicksend", "ClickSendProvider"),
}


def client_class(provider_type: str) -> Any:
    """The client class of `provider_type`; ProviderError naming provider.type for an unknown one."""
    try:
        module, name = CLIENTS[provider_type]
    except KeyError:
        raise ProviderError(f"provider.type: unknown provider {provider_type!r}") from None
    return getattr(importlib.import_module(module), name)


def capabilities_of(provider_type: str) -> Capabilities:
    """What a `provider_type` client declares it can do."""
    capabilities: Capabilities = client_class(provider_type).capabilities
    return capabilities


def provider_batch(config: ProviderConfig) -> int:
    """Numbers one request of the configured client carries (make_provider builds it so)."""
    capabilities = capabilities_of(config.type)
    if capabilities.max_batch == 1:
        return 1
    explicit = "recipients_per_request" in config.model_fields_set
    wanted = config.recipients_per_request if explicit else capabilities.default_batch
    return max(1, min(wanted, capabilities.max_batch))


def recipients_per_request(config: ProviderConfig) -> int:
    """Numbers one request carries when sent: the client's batch, within the per-second limit."""
    return max(1, min(provider_batch(config), int(config.messages_per_second)))


def make_provider(config: ProviderConfig, *, status_callback_url: str | None = None) -> Provider:
    """The client for `config.type`; reads its API key from the environment (ConfigError if unset).

    Nothing touches the network until the first call. `status_callback_url` is sent with each
    message where the client takes one (`callback_per_message`). A batching client carries
    `provider_batch(config)` numbers a request.
    """
    cls = client_class(config.type)
    if cls.capabilities.max_batch > 1:
        client: Provider = cls(
            config, status_callback_url=status_callback_url, max_recipients=provider_batch(config)
        )
    else:
        client = cls(config, status_callback_url=status_callback_url)
    return client
