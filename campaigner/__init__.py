"""campaigner: bulk SMS campaigns, sent exactly once, as fast as the provider allows."""

__version__ = "0.1.0"
